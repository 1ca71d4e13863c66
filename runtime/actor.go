package runtime

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/source"
)

// message is one item of an actor's mailbox: an event from a source, or
// (ev nil) a timer tick. It is small: every actor's mailbox holds
// Config.QueueLen of them from the start.
type message struct {
	ev      *source.Event // shared by every actor it was dispatched to: read-only
	version uint64        // tick: the version whose timer fired
	trigger int           // tick: index into version.timers
	done    chan struct{} // optional: closed after handling (benchmarks)
	seq     uint64        // an event: set by enqueue (per actor, from 1); 0: not tracked
}

// eventKey is what an event is about, for coalescing: its kind and id.
type eventKey struct{ kind, id string }

// coalesceKey is m's eventKey; ok is false for ticks and events without
// an id.
func (m message) coalesceKey() (key eventKey, ok bool) {
	if m.ev == nil || m.ev.ID == "" {
		return eventKey{}, false
	}
	return eventKey{m.ev.Kind, m.ev.ID}, true
}

// queuedEvent is one queued event in an actor's per-object list.
type queuedEvent struct {
	seq     uint64
	updated bool // action "updated" (the only one that may be skipped)
}

// release tells the message's waiter, if any, that it was handled or
// dropped.
func (m message) release() {
	if m.done != nil {
		close(m.done)
	}
}

// loadRequest asks an actor to load content.
type loadRequest struct {
	content []byte
	hash    string
	forced  bool   // a reload asked for (ReloadAll): load even unchanged content
	done    func() // optional: called once the request is finished or dropped
}

func (r *loadRequest) finish() {
	if r != nil && r.done != nil {
		r.done()
	}
}

// version is one loaded generation of a script: its own Lua state and
// the triggers its top level registered. Only the actor touches L.
type version struct {
	id     uint64
	L      *lua.LState
	hash   string
	reg    *registry
	stop   chan struct{}
	timers sync.WaitGroup
	// queued[i] is set while a tick of timer i waits in the mailbox: a
	// timer whose handler is slower than its period has at most one tick
	// queued, so it cannot fill the queue and crowd out other events.
	queued []atomic.Bool
}

// actor owns one script: its goroutine is the only one touching the Lua
// states of the script's versions.
type actor struct {
	h       *Host
	st      *scriptState
	log     zerolog.Logger
	chunk   string // chunk name used in file:line messages
	mailbox chan message
	wake    chan struct{}
	guard   *callGuard // the running call, for the host and the memory watchdog

	sizes chan sizeRequest // the host asks for the running version's size (unbuffered)

	mu       sync.Mutex
	pending  *loadRequest
	stopping bool
	evict    string        // set by requestEvict: close the running version with this error
	evicted  chan struct{} // closed once that is done
	// Events in the mailbox, by what they are about (coalesceKey), oldest
	// first: an "updated" event followed in this list by another
	// "updated" is stale and skipped (coalescing). Entries are added by
	// enqueue and removed when the actor takes the event, so the map is
	// bounded by the queue.
	seq    uint64
	queued map[eventKey][]queuedEvent

	// owned by the actor goroutine
	cur    *version
	nextID uint64
}

func newActor(h *Host, st *scriptState, chunk string) *actor {
	return &actor{
		h:       h,
		st:      st,
		log:     h.log.With().Str("script", st.name).Logger(),
		chunk:   chunk,
		mailbox: make(chan message, h.cfg.QueueLen),
		wake:    make(chan struct{}, 1),
		guard:   h.mem.guard(),
		sizes:   make(chan sizeRequest),
		queued:  map[eventKey][]queuedEvent{},
	}
}

func (a *actor) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// requestLoad replaces any pending load with req; never blocks.
func (a *actor) requestLoad(req *loadRequest) {
	a.mu.Lock()
	old := a.pending
	a.pending = req
	a.mu.Unlock()
	old.finish()
	a.poke()
}

// requestStop asks the actor to close its version and end.
func (a *actor) requestStop() {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	a.poke()
}

// enqueue hands a message to the actor without blocking; a full queue
// drops it, counts it and warns (the first time and every 100th). An event
// is numbered and listed under its coalescing key.
func (a *actor) enqueue(m message) bool {
	key, keyed := m.coalesceKey()
	a.mu.Lock()
	if keyed {
		a.seq++
		m.seq = a.seq
	}
	var sent bool
	select { // non-blocking: holding mu is fine
	case a.mailbox <- m:
		sent = true
		if keyed {
			a.queued[key] = append(a.queued[key], queuedEvent{seq: m.seq, updated: m.ev.Action == source.ActionUpdated})
		}
	default:
	}
	a.mu.Unlock()
	if !sent {
		n := a.st.dropped.Add(1)
		if n == 1 || n%100 == 0 {
			a.log.Warn().Uint64("dropped", n).Int("queue_len", cap(a.mailbox)).Msg("event queue full: event dropped")
		}
		m.release()
	}
	return sent
}

// stale takes m off its key's list of queued events and reports whether
// it is an "updated" event directly followed there by another "updated":
// the handler will see that newer state, so this one can be skipped. An
// "inserted" or "removed" event is never stale, and an "updated" one
// followed by either is not skipped across it.
func (a *actor) stale(m message) bool {
	key, keyed := m.coalesceKey()
	if !keyed || m.seq == 0 {
		return false // a tick, or a message put in the mailbox directly
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.queued[key]
	i := 0
	for i < len(list) && list[i].seq != m.seq {
		i++
	}
	if i == len(list) {
		return false
	}
	newer := i+1 < len(list) && list[i].updated && list[i+1].updated
	list = append(list[:i], list[i+1:]...)
	if len(list) == 0 {
		delete(a.queued, key)
	} else {
		a.queued[key] = list
	}
	return newer
}

// run is the actor goroutine. Once ctx ends (shutdown) it takes no further
// event or load: the call running then finishes and run returns. Calls
// run under a context without ctx's cancellation: the host stops them
// through the actor's guard at the end of the shutdown grace.
func (a *actor) run(ctx context.Context) {
	calls := context.WithoutCancel(ctx)
	defer func() {
		a.mu.Lock()
		p, evicted := a.pending, a.evicted
		a.pending, a.evicted = nil, nil
		a.mu.Unlock()
		p.finish()
		if evicted != nil {
			close(evicted)
		}
		a.closeVersion(a.cur)
		a.cur = nil
		a.drain()
		a.st.setStopped()
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		a.mu.Lock()
		req, stop, evict, evicted := a.pending, a.stopping, a.evict, a.evicted
		a.pending, a.evict, a.evicted = nil, "", nil
		a.mu.Unlock()
		if evicted != nil {
			a.evictVersion(evict)
			close(evicted)
		}
		if stop {
			req.finish()
			return
		}
		if req != nil {
			a.load(calls, req)
			req.finish()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case r := <-a.sizes:
			a.measure(r)
		case m := <-a.mailbox:
			if ctx.Err() != nil { // select picks at random among ready cases
				m.release()
				return
			}
			a.handle(calls, m)
		}
	}
}

// sizeRequest asks an actor to estimate what its running version holds.
type sizeRequest struct {
	ctx   context.Context
	reply chan<- scriptSize // buffered by the asker: never blocks
}

// scriptSize is an actor's answer to a sizeRequest.
type scriptSize struct {
	a        *actor
	bytes    int64
	complete bool // false: a lower bound (the walk was cut)
}

// measure answers r with the size of the running version's state and the
// functions its triggers hold (0 with no version).
func (a *actor) measure(r sizeRequest) {
	out := scriptSize{a: a, complete: true}
	if v := a.cur; v != nil {
		roots := make([]*lua.LFunction, 0, len(v.reg.timers)+1)
		for _, t := range v.reg.timers {
			roots = append(roots, t.Fn)
		}
		for _, list := range v.reg.handlers {
			for _, t := range list {
				roots = append(roots, t.Fn)
			}
		}
		out.bytes, out.complete = stateSize(r.ctx, v.L, roots, sizeWalkMax)
	}
	r.reply <- out
}

// requestEvict asks the actor to close its running version, recording
// msg as the script's error: the memory watchdog's last resort against a
// script holding the heap. A later load (an edit, SIGHUP) starts it again.
// The channel returned is closed once the version is closed (or the actor
// ended).
func (a *actor) requestEvict(msg string) <-chan struct{} {
	done := make(chan struct{})
	a.mu.Lock()
	if a.evicted != nil {
		close(a.evicted) // superseded
	}
	a.evict, a.evicted = msg, done
	a.mu.Unlock()
	a.poke()
	return done
}

// evictVersion closes the running version: its state's memory becomes
// garbage, its triggers stop.
func (a *actor) evictVersion(msg string) {
	if a.cur == nil {
		return
	}
	a.closeVersion(a.cur)
	a.cur = nil
	a.st.setEvicted(msg)
	a.h.listenersChanged()
}

// drain drops the messages left in the queue, releasing their waiters.
func (a *actor) drain() {
	for {
		select {
		case m := <-a.mailbox:
			m.release()
		default:
			return
		}
	}
}

// load builds a new version in a fresh state and swaps it in only if its
// top level ran without error; otherwise the old version keeps running.
func (a *actor) load(ctx context.Context, req *loadRequest) {
	if a.cur != nil && !req.forced {
		switch {
		case req.hash == a.cur.hash:
			// A broken edit undone, or a save of the same bytes: the running
			// version is this content; running its top level again would
			// restart its timers for nothing.
			a.st.setCurrent()
			a.log.Info().Str("hash", short(req.hash)).Msg("script content is the running version again: nothing to reload")
			return
		case len(bytes.TrimSpace(req.content)) == 0:
			// Editors and copies truncate a file before writing it: loading
			// that moment would drop every trigger.
			a.log.Warn().Str("running_hash", short(a.cur.hash)).
				Msg("script file is empty: keeping the running version (delete the file to stop the script)")
			return
		}
	}
	start := time.Now()
	a.nextID++
	v := &version{id: a.nextID, hash: req.hash, stop: make(chan struct{})}
	v.L = sandbox.New(sandbox.Options{Unsafe: a.h.cfg.Unsafe})
	v.reg = newRegistry(modeRun, a.log)
	a.h.env.openState(v.L, a.h.cfg, a.log, v.reg)
	err := runChunkGuarded(ctx, v.L, a.chunk, req.content, a.h.cfg.LoadTimeout, a.guard, kindLoad)
	v.reg.loading = false
	if err != nil {
		v.L.Close()
		a.st.setLoadFailed(err.Error())
		ev := a.log.Error().Str("hash", short(req.hash))
		if a.cur != nil {
			ev = ev.Str("running_hash", short(a.cur.hash))
		}
		ev = ev.Bool("kept_running_version", a.cur != nil)
		logScriptError(ev, err, "script load failed")
		return
	}
	old := a.cur
	a.cur = v
	a.closeVersion(old)
	a.startTimers(v)
	a.st.setLoaded(req.hash, time.Now())
	a.st.setListens(v.reg.kinds())
	a.h.listenersChanged()
	msg := "script loaded"
	if old != nil {
		msg = "script reloaded"
	}
	handlers := 0
	for _, list := range v.reg.handlers {
		handlers += len(list)
	}
	a.log.Info().Str("hash", short(req.hash)).Int("event_handlers", handlers).
		Int("timers", len(v.reg.timers)).Stringer("took", since(start)).Msg(msg)
}

// closeVersion stops a version's timers and closes its state.
func (a *actor) closeVersion(v *version) {
	if v == nil {
		return
	}
	close(v.stop)
	v.timers.Wait()
	v.L.Close()
}

// startTimers starts one goroutine per rc.every/rc.cron trigger; each ends
// when the version closes.
func (a *actor) startTimers(v *version) {
	v.queued = make([]atomic.Bool, len(v.reg.timers))
	for i, t := range v.reg.timers {
		v.timers.Add(1)
		go func() {
			defer v.timers.Done()
			for {
				var d time.Duration
				if t.Schedule != nil {
					now := time.Now()
					next := t.Schedule.Next(now)
					if next.IsZero() {
						return
					}
					d = next.Sub(now)
				} else {
					d = t.Interval
				}
				tm := time.NewTimer(d)
				select {
				case <-v.stop:
					tm.Stop()
					return
				case <-tm.C:
					if v.queued[i].CompareAndSwap(false, true) && !a.enqueue(message{version: v.id, trigger: i}) {
						v.queued[i].Store(false)
					}
				}
			}
		}()
	}
}

// handle runs one message in the current version; a stale event (see
// stale) is counted in Coalesced and skipped.
func (a *actor) handle(ctx context.Context, m message) {
	defer m.release()
	if a.stale(m) {
		n := a.st.coalesced.Add(1)
		a.log.Debug().Str("kind", m.ev.Kind).Str("id", m.ev.ID).Uint64("coalesced", n).
			Msg("stale update skipped: a newer one is queued")
		return
	}
	v := a.cur
	if v == nil {
		return
	}
	if m.ev == nil { // a timer tick
		if m.version != v.id || m.trigger >= len(v.reg.timers) {
			return // a timer of a replaced version
		}
		v.queued[m.trigger].Store(false)
		a.call(ctx, v, v.reg.timers[m.trigger])
		return
	}
	// Each handler gets its own arguments: tables are mutable, so one set
	// for all would show each handler the previous ones' edits.
	for _, t := range v.reg.handlers[m.ev.Kind] {
		args, err := luabind.EventArgs(v.L, m.ev.Kind, m.ev.Action, m.ev.Raw)
		if err != nil {
			a.log.Error().Err(err).Str("trigger", t.label).Msg("cannot convert the event for Lua")
			continue
		}
		a.call(ctx, v, t, args...)
	}
}

// call runs one handler under the handler deadline and accounts for it.
func (a *actor) call(ctx context.Context, v *version, t trigger, args ...lua.LValue) {
	a.st.runs.Add(1)
	start := time.Now()
	err := pcallGuarded(ctx, v.L, a.h.cfg.HandlerTimeout, a.guard, kindHandler, t.Fn, args...)
	if err == nil {
		return
	}
	a.st.setError(err.Error())
	se, _ := err.(*scriptError)
	if se != nil && se.Memory {
		a.st.errors.Add(1)
		a.log.Error().Str("trigger", t.label).Str("memory_limit", a.h.mem.limitText).
			Stringer("took", since(start)).Str("error", err.Error()).Msg("handler stopped: memory limit exceeded")
		return
	}
	if se != nil && se.Timeout {
		a.st.timeouts.Add(1)
		a.log.Error().Str("trigger", t.label).Stringer("timeout", a.h.cfg.HandlerTimeout).
			Stringer("took", since(start)).Str("error", err.Error()).Msg("handler stopped at its deadline")
		return
	}
	a.st.errors.Add(1)
	logScriptError(a.log.Error().Str("trigger", t.label), err, "handler failed")
}

// since is the time elapsed from start as logged in "took" fields.
func since(start time.Time) time.Duration {
	return time.Since(start).Round(time.Millisecond)
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
