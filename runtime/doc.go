// Package runtime is rclua's script host: it loads every *.lua file of a
// folder, runs each in its own sandboxed Lua state with the rc table from
// luabind, runs the triggers the scripts register, feeds them the events
// of its sources, and hot-reloads a script when its file changes. It never
// speaks HTTP itself. Only runtime/cli imports it (its name shadows the
// standard library's: files here import that one as goruntime).
//
// The host is built from narrow parts, each in its own package:
// runtime/sandbox makes a fresh allowlisted *lua.LState with its limits;
// runtime/watch reports a folder's script files as they change (a folder
// in, changes to a sink out); runtime/source holds the event sources
// (a client in, events to an emit function out). The host implements
// luabind.Host for each script state, so luabind owns the whole Lua API and
// the host only decides when triggers fire.
//
// # Actors
//
// Each script is one actor: one goroutine owning the *lua.LState of the
// script's running version (and of a version being loaded). Timers and
// events reach it as messages on a queue of Config.QueueLen events (see
// Events and sources for what takes a place). Nothing is dropped while
// the script runs: when the places are taken the source waits for the script
// to take an event (counted in Status Waits, warned once per backlog),
// so a slow script slows its sources down; a waiting source still stops
// at shutdown, and a script that stops frees the sources waiting for it.
// A timer has at most one tick queued (ticks take no event place): ticks
// of a handler slower than its period coalesce instead of filling the
// queue. Load requests and stop requests travel beside the
// queue and take priority over queued events; a newer load request
// replaces a pending one.
//
// # Events and sources
//
// An event is the host's own type, source.Event{Kind, Action, ID, Raw}:
// rc types never reach the actors. Deps.Sources are started by the host
// while at least one running script has an rc.on handler for one of their
// kinds, and stopped when the last such script stops listening (its file
// removed, or a new version without the handler), never before the
// initial load is over, so what a source emits at its start (the catch-up
// after a restart) reaches every script, however slow its top level; a
// source started again (a listener back after none) resumes from the
// cursor it saved when it has one (see package source), else begins
// afresh. A source whose Run fails (rather than ending with its context)
// stops the host: Run returns its error. Handlers get their
// arguments from luabind.EventArgs, a fresh conversion of Raw for each.
// rc.hear and rc.respond are handlers of "message" events (luabind
// filters and matches inside them). A handle's stop (registry.Register's
// func) marks its trigger: the actor skips it from then on, for events and
// ticks, and a stopped timer's goroutine ends; a script still counts as
// listening to the kind of a stopped handler until its next load.
//
// A backlog delivers only the newest state of each object, and holds one
// place per object: an "updated" event merges into the newest queued
// event about the same object (kind and ID) when that one is "inserted" or
// "updated": the queued event keeps its action and its place in the queue
// and takes the newer snapshot (counted in Status Coalesced, logged at
// debug level). So a subscription inserted then changed is one "inserted"
// with its newest state, and a burst of changes to n subscriptions takes
// n places however many changes there are. "inserted" and "removed"
// events always take a place of their own and nothing merges across them:
// "updated" then "removed" runs both, and "removed" then "inserted" (a
// subscription gone and back) too. The first queued event about an object
// goes in even past Config.QueueLen, so the queue is bounded by the
// distinct objects plus QueueLen events that could not merge, and only
// those make a source wait (every script's events wait with it: one
// source feeds them all). Timer ticks coalesce separately (see Actors).
//
// # Deadlines and limits
//
// The sandbox and its limits are package runtime/sandbox's. The host runs
// the top level under Config.LoadTimeout (5s) and every handler call under
// Config.HandlerTimeout (30s), through L.SetContext; a handler stopped at
// its deadline is counted (Timeouts) and logged with the script and
// trigger, and the script handles its next event. A call stopped this way
// fails with its file:line and the cause, not gopher-lua's "context
// deadline exceeded": "loop.lua:1: stopped: the top level ran longer than
// the load timeout (5s)", "...: stopped: the handler ran longer than the
// handler timeout (30s)", or for a call stopped at shutdown "...: stopped:
// the daemon is shutting down" (Exec says "exec timeout" and
// "interrupted"). errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) holds for such errors. A script registers at most 1000
// triggers. Go panics in functions called from Lua are recovered by PCall
// and logged as handler errors.
//
// Memory a script builds itself, one VM instruction at a time (strings
// kept in a growing table, huge tables), is bounded by a watchdog, since gopher-lua has
// no allocation quota: while a handler or load runs, one goroutine samples
// the Go heap every 25ms (runtime/metrics
// "/memory/classes/heap/objects:bytes", no stop-the-world); while none runs
// it sleeps without waking up. Above Config.MemoryLimit (default 1 GiB;
// negative turns it off) it collects garbage (at most once a second) and,
// if the heap is still over, stops every handler and top-level load
// running at that moment through the guard each actor keeps for its
// running call; once the stopped calls have unwound it collects again and
// returns the memory to the OS. A stopped handler fails with
// "file:line: memory limit exceeded (1.0 GiB heap): handler stopped", is
// logged once with the script and trigger and counted in Errors; the script
// stays loaded and handles its next event. A stopped load fails like any
// failed load ("... load stopped") and an older version keeps running. The
// limit is the whole process's heap, not a per-script quota: every call
// running when it is crossed is stopped, and one allocation (a
// concatenation) may overshoot it. While stopped calls unwind (at most 1s)
// nothing more is stopped. Memory a script keeps across calls (globals,
// upvalues) survives that stop: when the heap is over again within 30s of
// one, each actor measures what its running version holds (between calls,
// a bounded walk of its state: statesize.go) and the script holding the
// most, if at least 1/16 of the limit, has its version closed (StateFailed,
// the size in LastError; an edit or ReloadAll loads it again) instead of
// other scripts' handlers being stopped. With no such script, calls keep
// being stopped while the heap stays over, and the log says the memory is
// held by loaded scripts.
//
// Not bounded: Exec and Check run without the memory watchdog.
//
// # Triggers
//
// luabind checks rc.on, rc.every and rc.cron and hands each registration
// to the version's registry, which refuses one made after the top level
// ran or beyond the limit. Each timer is a goroutine of its version; a
// tick of a replaced version is ignored. rc.every first fires one
// interval after the load; rc.cron at the next matching time.
//
// # Hot reload
//
// runtime/watch reports a script whose content changed (or is gone); see
// its package doc for what counts as a script, the debounce and the
// rescan. Content identical to what was last handed to the script (loaded
// or failed) is not reported again, so a broken edit is logged once and not
// retried until the content changes. The actor also skips content equal
// to its running version (a broken edit undone) and keeps its running
// version when the file is empty (a truncation before a write). ReloadAll
// (SIGHUP) reloads every script even with unchanged content.
//
// A load builds a fresh state, opens the bindings, runs the top level and
// only on success replaces the running version. With a version running,
// the new top level runs on a goroutine of its own (a trial, with a call
// guard of its own) while the actor goes on handling events and ticks
// with the running version, so a slow or looping edit never holds the
// script up; the swap happens on the actor's goroutine, between two
// handlers, so a handler of the old version that is running finishes
// (within its deadline) before the old state closes; a reload never
// cancels it. The old version's timers stop, and queued events go to the
// new version. A failed load keeps the old version running (state stays
// "running", LastError set); without an old version the state is "failed".
//
// # Modules, settings and secrets
//
// require("name") loads LibDir/name.lua of the scripts folder into the
// requiring script's state ("sub.name": lib/sub/name.lua); only dotted
// identifiers are accepted and a path resolving outside lib/ through a
// symlink is refused. Each load records the module files the script looked
// for (found or not); a change of one (the watcher sees lib/ at any depth)
// reloads those scripts with their newest content, under the usual rule
// that a failed load keeps the running version. A reload's trial also
// requires again, after the new top level, the modules the running
// version loaded (in its handlers too; for an edited script, those its
// source still requires by a constant name), so a broken module keeps the
// running version whether it was required at the top level or in a
// handler. Files under lib/ are never scripts.
//
// SettingsFile (rclua.toml, TOML) holds a section per script name, given
// to luabind as the script's rc.config. The settings are read before the
// scripts at start; an edit reloads only the scripts whose section changed,
// and a file that does not parse keeps the previous settings (logged once
// per content). rc.secret gives a name the script's section lists in
// secrets: RCLUA_SECRET_<NAME> (Deps.Getenv), else the file <name> of
// Config.SecretsDir (regular, at most MaxSecretBytes, one final newline
// dropped). Every value a script has read is redacted from the errors the
// host logs and keeps in Status, and luabind redacts it from rc.log and
// print. Exec reads the lib/ and settings beside its script; Check compiles
// every module, parses the settings file (a section naming no script of
// the folder is an error) and gives placeholders for allowed secrets.
//
// # Logging and status
//
// Each script logs through a sub-logger with a "script" field (also given
// to luabind for rc.log and print). Lua errors are logged with "error"
// (file:line: message) and "traceback"; every successful load or reload
// and every failed load logs one line. Status lists every script seen,
// with stopped ones kept; Running names the calls running now (script,
// trigger label, start): what a shutdown waits for.
//
// # Observer, back-off and control
//
// Deps.Observer is told of every handler call (script, trigger kind,
// outcome, duration), of events received, delivered, coalesced and
// dropped (by source and kind), of loads by result and of memory-watchdog
// stops: the command turns it into metrics; the host itself never speaks
// HTTP. A script whose handlers fail Config.BackoffAfter times in a row
// (errors or deadline stops) has its triggers paused, 1 minute at first
// and twice as long at each further run of failures, up to 1 hour,
// jittered; each step is logged once and shows in Status (BackoffStep,
// BackedOffUntil). Ticks are skipped while paused. Events are taken from
// the queue and held, one per object (kind and id), in the order the
// objects first came, with the newest state: inserted then updated is
// inserted; inserted then removed is nothing (the script never saw it);
// removed then inserted or updated is updated; anything then removed is
// removed. So the hold is bounded by the distinct objects, no subscription
// change is lost and the sources never wait for a paused script. Message
// events (and events without an id) arriving while paused are dropped,
// counted as EventDropped and logged once per pause: a paused rc.respond
// must not answer hour-old commands. Every event is acknowledged
// (source.Event.Handled) as it enters the hold or is dropped, so a pause
// does not hold back the sources' saved cursors; a restart during a pause
// therefore loses the held events (the script sees the newest state of
// an object at its next change or resync). A successful call, a reload
// or Enable resets it.
// Host.Reload reloads named scripts from disk; Host.Disable stops a
// script until Host.Enable (Config.Disabled gives the set at start; the
// command persists it).
//
// Host.Alive is the host's liveness stamp: a probe owned by Run takes
// the host's lock and has each source runner answer from its loop about
// every second; a lock held for good or a source that does not return
// once stopped leaves the stamp stale (the command's /healthz uses it).
//
// # Shutdown
//
// When Run's context ends the watcher stops, actors take no further events
// or loads (queued ones are dropped, never reported handled), and a
// running handler may finish until its deadline or Config.ShutdownTimeout
// (10s), whichever comes first; then it is stopped. The sources stop once
// every actor has ended, so the events handled in the grace are in the
// cursors they save as they stop. Run returns once every goroutine it
// started has ended.
//
// Exec runs one script's top level once (triggers are logged as ignored);
// Check loads scripts with luabind's offline module, whose calls all fail
// with "no network in check mode", and then reads each whole script with
// package runtime/lint (rc paths, undefined globals, constant trigger
// arguments), taking the globals and the rc table from a real state.
package runtime
