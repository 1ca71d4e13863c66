package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/source"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

// Deps are the host's dependencies.
type Deps struct {
	// Module is each script's rc table: its services and logger (each
	// script gets a copy logging to its own logger). Nil gives scripts an
	// rc table whose calls to the server fail ("unavailable").
	Module *luabind.Module
	// Sources feed rc.on handlers. The host runs each one while some
	// running script listens to one of its kinds.
	Sources []source.Source
	// Getenv is the environment rc.secret reads RCLUA_SECRET_<NAME>
	// from; nil means os.Getenv.
	Getenv func(string) string
	// Observer, when set, is told of handler calls, events, loads, back-offs
	// and memory-watchdog stops (metrics). Nil: nobody is.
	Observer Observer
	// Store, when set, gives each script its namespace (the script's
	// name) as rc.store, the same across reloads. The host does not close
	// it.
	Store store.Store
	// Settings, when not nil, is the script's section of settings
	// (rc.config and its secrets allow-list) instead of the settings
	// file's, checked with CheckSection. Only LoadScript reads it
	// (runtime/scripttest's t.config); the host reads the file.
	Settings map[string]any
}

// env is what the host gives every script state.
type env struct {
	// module is the rc table's services; nil gives scripts an rc table
	// whose calls to the server all fail ("unavailable").
	module *luabind.Module
	// store, when set, gives each script its namespace, by name.
	store store.Store
	// extra, when set, installs more globals after rc (tests).
	extra func(L *lua.LState)
	// secrets is where rc.secret reads from.
	secrets secretSource
}

// newEnv returns the env of cfg for module, reading secrets from getenv
// (nil: os.Getenv) and cfg.SecretsDir.
func newEnv(cfg Config, module *luabind.Module, getenv func(string) string) env {
	if getenv == nil {
		getenv = os.Getenv
	}
	return env{module: module, secrets: secretSource{dir: cfg.SecretsDir, getenv: getenv}}
}

// openState installs the rc table into L for a script logging to log,
// with reg as its triggers' host, config as its rc.config, secrets
// answering its rc.secret, posts as its post limit (nil: the module's)
// and, with a store, the namespace name (the script's name; "" for none)
// as its rc.store.
func (e env) openState(L *lua.LState, cfg Config, name string, log zerolog.Logger, reg luabind.Host, config map[string]any, secrets *luabind.Secrets, posts *luabind.PostLimit) {
	m := luabind.Module{}
	if e.module != nil {
		m = *e.module
	}
	if e.store != nil && name != "" {
		m.Store = e.store.Namespace(name)
	}
	m.Logger = log
	m.MinInterval = cfg.minEvery
	m.Config = config
	m.Secrets = secrets
	if posts != nil {
		m.Posts = posts
	}
	m.Open(L, reg)
	if e.extra != nil {
		e.extra(L)
	}
}

// Host loads every script of a folder and runs it. Create it with New and
// start it with Run.
type Host struct {
	cfg     Config
	env     env
	log     zerolog.Logger
	watcher *watch.Watcher
	sources []*sourceRunner
	mem     *memWatch // nil when the memory watchdog is off
	obs     Observer  // never nil

	started  atomic.Bool
	runEnded <-chan struct{} // closed once Run's shutdown began (set before Run starts anything)
	alive    atomic.Int64    // UnixNano of the last round of Run's liveness probe (see Alive)
	loaded   chan struct{}
	loadOnce sync.Once
	actorWG  sync.WaitGroup

	mu       sync.Mutex
	settings settings                // of the settings file, as last parsed without error
	actors   map[string]*actor       // by file name, running actors
	scripts  map[string]*scriptState // by file name, latest lifetime
	live     map[*actor]struct{}     // every actor whose goroutine runs (also stopping ones)
	removed  []removedScript         // scripts whose file was removed, oldest first (at most MaxRemoved)
	heard    map[string]bool         // event kinds the last event of went to a script (for the log when none listens)
	// disabled holds the file names of the scripts Disable stopped.
	disabled map[string]bool
}

// sourceRunner is one event source as the host runs it.
type sourceRunner struct {
	src   source.Source
	name  string // SourceName(src)
	kinds []string
	wake  chan struct{}      // cap 1: listeners may have changed
	ping  chan chan struct{} // the liveness probe: the runner closes what it receives
}

// New returns a host for the scripts of cfg.ScriptsDir. Zero Config fields
// take their defaults. Nothing starts before Run; a missing scripts folder
// is reported by Run. The error is reserved for configurations New may
// reject in the future; it is always nil now.
func New(cfg Config, deps Deps, log zerolog.Logger) (*Host, error) {
	e := newEnv(cfg, deps.Module, deps.Getenv)
	e.store = deps.Store
	h := newHost(cfg, e, deps.Sources, log)
	if deps.Observer != nil {
		h.obs = deps.Observer
	}
	return h, nil
}

func newHost(cfg Config, e env, sources []source.Source, log zerolog.Logger) *Host {
	h := &Host{
		obs:      nopObserver{},
		disabled: map[string]bool{},
		heard:    map[string]bool{},
		cfg:      cfg.withDefaults(),
		env:      e,
		log:      log,
		loaded:   make(chan struct{}),
		actors:   map[string]*actor{},
		scripts:  map[string]*scriptState{},
		live:     map[*actor]struct{}{},
	}
	for _, name := range h.cfg.Disabled {
		h.disabled[scriptFileName(name)] = true
	}
	if h.env.secrets.getenv == nil {
		h.env.secrets = newEnv(h.cfg, nil, nil).secrets
	}
	h.watcher = watch.New(h.cfg.ScriptsDir, watch.Options{Debounce: h.cfg.Debounce, Rescan: h.cfg.Rescan,
		Files: []string{SettingsFile}, Log: log})
	for _, src := range sources {
		h.sources = append(h.sources, &sourceRunner{src: src, name: SourceName(src), kinds: src.Kinds(), wake: make(chan struct{}, 1), ping: make(chan chan struct{})})
	}
	if h.cfg.MemoryLimit > 0 {
		h.mem = newMemWatch(h.cfg.MemoryLimit, log, func() int {
			n := h.stopRunningCalls(errMemoryCap)
			h.obs.MemoryStop("calls", n)
			return n
		})
		if h.cfg.memRead != nil {
			h.mem.read = h.cfg.memRead
		}
		h.mem.evictLargest = h.evictLargest
	}
	return h
}

// stopRunningCalls stops, with cause, the handler or load every actor is
// running; it returns how many it stopped.
func (h *Host) stopRunningCalls(cause error) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cause == errMemoryCap {
		busy := 0
		for a := range h.live {
			for _, g := range a.guards() {
				if g.busy() {
					busy++
				}
			}
		}
		if busy == 1 {
			cause = errMemoryAlone
		}
	}
	n := 0
	for a := range h.live {
		for _, g := range a.guards() {
			if g.stop(cause) {
				n++
			}
		}
	}
	return n
}

// evictLargest measures every script's running version (each actor
// measures its own, between calls; one busy past measureWait is skipped)
// and closes the largest if it holds at least least bytes. It returns what
// it evicted (name "" when nothing).
func (h *Host) evictLargest(least int64, reason func(size string) string) (name string, size int64) {
	// An actor busy in a call for longer than measureWait is not asked;
	// one that took the request gets until walkWait to walk its state (a
	// walk cut short by then is a lower bound, which would favour the
	// states that were quick to walk).
	ask, cancelAsk := context.WithTimeout(context.Background(), measureWait)
	defer cancelAsk()
	walk, cancelWalk := context.WithTimeout(context.Background(), walkWait)
	defer cancelWalk()
	h.mu.Lock()
	actors := make([]*actor, 0, len(h.live))
	for a := range h.live {
		actors = append(actors, a)
	}
	h.mu.Unlock()
	replies := make(chan scriptSize, len(actors))
	accepted := make(chan bool, len(actors))
	for _, a := range actors {
		go func() {
			select {
			case a.sizes <- sizeRequest{ctx: walk, reply: replies}:
				accepted <- true
			case <-ask.Done():
				accepted <- false
			}
		}()
	}
	asked := 0
	for range actors { // every goroutine above answers by measureWait
		if <-accepted {
			asked++
		}
	}
	var best scriptSize
wait:
	for range asked {
		select {
		case r := <-replies:
			if r.bytes > best.bytes {
				best = r
			}
		case <-walk.Done():
			break wait
		}
	}
	if best.a == nil || best.bytes < least {
		return "", 0
	}
	text := formatBytes(uint64(best.bytes))
	if !best.complete {
		text = "at least " + text
	}
	msg := reason(text)
	select { // the caller collects garbage next: the state must be closed
	case <-best.a.requestEvict(msg):
		return best.a.st.name, best.bytes
	case <-time.After(measureWait):
		return "", 0 // busy again (it is closed after that call) or gone
	}
}

// closeCalls stops every running call and every call started from now on:
// the end of the shutdown grace.
func (h *Host) closeCalls() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for a := range h.live {
		for _, g := range a.guards() {
			g.close(errShutdown)
		}
	}
}

// Alive returns when the host last showed it is not stuck: while Run runs,
// a probe goes round about every second, taking the host's lock and
// waiting for each event source's runner to answer from its loop, and
// stamps the time once all did. A lock held for good, or a source that
// does not return once stopped, stops the stamp; the command's /healthz
// answers 503 once it is stale. Zero before Run.
func (h *Host) Alive() time.Time {
	if n := h.alive.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// probe stamps h.alive every cfg.aliveEvery, after a round in which it
// took the host's lock and every source runner answered, until ctx ends.
func (h *Host) probe(ctx context.Context) {
	t := time.NewTicker(h.cfg.aliveEvery)
	defer t.Stop()
	for {
		h.mu.Lock()
		h.mu.Unlock() //nolint:staticcheck // an empty critical section: the lock can be taken
		for _, r := range h.sources {
			p := make(chan struct{})
			select {
			case r.ping <- p:
			case <-ctx.Done():
				return
			}
			select {
			case <-p:
			case <-ctx.Done():
				return
			}
		}
		h.alive.Store(time.Now().UnixNano())
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// Loaded returns a channel closed once the initial load pass is over
// (every script loaded or failed), or when Run returns early.
func (h *Host) Loaded() <-chan struct{} { return h.loaded }

func (h *Host) markLoaded() { h.loadOnce.Do(func() { close(h.loaded) }) }

// ReloadAll asks Run to reload every script from disk, even ones whose
// content did not change (SIGHUP). It never blocks.
func (h *Host) ReloadAll() { h.watcher.ReloadAll() }

// Status returns a snapshot of every script known to the host, sorted by
// name; stopped scripts stay listed.
func (h *Host) Status() []ScriptStatus {
	h.mu.Lock()
	list := make([]*scriptState, 0, len(h.scripts))
	for _, s := range h.scripts {
		list = append(list, s)
	}
	h.mu.Unlock()
	out := make([]ScriptStatus, 0, len(list))
	for _, s := range list {
		out = append(out, s.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// listenersChanged tells the source runners that the kinds scripts listen
// to may have changed.
func (h *Host) listenersChanged() {
	for _, r := range h.sources {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// listening reports whether a running script handles one of kinds.
func (h *Host) listening(kinds []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.actors {
		for _, k := range kinds {
			if a.st.listensTo(k) {
				return true
			}
		}
	}
	return false
}

// emitter is the source.Emit of the source numbered i: dispatch, counted.
func (h *Host) emitter(i int) source.Emit {
	src := uint8(i)
	return func(ctx context.Context, ev source.Event) error {
		h.obs.Event(h.sourceName(src), ev.Kind, EventReceived)
		return h.dispatch(ctx, src, ev)
	}
}

// sourceName is the name of the source numbered i (message.src).
func (h *Host) sourceName(i uint8) string {
	if int(i) < len(h.sources) {
		return h.sources[i].name
	}
	return "source"
}

// dispatch hands an event of the source named src to every running script
// that listens to its kind. It waits while a target's
// queue is full (see actor.enqueue), so a slow script slows its sources
// down rather than losing events; a script that stops meanwhile is
// skipped. It returns ctx's error if ctx ends first. An event's Handled
// is called once every target is done with it (see source.Event).
func (h *Host) dispatch(ctx context.Context, src uint8, ev source.Event) error {
	if h.shuttingDown() {
		return holdSource(ctx)
	}
	h.mu.Lock()
	targets := make([]*actor, 0, len(h.actors))
	listened := false // by a running script, whether or not done with this event
	for _, a := range h.actors {
		if !a.st.listensTo(ev.Kind) {
			continue
		}
		listened = true
		// A script done with the event before a restart does not get it
		// again (source.Event.Done).
		if !slices.Contains(ev.Done, a.st.name) {
			targets = append(targets, a)
		}
	}
	deaf := !listened && h.heard[ev.Kind]
	if listened != h.heard[ev.Kind] {
		h.heard[ev.Kind] = listened
	}
	h.mu.Unlock()
	if deaf && !h.shuttingDown() {
		h.log.Info().Str("kind", ev.Kind).Msg("no running script listens to these events any more: they are dropped, and a script that listens again later does not get them")
	}
	var acks []*handled
	if ev.Handled != nil {
		if len(targets) == 0 {
			// Nobody listens: the event is done with. Not in the
			// shutdown, where the scripts are stopping (and listen to
			// nothing): the event is then not handled, and a restart
			// delivers it.
			if h.shuttingDown() {
				return holdSource(ctx)
			}
			ev.Handled()
			return ctx.Err()
		}
		acks = []*handled{{fn: ev.Handled, by: ev.HandledBy}}
		acks[0].left.Store(int64(len(targets)))
	}
	shared := &ev
	for _, a := range targets {
		if !a.enqueue(ctx, message{ev: shared, src: src, acks: acks}) {
			h.obs.Event(h.sourceName(src), ev.Kind, EventDropped)
		}
	}
	if h.shuttingDown() {
		return holdSource(ctx)
	}
	return ctx.Err()
}

// shuttingDown reports whether Run's shutdown began.
func (h *Host) shuttingDown() bool {
	if h.runEnded == nil {
		return false
	}
	select {
	case <-h.runEnded:
		return true
	default:
		return false
	}
}

// holdSource is an emit in the shutdown: the scripts take no more events
// (one emitted now is never reported handled, so a restart delivers it),
// and the source waits until it is stopped, once the scripts ended, then
// returns as from a stop.
func holdSource(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// runSource runs r's source while some script listens to its kinds, until
// ctx ends. It first waits for the initial load: what a source emits at
// its start (the catch-up after a restart) reaches every script, not only
// the quickest to load. It returns the error of a source that cannot go
// on.
func (h *Host) runSource(ctx context.Context, i int, r *sourceRunner) error {
	log := h.log.With().Strs("kinds", r.kinds).Logger()
	for loaded := false; !loaded; {
		select {
		case <-h.loaded:
			loaded = true
		case p := <-r.ping:
			close(p)
		case <-ctx.Done():
			return nil
		}
	}
	for {
		for !h.listening(r.kinds) {
			select {
			case <-ctx.Done():
				return nil
			case <-r.wake:
			case p := <-r.ping:
				close(p)
			}
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.src.Run(runCtx, h.emitter(i)) }()
		log.Debug().Msg("event source started: a running script listens to one of its kinds")
		var err error
		ended := false // Run returned by itself
	wait:
		for {
			select {
			case <-r.wake:
				if !h.listening(r.kinds) {
					break wait
				}
			case err = <-done:
				ended = true
				break wait
			case p := <-r.ping:
				close(p)
			case <-ctx.Done():
				break wait
			}
		}
		stop()
		if !ended {
			// The host stopped it: whatever it returns answers the stop.
			// Until then the runner answers no probe: a source that never
			// returns leaves the host stuck (see Alive).
			<-done
			if ctx.Err() != nil {
				return nil
			}
			log.Debug().Msg("event source stopped: no script listens")
			continue
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		// Returned nil while wanted: run it again, after a pause so that a
		// broken source cannot spin.
		log.Warn().Msg("event source stopped on its own: restarting it")
		t := time.NewTimer(time.Second)
	pause:
		for {
			select {
			case <-t.C:
				break pause
			case p := <-r.ping:
				close(p)
			case <-ctx.Done():
				t.Stop()
				return nil
			}
		}
	}
}

// actorFor returns the running actor of name, starting one if needed; the
// actor takes events until ctx ends.
func (h *Host) actorFor(ctx context.Context, name string) *actor {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.actors[name]; ok {
		return a
	}
	st := &scriptState{
		name:  scriptBaseName(name),
		path:  filepath.Join(h.cfg.ScriptsDir, name),
		state: StateFailed,
		posts: h.cfg.newPostLimit(),
	}
	a := newActor(h, st, name)
	h.actors[name] = a
	h.scripts[name] = st
	h.removed = slices.DeleteFunc(h.removed, func(r removedScript) bool { return r.file == name }) // back: not removed
	h.live[a] = struct{}{}
	h.actorWG.Add(1)
	go func() {
		defer h.actorWG.Done()
		a.run(ctx)
		h.mu.Lock()
		delete(h.live, a)
		for _, n := range h.rememberRemoved(ctx, name, st) {
			// Under h.mu: a file of that name coming back now gets its
			// series after they were dropped, not dropped after.
			h.obs.Forget(n)
		}
		h.mu.Unlock()
		h.listenersChanged()
	}()
	return a
}

// MaxRemoved is how many scripts whose file was removed the host keeps
// listing (Status: stopped): beyond, the oldest is forgotten, so that
// files that come and go (versioned names, a deploy's temporary files)
// cannot grow the status and the metrics without bound.
const MaxRemoved = 64

// rememberRemoved records, under h.mu, that the actor of the file name
// with state st ended: when its file was removed (no actor took the name
// since), st stays listed among the last MaxRemoved removed scripts. It
// returns the names of the scripts it forgets.
func (h *Host) rememberRemoved(ctx context.Context, name string, st *scriptState) (forgot []string) {
	if ctx.Err() != nil || h.actors[name] != nil || h.scripts[name] != st {
		return nil // the host stops, or the file came back
	}
	h.removed = append(h.removed, removedScript{name, st})
	for len(h.removed) > MaxRemoved {
		old := h.removed[0]
		h.removed = slices.Delete(h.removed, 0, 1)
		if h.scripts[old.file] == old.st && h.actors[old.file] == nil {
			delete(h.scripts, old.file)
			forgot = append(forgot, old.st.name)
		}
	}
	return forgot
}

// removedScript is a script whose file was removed: its file name and
// the state the host lists.
type removedScript struct {
	file string
	st   *scriptState
}

// stopActor stops the actor of name, if any.
func (h *Host) stopActor(name string) {
	h.mu.Lock()
	a, ok := h.actors[name]
	delete(h.actors, name)
	h.mu.Unlock()
	if ok {
		a.log.Info().Msg("script file removed: stopping")
		a.requestStop()
		h.listenersChanged()
	}
}

// moduleChanged reloads every script that looked for the module c is
// about (the dependency is recorded at each load): each loads its newest
// content again in a fresh state, which replaces the running version only
// if it loads (a broken module keeps the old versions running).
func (h *Host) moduleChanged(c watch.Change) {
	h.mu.Lock()
	actors := make([]*actor, 0, len(h.actors))
	for _, a := range h.actors {
		actors = append(actors, a)
	}
	h.mu.Unlock()
	var names []string
	for _, a := range actors {
		if a.requestModuleReload(c.Name) {
			names = append(names, a.st.name)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	h.log.Info().Str("module", c.Name).Bool("removed", c.Removed).Strs("scripts", names).
		Msg("module changed: reloading the scripts that require it")
}

// settingsChanged applies a new settings file: the scripts whose section
// changed reload (each its newest content, in a fresh state; a script
// that fails to load with its new settings keeps running with the old).
// A file that does not parse keeps the previous settings; the watcher
// reports each content once, so it is logged once.
func (h *Host) settingsChanged(c watch.Change) {
	next := settings{}
	if !c.Removed {
		var err error
		next, err = parseSettings(SettingsFile, c.Content)
		if err != nil {
			h.log.Error().Str("error", err.Error()).Str("file", SettingsFile).
				Msg("settings file does not parse: keeping the previous settings")
			return
		}
	}
	h.mu.Lock()
	changed := h.settings.changed(next)
	h.settings = next
	var reload []*actor
	for _, a := range h.actors {
		for _, name := range changed {
			if a.st.name == name {
				reload = append(reload, a)
			}
		}
	}
	h.mu.Unlock()
	var names []string
	for _, a := range reload {
		if a.requestReload() {
			names = append(names, a.st.name)
		}
	}
	sort.Strings(names)
	// Each reload logs its own outcome ("script reloaded", or the load's
	// error with the old version kept): these are only requested here.
	h.log.Info().Str("file", SettingsFile).Strs("sections_changed", changed).Strs("reloading", names).
		Msg("settings loaded")
}

// sectionOf returns the settings of the script name.
func (h *Host) sectionOf(name string) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings.section(name)
}

// allowedSecrets returns the secrets the settings allow the script name.
func (h *Host) allowedSecrets(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings.allowedSecrets(name)
}

// watchSink turns the watcher's reports into load and stop requests. The
// watcher calls it from Run's goroutine.
type watchSink struct {
	h       *Host
	initial sync.WaitGroup // the loads of the initial scan
	scanned bool
}

func (s *watchSink) Change(ctx context.Context, c watch.Change) {
	if strings.HasPrefix(c.Name, LibDir+"/") {
		s.h.moduleChanged(c)
		return
	}
	if c.Name == SettingsFile {
		s.h.settingsChanged(c)
		return
	}
	if c.Removed {
		s.h.stopActor(c.Name)
		return
	}
	req := &loadRequest{content: c.Content, hash: c.Hash, forced: c.Forced}
	if !s.scanned {
		s.initial.Add(1)
		req.done = s.initial.Done
	}
	s.h.actorFor(ctx, c.Name).requestLoad(req)
}

func (s *watchSink) Scanned(context.Context) {
	s.scanned = true
	s.initial.Wait()
	s.h.markLoaded()
	s.h.log.Debug().Str("dir", s.h.cfg.ScriptsDir).Msg("initial load done")
}

// sourcesMargin is how long after the shutdown grace the sources stop
// when a call does not end.
const sourcesMargin = 300 * time.Millisecond

// Run loads every script, watches the folder, runs the event sources while
// a script listens, and returns when ctx ends and every goroutine it
// started has ended. Running handlers get until their deadline, at most
// the shutdown grace, to finish. Run may be called once. It returns an
// error when the scripts folder cannot be watched, or when an event source
// cannot go on (the host then stops as if ctx had ended).
func (h *Host) Run(ctx context.Context) error {
	defer h.markLoaded()
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("runtime: Run called more than once")
	}
	if fi, err := os.Stat(h.cfg.ScriptsDir); err != nil {
		return fmt.Errorf("scripts folder: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("scripts folder %s is not a directory", h.cfg.ScriptsDir)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	h.runEnded = runCtx.Done()
	// The sources outlive runCtx until the actors ended: the events the
	// scripts finish handling in the shutdown grace are in the cursors
	// the sources save as they stop.
	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()

	var (
		memWG, srcWG sync.WaitGroup
		fatalMu      sync.Mutex
		fatal        error // the first error of a source that could not go on
	)
	memCtx, memStop := context.WithCancel(context.WithoutCancel(ctx))
	defer memStop()
	if h.mem != nil {
		memWG.Add(1)
		go func() {
			defer memWG.Done()
			h.mem.run(memCtx, h.cfg.memEvery)
		}()
	}
	h.alive.Store(time.Now().UnixNano())
	srcWG.Add(1)
	go func() {
		defer srcWG.Done()
		h.probe(runCtx)
	}()
	for i, r := range h.sources {
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			if err := h.runSource(srcCtx, i, r); err != nil {
				if runCtx.Err() != nil {
					// In the shutdown (the sources run until the scripts
					// ended): what stopped this one no longer matters.
					h.log.Debug().Err(err).Strs("kinds", r.kinds).Msg("event source failed in the shutdown")
					return
				}
				fatalMu.Lock()
				if fatal == nil {
					fatal = err
				}
				fatalMu.Unlock()
				h.log.Error().Err(err).Strs("kinds", r.kinds).Msg("event source failed: stopping")
				stopRun()
			}
		}()
	}

	werr := h.watcher.Run(runCtx, &watchSink{h: h}) // returns when runCtx ends
	stopRun()

	// Shutdown: actors see runCtx end and stop after their running call;
	// a call still running after the grace is stopped.
	grace := time.AfterFunc(h.cfg.ShutdownTimeout, h.closeCalls)
	// The sources save their cursors as they stop: after the scripts
	// ended, or shortly after the grace when a call does not stop (the
	// command exits a second after it).
	late := time.AfterFunc(h.cfg.ShutdownTimeout+sourcesMargin, stopSources)
	h.actorWG.Wait()
	grace.Stop()
	late.Stop()
	stopSources()
	memStop() // the watchdog guards calls until the last actor ended
	memWG.Wait()
	srcWG.Wait()
	if fatal != nil { // every runner ended: no more writes
		fatal = fmt.Errorf("event source: %w", fatal)
	}
	if werr != nil {
		return errors.Join(fmt.Errorf("scripts folder: %w", werr), fatal)
	}
	h.log.Info().Msg("script host stopped")
	return fatal
}
