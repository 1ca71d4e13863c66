// Package runtime is rclua's script host: it loads every *.lua file of a
// folder, runs each in its own sandboxed Lua state with the rc table from
// luabind, runs the triggers the scripts register, and hot-reloads a
// script when its file changes. Only main imports it (its name shadows the
// standard library's; files here import that one as goruntime).
//
// # Actors
//
// Each script is one actor: one goroutine owning the *lua.LState of the
// script's running version (and of a version being loaded). Timers and
// subscription events reach it as messages on a bounded queue
// (Config.QueueLen); a full queue drops the event, counts it (Status
// Dropped) and warns on the first drop and every 100th, never blocking the
// sender. A timer has at most one tick queued: ticks of a handler slower
// than its period coalesce instead of filling the queue. Load requests and
// stop requests travel beside the queue and take priority over queued
// events; a newer load request replaces a pending one.
//
// # Sandbox and limits
//
// States are built with lua.Options{SkipOpenLibs: true} and an allowlist:
// base without dofile, loadfile and collectgarbage (each raises "... is
// disabled in the sandbox"; load/loadstring of strings stay: they compile
// into the same sandbox), table, string, math, coroutine, and os with only
// time, clock, date and difftime. io, debug and package are tables whose
// every field raises "<lib>.<name> is disabled in the sandbox"; os is
// read-only and its missing fields raise the same way; require returns
// the open libraries ("string", "rc", ...) and refuses everything else.
// Config.Unsafe opens every gopher-lua library instead.
//
// The top level runs under Config.LoadTimeout (5s) and every handler call
// under Config.HandlerTimeout (30s), through L.SetContext; a handler
// stopped at its deadline is counted (Timeouts) and logged with the script
// and trigger, and the script handles its next event. A call stopped this
// way fails with its file:line and the cause, not gopher-lua's "context
// deadline exceeded": "loop.lua:1: stopped: the top level ran longer than
// the load timeout (5s)", "...: stopped: the handler ran longer than the
// handler timeout (30s)", or for a handler cancelled at shutdown "...:
// stopped: the daemon is shutting down" (Exec says "exec timeout" and
// "interrupted"). errors.Is(err, context.DeadlineExceeded) (or
// context.Canceled) holds for such errors. Calls are bounded to
// 200 frames (deeper recursion raises "stack overflow") and the value stack
// to 256Ki slots, with MinimizeStackMemory. Library calls that build a
// string in one Go call, which the deadline cannot interrupt, refuse
// results above 16 MiB (also in unsafe mode): string.rep, string.format
// (whose widths and precisions have at most two digits, as in Lua 5.1),
// string.gsub (reimplemented: linear) and table.concat (reimplemented:
// gopher-lua's overflows the value stack on big tables); os.date formats
// are capped at 1 KiB. A coroutine runs under the deadline of the call
// resuming it, so one created at load works in later handlers and none
// escapes a deadline. A script registers at most 1000 triggers. Go panics
// in functions called from Lua are recovered by PCall and logged as handler
// errors.
//
// Memory a script builds itself, one VM instruction at a time (s = s .. s
// in a loop, huge tables), is bounded by a watchdog, since gopher-lua has
// no allocation quota: while a handler or load runs, one goroutine samples
// the Go heap every 25ms (runtime/metrics
// "/memory/classes/heap/objects:bytes", no stop-the-world); while none runs
// it sleeps without waking up. Above Config.MemoryLimit (default 1 GiB;
// negative turns it off) it collects garbage (at most once a second) and,
// if the heap is still over, cancels every handler and top-level load
// running at that moment through the cancel func each actor registers for
// its running call; once the stopped calls have unwound it collects again
// and returns the memory to the OS. A stopped handler fails with
// "file:line: memory limit exceeded (1.0 GiB heap): handler stopped", is
// logged once with the script and trigger and counted in Errors; the script
// stays loaded and handles its next event. A stopped load fails like any
// failed load ("... load stopped") and an older version keeps running. The
// limit is the whole process's heap, not a per-script quota: every call
// running when it is crossed is stopped, and one allocation (a
// concatenation) may overshoot it. While stopped calls unwind (at most 1s)
// nothing more is stopped; memory a script keeps across calls (globals)
// stays, and calls keep being stopped while the heap stays over the limit.
//
// Pattern matching (string.find, string.match, string.gmatch, string.gsub,
// also in unsafe mode) is the host's own Lua 5.1 implementation (package
// runtime/luapattern). It checks the deadline every 1024 matching steps,
// so a pattern that backtracks exponentially
// (string.find(("a"):rep(40), ("a*"):rep(40) .. "b")) stops at the
// deadline and is counted as a timeout instead of hanging its actor.
// Recursion deeper than 10000 levels raises "pattern too complex", and a
// pattern has at most 32 captures. It follows Lua 5.1 where gopher-lua
// differs: the %f frontier pattern; '^' is an ordinary character in
// gmatch; string.find("abc", "", 10) returns 4, 3; string.match returns
// nil when nothing matches; gsub with a negative n replaces nothing; "%x"
// in a gsub replacement is "x"; a number is a valid replacement; sets like
// [%a-z] and [0-0-0]. Malformed patterns are always reported with Lua's
// messages (Lua 5.1 reports them only when matching reaches them).
// Differences from Lua 5.1: a "\0" in a pattern is an ordinary character,
// and a trailing '%' in a gsub replacement stays '%'.
//
// Not bounded: Exec and Check run without the memory watchdog.
//
// # Triggers
//
// Registered by the top level only (calling them later raises):
//
//	rc.on("subscription", function(action, sub) end) -- action: inserted, updated, removed
//	rc.every(interval, fn)  -- "5m" (Go duration) or seconds; minimum 1s
//	rc.cron(spec, fn)       -- robfig/cron standard spec, @hourly etc., CRON_TZ=Zone prefix
//
// Bad arguments raise with file:line, which fails the load. For "removed"
// sub is {_id = ..., _deletedAt = ISO string}; otherwise it is the full
// subscription object the server sent. Each timer is a goroutine of its
// version; a tick of a replaced version is ignored.
//
// # Subscription poller
//
// One poller (when Deps.Subscriptions is set) calls subscriptions.get
// every Config.PollInterval while at least one running script listens; when
// none does it pauses and forgets its state. Its first poll (without
// updatedSince) is a baseline that fires nothing. The cursor is the
// greatest _updatedAt/_deletedAt the server returned, never the local
// clock, so host/server clock skew does not matter; each poll asks for
// updatedSince = cursor - 5s (overlap, for writes committed late) and skips
// (_id, timestamp) pairs it already delivered. Pairs at or below the query
// floor are forgotten (the server filters with a strict ">"), so memory is
// the overlap window plus the set of known ids. An update is "inserted"
// when its _id was not known, else "updated"; a "remove" entry of a known
// id is "removed" (removals of ids never seen since the baseline are not
// reported). A failed poll keeps the cursor and backs off exponentially
// from the poll interval up to 5 minutes; a rate limit (rc.Error 429) waits
// RetryAfter, or until Reset, at least one poll interval.
//
// A backlog delivers only the newest state of each subscription: when a
// script is about to handle an "updated" event and the next event queued
// for it about the same _id is also "updated", the older one is skipped
// (the handler sees the newer snapshot), counted in Status Coalesced and
// logged at debug level. So a handler stuck until its deadline, or a fixed
// version loaded after it, does not act on a pile of stale snapshots.
// "inserted" and "removed" events are never skipped, nor skipped across:
// an "updated" followed by a "removed" runs both. Timer ticks coalesce
// separately (see Actors).
//
// # Hot reload
//
// The folder (never single files, no subfolders) is watched with fsnotify.
// Only *.lua names count; dotfiles (.x.lua, .#x.lua, .x.lua.swp), "#x#",
// "x~", "4913" and other names are ignored. Events only mark a name dirty;
// after a per-name quiet period (Config.Debounce, 100ms) the file on disk
// decides: stat (following symlinks) + read + sha256. A missing file stops
// its script; content identical to what was last handed to the script
// (loaded or failed) is not loaded again, so a broken edit is logged once
// and not retried until the content changes. Events on "..data" (a
// Kubernetes ConfigMap's symlink swap) mark the whole folder dirty.
// Every Config.Rescan (30s) the folder is rescanned and its watch re-added;
// a watcher error triggers a rescan too. ReloadAll (SIGHUP) reloads every
// script even with unchanged content.
//
// A load builds a fresh state, opens the bindings, runs the top level and
// only on success replaces the running version: the actor runs one thing
// at a time, so a handler of the old version that is running finishes
// (within its deadline) before the old state closes, the old version's
// timers stop, and queued events go to the new version. A failed load
// keeps the old version running (state stays "running", LastError set);
// without an old version the state is "failed".
//
// # Logging and status
//
// Each script logs through a sub-logger with a "script" field (also given
// to luabind for rc.log and print). Lua errors are logged with "error"
// (file:line: message) and "traceback"; every successful load or reload
// and every failed load logs one line. Status lists every script seen,
// with stopped ones kept.
//
// # Shutdown
//
// When Run's context ends the watcher and the poller stop, actors take no
// further events or loads (queued ones are dropped), and a running handler
// may finish until its deadline or Config.ShutdownTimeout (10s), whichever
// comes first; then its context is cancelled. Run returns once every
// goroutine it started has ended.
//
// Exec runs one script's top level once (triggers are logged as ignored);
// Check loads scripts with an offline client whose calls all fail with "no
// network in check mode".
package runtime
