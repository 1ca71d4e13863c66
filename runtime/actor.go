package runtime

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// eventKind says what an event carries.
type eventKind int

const (
	evSubscription eventKind = iota // a subscription change
	evTick                          // a timer of one version fired
)

// event is a mailbox message.
type event struct {
	kind    eventKind
	version uint64 // evTick: the version whose timer fired
	trigger int    // evTick: index into version.timers
	action  string // evSubscription: inserted, updated, removed
	sub     *rc.Subscription
	removed *rc.RemovedSubscription
	done    chan struct{} // optional: closed after handling (benchmarks)
	seq     uint64        // evSubscription: set by enqueue (per actor, from 1); 0: not tracked
}

// subID is the subscription _id an event is about ("" for ticks).
func (ev event) subID() string {
	switch {
	case ev.kind != evSubscription:
		return ""
	case ev.removed != nil:
		return ev.removed.ID
	case ev.sub != nil:
		return ev.sub.ID
	}
	return ""
}

// queuedSub is one queued subscription event in an actor's per-_id list.
type queuedSub struct {
	seq     uint64
	updated bool // action "updated" (the only one that may be skipped)
}

// release tells the event's waiter, if any, that it was handled or dropped.
func (ev event) release() {
	if ev.done != nil {
		close(ev.done)
	}
}

// loadRequest asks an actor to load content.
type loadRequest struct {
	content []byte
	hash    string
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
	mailbox chan event
	wake    chan struct{}
	guard   *callGuard // the running call, for the memory watchdog; nil when it is off

	mu       sync.Mutex
	pending  *loadRequest
	stopping bool
	// Subscription events in the mailbox, by _id, oldest first: an
	// "updated" event followed in this list by another "updated" is stale
	// and skipped (coalescing). Entries are added by enqueue and removed
	// when the actor takes the event, so the map is bounded by the queue.
	seq    uint64
	queued map[string][]queuedSub

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
		mailbox: make(chan event, h.cfg.QueueLen),
		wake:    make(chan struct{}, 1),
		guard:   h.mem.guard(),
		queued:  map[string][]queuedSub{},
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

// enqueue hands an event to the actor without blocking; a full queue drops
// the event, counts it and warns (the first time and every 100th). A
// subscription event is numbered and listed under its _id for coalescing.
func (a *actor) enqueue(ev event) bool {
	id := ev.subID()
	a.mu.Lock()
	if id != "" {
		a.seq++
		ev.seq = a.seq
	}
	var sent bool
	select { // non-blocking: holding mu is fine
	case a.mailbox <- ev:
		sent = true
		if id != "" {
			a.queued[id] = append(a.queued[id], queuedSub{seq: ev.seq, updated: ev.action == "updated"})
		}
	default:
	}
	a.mu.Unlock()
	if !sent {
		n := a.st.dropped.Add(1)
		if n == 1 || n%100 == 0 {
			a.log.Warn().Uint64("dropped", n).Int("queue_len", cap(a.mailbox)).Msg("event queue full: event dropped")
		}
		ev.release()
	}
	return sent
}

// stale takes ev off its _id's list of queued events and reports whether
// it is an "updated" event directly followed there by another "updated":
// the handler will see that newer state, so this one can be skipped. An
// "inserted" or "removed" event is never stale, and an "updated" one
// followed by either is not skipped across it.
func (a *actor) stale(ev event) bool {
	id := ev.subID()
	if id == "" || ev.seq == 0 {
		return false // a tick, or an event put in the mailbox directly
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	list := a.queued[id]
	i := 0
	for i < len(list) && list[i].seq != ev.seq {
		i++
	}
	if i == len(list) {
		return false
	}
	newer := i+1 < len(list) && list[i].updated && list[i+1].updated
	list = append(list[:i], list[i+1:]...)
	if len(list) == 0 {
		delete(a.queued, id)
	} else {
		a.queued[id] = list
	}
	return newer
}

// run is the actor goroutine. Once ctx ends (shutdown) it takes no further
// event or load: the call running then finishes and run returns. Handler
// and load deadlines derive from the host's hard context.
func (a *actor) run(ctx context.Context) {
	defer func() {
		a.mu.Lock()
		p := a.pending
		a.pending = nil
		a.mu.Unlock()
		p.finish()
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
		req, stop := a.pending, a.stopping
		a.pending = nil
		a.mu.Unlock()
		if stop {
			req.finish()
			return
		}
		if req != nil {
			a.load(req)
			req.finish()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case ev := <-a.mailbox:
			if ctx.Err() != nil { // select picks at random among ready cases
				ev.release()
				return
			}
			a.handle(ev)
		}
	}
}

// drain drops the events left in the queue, releasing their waiters.
func (a *actor) drain() {
	for {
		select {
		case ev := <-a.mailbox:
			ev.release()
		default:
			return
		}
	}
}

// load builds a new version in a fresh state and swaps it in only if its
// top level ran without error; otherwise the old version keeps running.
func (a *actor) load(req *loadRequest) {
	start := time.Now()
	a.nextID++
	v := &version{id: a.nextID, hash: req.hash, stop: make(chan struct{})}
	v.L = newSandbox(a.h.cfg.Unsafe)
	v.reg = &registry{mode: modeRun, log: a.log, loading: true}
	a.h.env.openState(v.L, a.h.cfg, a.log, v.reg)
	err := runChunkGuarded(a.h.hardCtx, v.L, a.chunk, req.content, a.h.cfg.LoadTimeout, a.guard, kindLoad)
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
	a.st.listens.Store(len(v.reg.subs) > 0)
	a.h.pokePoller()
	msg := "script loaded"
	if old != nil {
		msg = "script reloaded"
	}
	a.log.Info().Str("hash", short(req.hash)).Int("subscription_handlers", len(v.reg.subs)).
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
					if v.queued[i].CompareAndSwap(false, true) && !a.enqueue(event{kind: evTick, version: v.id, trigger: i}) {
						v.queued[i].Store(false)
					}
				}
			}
		}()
	}
}

// handle dispatches one event to the current version; a stale
// subscription update (see stale) is counted in Coalesced and skipped.
func (a *actor) handle(ev event) {
	defer ev.release()
	if a.stale(ev) {
		n := a.st.coalesced.Add(1)
		a.log.Debug().Str("subscription", ev.subID()).Uint64("coalesced", n).
			Msg("stale subscription update skipped: a newer one is queued")
		return
	}
	v := a.cur
	if v == nil {
		return
	}
	switch ev.kind {
	case evTick:
		if ev.version != v.id || ev.trigger >= len(v.reg.timers) {
			return // a timer of a replaced version
		}
		v.queued[ev.trigger].Store(false)
		a.call(v, v.reg.timers[ev.trigger])
	case evSubscription:
		// Each handler gets its own table: tables are mutable, so one
		// decoded for all would show each handler the previous ones' edits.
		for _, t := range v.reg.subs {
			arg, err := a.subscriptionValue(v.L, ev)
			if err != nil {
				a.log.Error().Err(err).Str("trigger", t.label).Msg("cannot convert the subscription for Lua")
				continue
			}
			a.call(v, t, lua.LString(ev.action), arg)
		}
	}
}

// subscriptionValue converts the event's subscription into a Lua table.
func (a *actor) subscriptionValue(L *lua.LState, ev event) (lua.LValue, error) {
	if ev.removed != nil {
		t := L.NewTable()
		t.RawSetString("_id", lua.LString(ev.removed.ID))
		t.RawSetString("_deletedAt", lua.LString(ev.removed.DeletedAt.UTC().Format(isoMillis)))
		return t, nil
	}
	raw := []byte(ev.sub.Raw)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(ev.sub); err != nil {
			return nil, err
		}
	}
	return luajson.DecodeBytes(L, raw)
}

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// call runs one handler under the handler deadline and accounts for it.
func (a *actor) call(v *version, t trigger, args ...lua.LValue) {
	a.st.runs.Add(1)
	start := time.Now()
	err := pcallGuarded(a.h.hardCtx, v.L, a.h.cfg.HandlerTimeout, a.guard, kindHandler, t.Fn, args...)
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
