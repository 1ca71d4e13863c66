package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
)

// SubscriptionSource is the part of the client the subscription poller
// uses; (*rc.Client).Subscriptions implements it.
type SubscriptionSource interface {
	Get(ctx context.Context, opts *rc.GetSubscriptionsOptions) (*rc.SubscriptionsResult, error)
}

// env is what the host gives every script state.
type env struct {
	// module is the rc table's services; nil gives scripts an rc table
	// whose calls to the server all fail ("unavailable").
	module *luabind.Module
	// extra, when set, installs more globals after rc (tests).
	extra func(L *lua.LState)
	subs  SubscriptionSource
}

// openState installs the rc table into L for a script logging to log,
// with reg as its triggers' host.
func (e env) openState(L *lua.LState, cfg Config, log zerolog.Logger, reg luabind.Host) {
	m := luabind.Module{}
	if e.module != nil {
		m = *e.module
	}
	m.Logger = log
	m.MinInterval = cfg.minEvery
	m.Open(L, reg)
	if e.extra != nil {
		e.extra(L)
	}
}

// Host loads every script of a folder and runs it. Create it with New and
// start it with Run.
type Host struct {
	cfg Config
	env env
	log zerolog.Logger

	started   atomic.Bool
	loaded    chan struct{}
	loadOnce  sync.Once
	reloadAll chan struct{}
	pollWake  chan struct{}

	hardCtx context.Context // set by Run before any goroutine starts
	actorWG sync.WaitGroup
	mem     *memWatch // nil when the memory watchdog is off

	mu      sync.Mutex
	actors  map[string]*actor       // by file name, running actors
	scripts map[string]*scriptState // by file name, latest lifetime
	live    map[*actor]struct{}     // every actor whose goroutine runs (also stopping ones)
}

func newHost(cfg Config, e env, log zerolog.Logger) *Host {
	h := &Host{
		cfg:       cfg.withDefaults(),
		env:       e,
		log:       log,
		loaded:    make(chan struct{}),
		reloadAll: make(chan struct{}, 1),
		pollWake:  make(chan struct{}, 1),
		actors:    map[string]*actor{},
		scripts:   map[string]*scriptState{},
		live:      map[*actor]struct{}{},
	}
	if h.cfg.MemoryLimit > 0 {
		h.mem = newMemWatch(h.cfg.MemoryLimit, log, h.stopRunningCalls)
	}
	return h
}

// stopRunningCalls cancels the handler or load every actor is running; it
// returns how many it stopped. The memory watchdog calls it.
func (h *Host) stopRunningCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for a := range h.live {
		if a.guard.stop() {
			n++
		}
	}
	return n
}

// Loaded returns a channel closed once the initial load pass is over
// (every script loaded or failed), or when Run returns early.
func (h *Host) Loaded() <-chan struct{} { return h.loaded }

func (h *Host) markLoaded() { h.loadOnce.Do(func() { close(h.loaded) }) }

// ReloadAll asks Run to reload every script from disk, even ones whose
// content did not change (SIGHUP). It never blocks.
func (h *Host) ReloadAll() {
	select {
	case h.reloadAll <- struct{}{}:
	default:
	}
}

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

func (h *Host) pokePoller() {
	select {
	case h.pollWake <- struct{}{}:
	default:
	}
}

// anyListener reports whether a running script handles subscriptions.
func (h *Host) anyListener() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.actors {
		if a.st.listens.Load() {
			return true
		}
	}
	return false
}

// dispatch hands a subscription event to every listening script.
func (h *Host) dispatch(ev event) {
	h.mu.Lock()
	targets := make([]*actor, 0, len(h.actors))
	for _, a := range h.actors {
		if a.st.listens.Load() {
			targets = append(targets, a)
		}
	}
	h.mu.Unlock()
	for _, a := range targets {
		a.enqueue(ev)
	}
}

// actorFor returns the running actor of name, starting one if needed.
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
	}
	a := newActor(h, st, name)
	h.actors[name] = a
	h.scripts[name] = st
	h.live[a] = struct{}{}
	h.actorWG.Add(1)
	go func() {
		defer h.actorWG.Done()
		a.run(ctx)
		h.mu.Lock()
		delete(h.live, a)
		h.mu.Unlock()
	}()
	return a
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
		h.pokePoller()
	}
}

// Run loads every script, watches the folder, polls subscriptions while a
// script listens, and returns when ctx ends and every goroutine it started
// has ended. Running handlers get until their deadline, at most the
// shutdown grace, to finish. Run may be called once.
func (h *Host) Run(ctx context.Context) error {
	defer h.markLoaded()
	if !h.started.CompareAndSwap(false, true) {
		return errors.New("runtime: Run called more than once")
	}
	if fi, err := os.Stat(h.cfg.ScriptsDir); err != nil {
		return fmt.Errorf("runtime: scripts folder: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("runtime: scripts folder %s is not a directory", h.cfg.ScriptsDir)
	}
	hardCtx, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	h.hardCtx = hardCtx

	w, err := newWatcher(h)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	memCtx, memStop := context.WithCancel(hardCtx)
	defer memStop()
	var memWG sync.WaitGroup
	if h.mem != nil {
		memWG.Add(1)
		go func() {
			defer memWG.Done()
			h.mem.run(memCtx, h.cfg.memEvery)
		}()
	}
	if h.env.subs != nil {
		p := newPoller(h, h.env.subs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.run(ctx)
		}()
	}

	w.run(ctx) // returns when ctx ends

	// Shutdown: actors see ctx and end after their running handler;
	// a handler still running after the grace is cancelled.
	grace := time.AfterFunc(h.cfg.ShutdownTimeout, hardCancel)
	h.actorWG.Wait()
	grace.Stop()
	memStop() // the watchdog guards handlers until the last actor ended
	memWG.Wait()
	wg.Wait()
	w.close()
	h.log.Info().Msg("script host stopped")
	return nil
}
