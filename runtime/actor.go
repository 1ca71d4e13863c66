package runtime

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/lint"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/source"
)

// message is one item of an actor's mailbox: an event from a source, or
// (ev nil) a timer tick. It is small: a mailbox starts with
// initialQueueCap places of them and doubles as it fills.
type message struct {
	ev      *source.Event // shared by every actor it was dispatched to: read-only
	version uint64        // tick: the version whose timer fired
	trigger int32         // tick: index into version.timers
	src     uint8         // event: the number of its source (Host.sourceName)
	done    chan struct{} // optional: closed after handling (benchmarks)
	// acks are the events whose source asked to know when they were
	// handled (source.Event.Handled): this one's, and those of the
	// queued events it replaced (coalesce).
	acks []*handled
}

// handled counts down the scripts an event with a source.Event.Handled
// callback was given to and is not yet done with; by (source.Event.
// HandledBy, may be nil) is told of each but the last.
type handled struct {
	left atomic.Int64
	fn   func()
	by   func(script string)
}

// done records that script is done with the event. by is told first,
// while others are left: a by after the last script's fn would record
// an event already handled.
func (h *handled) done(script string) {
	if h.by != nil && h.left.Load() > 1 {
		h.by(script)
	}
	if h.left.Add(-1) == 0 {
		h.fn()
	}
}

// ack tells the sources of m's events that script is done with them: it
// ran its handlers on them, or stopped for good. A message dropped by the
// host's shutdown is not acknowledged.
func (m message) ack(script string) {
	for _, h := range m.acks {
		h.done(script)
	}
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

// initialQueueCap is the places a mailbox starts with (or Config.QueueLen
// if smaller): it doubles as messages queue up, so an idle script does not
// hold Config.QueueLen places (16 KiB at the default) it never uses.
const initialQueueCap = 8

// mailbox is an actor's queue of messages, oldest first: a ring buffer of
// initialQueueCap places at first, doubled whenever a message is put into
// a full one (enqueue bounds what is put: see firstOf). Messages are
// numbered from 0 in the order they were put; message number n sits at
// buf[(head + n - taken) % len(buf)].
type mailbox struct {
	buf    []message
	head   int    // index of the oldest message
	n      int    // messages queued
	taken  uint64 // messages taken so far: the number of the oldest
	events int    // events queued (ticks not counted), at most Config.QueueLen
	// last is, per coalescing key, the number of its newest queued event.
	last map[eventKey]uint64
}

func (q *mailbox) at(num uint64) *message {
	return &q.buf[(q.head+int(num-q.taken))%len(q.buf)]
}

// put appends m.
func (q *mailbox) put(m message) {
	if q.n == len(q.buf) {
		grown := make([]message, max(2*len(q.buf), 1))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	num := q.taken + uint64(q.n)
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
	if m.ev != nil {
		q.events++
	}
	if key, ok := m.coalesceKey(); ok {
		q.last[key] = num
	}
}

// take removes and returns the oldest message; ok is false when q is empty.
func (q *mailbox) take() (m message, ok bool) {
	if q.n == 0 {
		return message{}, false
	}
	num := q.taken
	m = q.buf[q.head]
	q.buf[q.head] = message{} // let the event go
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.taken++
	if m.ev != nil {
		q.events--
	}
	if key, ok := m.coalesceKey(); ok && q.last[key] == num {
		delete(q.last, key)
	}
	return m, true
}

// firstOf reports whether m is an event about an object with no event
// queued: it may go in past Config.QueueLen, since every later update of
// that object merges into it. The queue is thus bounded by the distinct
// objects (a burst of 10,000 changed subscriptions takes 10,000 places,
// never more), plus QueueLen events that could not merge (an insertion
// after a removal of the same object): only those push back.
func (q *mailbox) firstOf(m message) bool {
	key, ok := m.coalesceKey()
	if !ok {
		return false
	}
	_, queued := q.last[key]
	return !queued
}

// coalesce merges the event m into the newest queued event about the same
// object when both may merge: m is "updated" and the queued one is
// "inserted" or "updated". The queued event then carries m's state (Raw)
// under its own action, in its own place: a subscription inserted then
// changed is one "inserted" with the newest state; changed twice, one
// "updated". Nothing merges across an "inserted" or a "removed" that came
// later, so a removal and a re-insertion are each delivered. It returns
// the message m replaced (its waiter to release) and whether it merged.
func (q *mailbox) coalesce(m message) (replaced message, merged bool) {
	key, ok := m.coalesceKey()
	if !ok || m.ev.Action != source.ActionUpdated {
		return message{}, false
	}
	num, ok := q.last[key]
	if !ok {
		return message{}, false
	}
	slot := q.at(num)
	switch slot.ev.Action {
	case source.ActionUpdated:
	case source.ActionInserted:
		ev := *m.ev
		ev.Action = source.ActionInserted
		m.ev = &ev
	default:
		return message{}, false
	}
	// m carries the replaced event's state forward: handling m handles it.
	m.acks = append(slices.Clip(slot.acks), m.acks...)
	replaced, *slot = *slot, m
	return replaced, true
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
	// result and err, set before done is called, say what became of the
	// request (ReloadWait reads them): loadLoaded, loadFailed (with err),
	// loadDisabled, loadDropped (err says why); "" when it was never
	// taken (a newer load replaced it, or the actor ended).
	result string
	err    error
	// replaced are the requests this one took the place of (requestLoad):
	// they finish with its result, the outcome of the file's newer content.
	replaced []*loadRequest
}

// The results of a load request.
const (
	loadLoaded   = "loaded"
	loadFailed   = "failed"
	loadDisabled = "disabled"
	loadDropped  = "dropped"
)

func (r *loadRequest) finish() {
	if r == nil {
		return
	}
	for _, old := range r.replaced {
		old.result, old.err = r.result, r.err
		old.finish()
	}
	r.replaced = nil
	if r.done != nil {
		r.done()
	}
}

// version is one loaded generation of a script: its own Lua state and
// the triggers its top level registered. Only the actor touches L (and a
// trial's goroutine, until its top level returned).
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
	next   []timerNext // when timer i ticks next, for the status
}

// trial is a load whose top level runs on a goroutine of its own while
// the running version goes on handling events (see load); the actor
// takes its outcome once done is closed. Until then only that goroutine
// touches v.L.
type trial struct {
	req    *loadRequest
	v      *version
	mods   *modules
	start  time.Time
	cancel context.CancelFunc // stops the top level (drop, endTrial)
	// dropped says why the outcome is not taken (a newer load asked for,
	// the version evicted); "" takes it. Actor goroutine only.
	dropped string
	// handedOff: req was passed to the newer load that dropped the trial
	// (its replaced), which finishes it with its own outcome.
	handedOff bool
	err       error         // the top level's, set before done is closed
	done      chan struct{} // closed when the top level returned
}

// drop stops the trial's top level and discards its outcome, for why.
func (t *trial) drop(why string) {
	if t != nil && t.dropped == "" {
		t.dropped = why
		t.cancel()
	}
}

// guards are the actor's call guards: its handlers' (and first load's),
// and its trials'.
func (a *actor) guards() [2]*callGuard { return [2]*callGuard{a.guard, a.loadGuard} }

// actor owns one script: its goroutine is the only one touching the Lua
// states of the script's versions.
type actor struct {
	h     *Host
	st    *scriptState
	log   zerolog.Logger
	chunk string        // chunk name used in file:line messages
	wake  chan struct{} // cap 1: a message, a load or a stop request arrived
	guard *callGuard    // the running call, for the host and the memory watchdog
	// loadGuard is guard for the top level of a new version that runs
	// beside the running one (a trial: see load).
	loadGuard *callGuard
	// secrets answers the script's rc.secret (every version) and redacts
	// what it gave from the errors the host logs.
	secrets *luabind.Secrets

	sizes chan sizeRequest // the host asks for the running version's size (unbuffered)

	mu       sync.Mutex
	pending  *loadRequest
	latest   *loadRequest // the newest content asked for: what a module edit reloads
	tried    *modules     // the modules the newest load looked for
	running  *modules     // the modules the running version looked for
	stopping bool
	reset    bool          // set by requestReset: end the back-off (Enable)
	evict    string        // set by requestEvict: close the running version with this error
	evicted  chan struct{} // closed once that is done
	queue    mailbox
	// space, when not nil, is closed once half the queue's places are
	// free again: the senders waiting for a place (enqueue) try again.
	// ended is set once the actor took its last message: enqueue then
	// returns at once; stopped, with it, when the script stopped while
	// the host runs on (not the shutdown).
	space   chan struct{}
	ended   bool
	stopped bool
	waiting bool // a sender waited since the queue was last empty (logged once)

	// owned by the actor goroutine
	cur    *version
	trial  *trial // a new version's top level running beside cur, nil when none
	nextID uint64
	obs    ScriptObserver
	back   backoff
}

func newActor(h *Host, st *scriptState, chunk string) *actor {
	name := st.name
	return &actor{
		secrets:   h.env.secrets.secretsFor(name, func() []string { return h.allowedSecrets(name) }),
		h:         h,
		st:        st,
		log:       h.log.With().Str("script", st.name).Logger(),
		chunk:     chunk,
		wake:      make(chan struct{}, 1),
		guard:     h.mem.guard(),
		loadGuard: h.mem.guard(),
		sizes:     make(chan sizeRequest),
		queue:     mailbox{buf: make([]message, min(h.cfg.QueueLen, initialQueueCap)), last: map[eventKey]uint64{}},
		obs:       h.obs.Script(st.name),
		back:      backoff{held: newHoldSet()},
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
	if a.ended {
		// The actor took its last request (its script stopped, or the
		// shutdown): nothing will load req.
		a.mu.Unlock()
		req.finish()
		return
	}
	old := a.pending
	a.pending = req
	a.latest = &loadRequest{content: req.content, hash: req.hash}
	if old != nil {
		// A waiter of the replaced request (ReloadWait) learns what
		// became of the newer one.
		req.replaced = append(req.replaced, old)
	}
	a.mu.Unlock()
	a.poke()
}

// requestModuleReload asks the actor to load its newest content again if
// it, or its running version, looked for the module file name; it reports
// whether it did.
func (a *actor) requestModuleReload(name string) bool {
	a.mu.Lock()
	dep := a.tried.dependsOn(name) || a.running.dependsOn(name)
	a.mu.Unlock()
	return dep && a.requestReload()
}

// requestReload asks the actor to load its newest content again (its
// settings changed); it reports whether there was content to load.
func (a *actor) requestReload() bool {
	a.mu.Lock()
	latest := a.latest
	a.mu.Unlock()
	if latest == nil {
		return false
	}
	a.requestLoad(&loadRequest{content: latest.content, hash: latest.hash, forced: true})
	return true
}

// requestReset asks the actor to forget its failures and end its
// back-off, if any (Enable of a script that is not disabled).
func (a *actor) requestReset() {
	a.mu.Lock()
	a.reset = true
	a.mu.Unlock()
	a.poke()
}

// requestStop asks the actor to close its version and end.
func (a *actor) requestStop() {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	a.poke()
}

// enqueue queues m for the actor. An "updated" event merges into the
// queued event about the same object where it may (see coalesce) and takes
// no place; the first queued event about an object always goes in (see
// firstOf); any other event takes one of the Config.QueueLen places, and
// while they are all taken enqueue waits for the actor to take one
// (backpressure: the source waits, nothing is dropped; every script's
// events wait with it, since one source feeds them all). A tick never
// waits: there is at most one per timer. enqueue returns false, m's waiter
// released, when ctx ends or the actor ends before m is queued.
func (a *actor) enqueue(ctx context.Context, m message) bool {
	for {
		a.mu.Lock()
		if a.ended {
			stopped := a.stopped
			a.mu.Unlock()
			if stopped {
				m.ack(a.st.name) // the script is gone: nothing is left to handle it
			}
			m.release()
			return false
		}
		if old, merged := a.queue.coalesce(m); merged {
			a.mu.Unlock()
			old.release()
			a.h.obs.Event(a.h.sourceName(m.src), m.ev.Kind, EventCoalesced)
			n := a.st.coalesced.Add(1)
			a.log.Debug().Str("kind", m.ev.Kind).Str("id", m.ev.ID).Uint64("coalesced", n).
				Msg("update merged into the queued event of the same object")
			return true
		}
		if m.ev == nil || a.queue.events < a.h.cfg.QueueLen || a.queue.firstOf(m) {
			a.queue.put(m)
			a.st.queued.Store(int64(a.queue.n))
			a.mu.Unlock()
			if m.ev != nil {
				a.h.obs.Event(a.h.sourceName(m.src), m.ev.Kind, EventDelivered)
			}
			a.poke()
			return true
		}
		if a.space == nil {
			a.space = make(chan struct{})
		}
		space, first := a.space, !a.waiting
		a.waiting = true
		a.mu.Unlock()
		n := a.st.waits.Add(1)
		if first {
			a.log.Warn().Int("queue_len", a.h.cfg.QueueLen).Uint64("waits", n).
				Msg("event queue full: the source waits for the script")
		}
		select {
		case <-space:
		case <-ctx.Done():
			m.release()
			return false
		}
	}
}

// take removes the oldest message from the queue; ok is false when the
// queue is empty.
func (a *actor) take() (message, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, ok := a.queue.take()
	a.st.queued.Store(int64(a.queue.n))
	// Waiting senders go on once half the places are free, not at every
	// one: a long burst then costs a wake-up per half queue, not per event.
	if ok && m.ev != nil && a.space != nil && a.queue.events <= a.h.cfg.QueueLen/2 {
		close(a.space)
		a.space = nil
	}
	if a.queue.n == 0 {
		a.waiting = false
	}
	return m, ok
}

// run is the actor goroutine. Once ctx ends (shutdown) it takes no further
// event or load: the call running then finishes and run returns. Calls
// run under a context without ctx's cancellation: the host stops them
// through the actor's guard at the end of the shutdown grace.
func (a *actor) run(ctx context.Context) {
	calls := context.WithoutCancel(ctx)
	defer func() {
		a.drain(ctx.Err() == nil) // first: a sender waiting for a place goes at once
		a.endTrial(ctx.Err() == nil)
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
		a.st.setStopped()
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		if t := a.trial; t != nil {
			select {
			case <-t.done:
				a.trial = nil
				a.trialDone(t)
				continue
			default:
			}
		}
		a.mu.Lock()
		var req *loadRequest
		if a.trial == nil {
			req, a.pending = a.pending, nil
		} else if a.pending != nil {
			// A newer load (an edit, a disable) supersedes the trial: it is
			// stopped, and the newer one runs once it has returned. A
			// waiter of the trial's request (ReloadWait) learns the newer
			// one's outcome.
			a.trial.drop("a newer load was asked for")
			if t := a.trial; !t.handedOff {
				t.handedOff = true
				a.pending.replaced = append(a.pending.replaced, t.req)
			}
		}
		stop, evict, evicted, reset := a.stopping, a.evict, a.evicted, a.reset
		a.evict, a.evicted, a.reset = "", nil, false
		a.mu.Unlock()
		if reset {
			a.resetBackoff("enabled")
		}
		if evicted != nil {
			a.trial.drop("the running version was evicted")
			a.evictVersion(evict)
			close(evicted)
		}
		if stop {
			req.finish()
			return
		}
		if req != nil {
			a.load(calls, req)
			continue
		}
		select { // a measurement goes before the next message: a busy actor answers too
		case r := <-a.sizes:
			a.measure(r)
			continue
		default:
		}
		paused := a.paused()
		if !paused {
			// Events held during a back-off go first: they came before.
			if m, ok := a.back.held.take(); ok {
				a.st.held.Store(int64(a.back.held.len()))
				a.handle(calls, m)
				continue
			}
		}
		if m, ok := a.take(); ok {
			if ctx.Err() != nil { // ended while taking it: dropped with the queue
				a.dropped(m)
				return
			}
			if paused {
				a.hold(m)
			} else {
				a.handle(calls, m)
			}
			continue
		}
		var resume *time.Timer
		var resumed <-chan time.Time
		if paused {
			resume = time.NewTimer(time.Until(a.back.until))
			resumed = resume.C
		}
		select {
		case <-ctx.Done():
		case <-a.wake:
		case <-resumed:
		case r := <-a.sizes:
			a.measure(r)
		}
		if resume != nil {
			resume.Stop()
		}
	}
}

// dropped accounts for a message never handled and releases it.
func (a *actor) dropped(m message) {
	if m.ev != nil {
		a.h.obs.Event(a.h.sourceName(m.src), m.ev.Kind, EventDropped)
	}
	m.release()
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
	a.h.obs.MemoryStop("evict", 1)
	a.h.listenersChanged()
	a.log.Error().Str("memory_limit", a.h.mem.limitText).Str("error", msg).
		Msg("script stopped: its state holds the heap over the memory limit")
}

// drain ends the queue: it drops the messages left, releasing their
// waiters, and makes every enqueue, waiting or later, return false.
// stopped is set when the script stopped while the host runs on: the
// dropped events are then acknowledged (nothing will handle them), unlike
// those the shutdown drops.
func (a *actor) drain(stopped bool) {
	a.mu.Lock()
	a.ended, a.stopped = true, stopped
	var left []message
	for m, ok := a.queue.take(); ok; m, ok = a.queue.take() {
		left = append(left, m)
	}
	if a.space != nil {
		close(a.space)
		a.space = nil
	}
	a.mu.Unlock()
	for m, ok := a.back.held.take(); ok; m, ok = a.back.held.take() {
		left = append(left, m)
	}
	a.st.queued.Store(0)
	a.st.held.Store(0)
	for _, m := range left {
		if stopped {
			m.ack(a.st.name)
		}
		a.dropped(m)
	}
}

// load builds a new version in a fresh state and swaps it in only if its
// top level ran without error; otherwise the old version keeps running.
// With a version running, the top level runs on a goroutine of its own
// (a trial, guarded by loadGuard) while the actor goes on handling events
// with the running version; run takes the outcome when it is done, and a
// load asked for meanwhile waits for it. The request is finished once its
// outcome is taken (or the actor ended).
func (a *actor) load(ctx context.Context, req *loadRequest) {
	trying := false // the request is finished when its trial is (see run)
	defer func() {
		if !trying {
			req.finish()
		}
	}()
	if a.h.isDisabled(a.chunk) {
		// An operator's deliberate act (rclua disable, or disabled.json at
		// start): INFO, and a repeat (disable again, an edit, a reload)
		// says the script was disabled already.
		req.result = loadDisabled
		already := a.st.snapshot().State == StateDisabled
		a.disable()
		switch {
		case !already:
			a.log.Info().Msg("script disabled: its triggers are stopped until rclua enable")
		case req.content == nil: // Host.Disable's request
			a.log.Info().Msg("script already disabled: its triggers stay stopped until rclua enable")
		default:
			a.log.Info().Msg("script already disabled: its file is not loaded until rclua enable")
		}
		return
	}
	if a.cur != nil {
		switch {
		case req.hash == a.cur.hash && !req.forced:
			// A broken edit undone, or a save of the same bytes: the running
			// version is this content; running its top level again would
			// restart its timers for nothing.
			a.st.setCurrent()
			a.h.obs.Reload(a.st.name, LoadUnchanged)
			a.log.Info().Str("hash", short(req.hash)).Msg("script content is the running version again: nothing to reload")
			req.result = loadLoaded
			return
		case len(bytes.TrimSpace(req.content)) == 0 && req.hash != a.cur.hash: // (an empty script that runs reloads as any other)
			// Editors and copies truncate a file before writing it: loading
			// that moment (on a change or a SIGHUP) would drop every
			// trigger.
			a.log.Warn().Str("running_hash", short(a.cur.hash)).
				Msg("script file is empty: keeping the running version (delete the file to stop the script)")
			// A restart would load the empty file: a script without triggers.
			a.st.setLoadFailed(a.st.path + ": the file is empty: the running version is an older one")
			req.result, req.err = loadFailed, errors.New(a.st.path+": the file is empty: the running version goes on")
			return
		}
	}
	start := time.Now()
	a.nextID++
	v := &version{id: a.nextID, hash: req.hash, stop: make(chan struct{})}
	mods := newModules(a.h.cfg.ScriptsDir)
	v.L = sandbox.New(sandbox.Options{Unsafe: a.h.cfg.Unsafe, Modules: mods.find, ModuleLoaded: mods.loaded})
	v.reg = newRegistry(modeRun, a.log)
	a.h.env.openState(v.L, a.h.cfg, a.st.name, a.log, v.reg, a.h.sectionOf(a.st.name), a.secrets, a.st.posts)
	if a.cur == nil {
		// Nothing runs: the top level runs here, as a handler would.
		a.loaded(req, v, mods, start, a.runTop(ctx, v, req, a.guard))
		return
	}
	// A version runs: it goes on handling the events and ticks while the
	// new top level runs (a slow or broken edit does not hold it up); the
	// loop takes the outcome (loaded) once the trial is done.
	tctx, cancel := context.WithCancel(ctx)
	t := &trial{req: req, v: v, mods: mods, start: start, cancel: cancel, done: make(chan struct{})}
	a.trial, trying = t, true
	a.mu.Lock()
	a.tried = mods // a module edited while the trial runs reloads the script
	running := a.running
	a.mu.Unlock()
	same := req.hash == a.cur.hash
	require := v.L.GetGlobal("require") // before the top level: the script may assign the global
	go func() {
		defer cancel()
		top := time.Now()
		t.err = a.runTop(tctx, v, req, a.loadGuard)
		if t.err == nil {
			t.err = a.reloadModules(tctx, v, req.content, same, running, require, top)
		}
		close(t.done)
		a.poke()
	}()
}

// reloadModules loads again in v, a trial's state whose top level (begun
// at top) ran without error, the modules the running version loaded
// (running.required(): at its top level or in its handlers, directly or
// through another module), in the order they were first required, as
// its handlers would: a module that does not compile, or whose top level
// fails, then fails the trial as a broken require at the top level does,
// and the running version goes on. A module the top level loaded already
// is not run again (require's cache), nor later by v's handlers. When
// same is false (the script was edited), only the modules that content
// still requires by a constant name, directly or through the modules it
// so requires (lint.Requires), are loaded: a module the edit stopped
// using must not hold it up. The call is guarded as the top level was
// and ends at the load's deadline (the load timeout from top). An error
// without a position (a module missing now) is the script's: "a.lua:
// require ...".
func (a *actor) reloadModules(ctx context.Context, v *version, content []byte, same bool, running *modules, require lua.LValue, top time.Time) error {
	names := running.required()
	if len(names) > 0 && !same {
		names = a.stillRequired(names, content)
	}
	if len(names) == 0 {
		return nil
	}
	fn := v.L.NewFunction(func(L *lua.LState) int {
		for _, name := range names {
			L.Push(require)
			L.Push(lua.LString(name))
			L.Call(1, 0)
		}
		return 0
	})
	timeout := a.h.cfg.LoadTimeout
	dctx, cancel := context.WithDeadline(ctx, top.Add(timeout))
	defer cancel()
	err := pcallGuarded(dctx, v.L, timeout, a.loadGuard, kindModules, fn)
	if se, ok := err.(*scriptError); ok && !positioned.MatchString(se.Msg) {
		// No Lua frame ran (a module missing now): the script's name leads.
		se.Msg = a.chunk + ": " + strings.TrimLeft(se.Msg, " ") // (RaiseError leads with the position it has not)
	}
	return redactErr(a.secrets, err)
}

// stillRequired returns, in their order, those of names that content (the
// script's) requires by a constant name, directly or through the modules
// of the scripts folder it so requires.
func (a *actor) stillRequired(names []string, content []byte) []string {
	uses, err := lint.Requires(a.chunk, content, moduleSource(a.h.cfg.ScriptsDir))
	if err != nil { // its top level ran, so it parses: not reached
		return nil
	}
	return slices.DeleteFunc(names, func(name string) bool { return !uses[name] })
}

// trialDone takes a finished trial's outcome: it replaces the running
// version if it loaded, unless it was dropped or the script was disabled
// meanwhile (its state is then closed, never run).
func (a *actor) trialDone(t *trial) {
	defer func() {
		if !t.handedOff {
			t.req.finish()
		}
	}()
	why := t.dropped
	if why == "" && a.h.isDisabled(a.chunk) {
		why = "the script was disabled"
	}
	if why != "" {
		t.v.L.Close()
		a.log.Debug().Str("hash", short(t.req.hash)).Str("why", why).Msg("script load dropped")
		if !t.handedOff {
			t.req.result, t.req.err = loadDropped, errors.New(why)
		}
		return
	}
	a.loaded(t.req, t.v, t.mods, t.start, t.err)
}

// runTop runs the top level of req's content in v's state, under g.
func (a *actor) runTop(ctx context.Context, v *version, req *loadRequest, g *callGuard) error {
	err := redactErr(a.secrets, runChunkGuarded(ctx, v.L, a.chunk, req.content, a.h.cfg.LoadTimeout, g, kindLoad))
	v.reg.loading = false
	return err
}

// endTrial ends a trial still running when the actor ends: stopped at
// once when the script stopped (its file removed), else (the shutdown)
// left to finish as a handler would, within the grace. Its version is
// closed, never swapped in.
func (a *actor) endTrial(stopped bool) {
	t := a.trial
	if t == nil {
		return
	}
	a.trial = nil
	if stopped {
		t.cancel() // sticky, even before its call began
	}
	<-t.done
	t.v.L.Close()
	if !t.handedOff {
		t.req.finish()
	}
}

// loaded takes the outcome of req's load into v (err from its top level,
// which started at start): v replaces the running version if its top
// level ran without error, else it is closed and the running version
// goes on.
func (a *actor) loaded(req *loadRequest, v *version, mods *modules, start time.Time, err error) {
	req.result, req.err = loadLoaded, err
	if err != nil {
		req.result = loadFailed
	}
	a.mu.Lock()
	a.tried = mods
	if err == nil {
		a.running = mods
	}
	a.mu.Unlock()
	if err != nil {
		v.L.Close()
		if a.cur != nil && req.hash == a.cur.hash {
			// A forced reload of the running content (SIGHUP, rclua
			// reload) that failed (a slow server, a timeout): the file is
			// what runs, not broken.
			a.st.setError(err.Error())
		} else {
			a.st.setLoadFailed(err.Error())
		}
		a.h.obs.Reload(a.st.name, LoadFailed)
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
	a.st.setTriggers(v.reg.labels(), v.reg.firstLabels())
	a.st.timers.Store(&v.next)
	a.h.obs.Reload(a.st.name, LoadOK)
	a.resetBackoff("reloaded")
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
	v.next = make([]timerNext, len(v.reg.timers))
	for i, t := range v.reg.timers {
		v.next[i].label = t.label
		v.timers.Add(1)
		go func() {
			defer v.timers.Done()
			defer v.next[i].next.Store(0)
			if t.Schedule != nil {
				a.cronTimer(v, i, t)
			} else {
				a.everyTimer(v, i, t)
			}
		}()
	}
}

// everyTimer ticks timer i, an rc.every, each interval of elapsed time
// (the monotonic clock: a step of the system clock moves nothing).
func (a *actor) everyTimer(v *version, i int, t trigger) {
	for {
		v.next[i].next.Store(time.Now().Add(t.Interval).UnixNano())
		if !a.timerWait(v, t, t.Interval) {
			return
		}
		a.tick(v, i)
	}
}

// cronTimer ticks timer i, an rc.cron, at each time of its schedule by
// the wall clock, which it reads again at least every cronWake: a step
// of the system clock (NTP at boot, a resumed VM, date run by hand)
// moves the wait with it. A step forward past a time ticks it once,
// late. A step back never ticks a time again: the next time is computed
// only when one ticks (from the clock then, at or after it), never on a
// wake-up before it.
func (a *actor) cronTimer(v *version, i int, t trigger) {
	cfg := &a.h.cfg
	now := cfg.now()
	next := t.Schedule.Next(now)
	for !next.IsZero() {
		v.next[i].next.Store(next.UnixNano())
		if !a.timerWait(v, t, min(next.Sub(now), cfg.cronWake)) {
			return
		}
		now = cfg.now()
		if cfg.timerWoke != nil {
			cfg.timerWoke(t.label, now)
		}
		if now.Before(next) {
			continue
		}
		a.tick(v, i)
		next = t.Schedule.Next(now)
	}
}

// timerWait waits d; false when the version or the trigger stopped first.
func (a *actor) timerWait(v *version, t trigger, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-v.stop:
		return false
	case <-t.stopped:
		return false
	case <-tm.C:
		return true
	}
}

// tick queues a run of timer i, unless one is queued already. A tick
// never waits: ctx is unused.
func (a *actor) tick(v *version, i int) {
	if v.queued[i].CompareAndSwap(false, true) && !a.enqueue(context.Background(), message{version: v.id, trigger: int32(i)}) {
		v.queued[i].Store(false)
	}
}

// handle runs one message in the current version.
func (a *actor) handle(ctx context.Context, m message) {
	v := a.cur
	if v == nil {
		m.ack(a.st.name) // no version is left to handle it
		a.dropped(m)
		return
	}
	defer m.release()
	cut := false // a handler was stopped by the shutdown: the source delivers it again after the restart
	defer func() {
		if !cut {
			m.ack(a.st.name)
		}
	}()
	if m.ev == nil { // a timer tick
		if m.version != v.id || int(m.trigger) >= len(v.reg.timers) {
			return // a timer of a replaced version
		}
		v.queued[m.trigger].Store(false)
		if t := v.reg.timers[m.trigger]; !t.isStopped() {
			a.call(ctx, v, t)
		}
		return
	}
	// Each handler gets its own arguments: tables are mutable, so one set
	// for all would show each handler the previous ones' edits.
	for _, t := range v.reg.handlers[m.ev.Kind] {
		if t.isStopped() { // by its handle, maybe in an earlier handler of this event
			continue
		}
		args, err := luabind.EventArgs(v.L, m.ev.Kind, m.ev.Action, m.ev.Raw)
		if err != nil {
			a.log.Error().Err(err).Str("trigger", t.label).Msg("cannot convert the event for Lua")
			continue
		}
		if a.call(ctx, v, t, args...) {
			cut = true
		}
	}
}

// call runs one handler under the handler deadline and accounts for it;
// it reports whether the host stopped the call at the end of the shutdown
// grace (the event is then not done with).
func (a *actor) call(ctx context.Context, v *version, t trigger, args ...lua.LValue) (shutdown bool) {
	a.st.runs.Add(1)
	start := time.Now()
	k := kindHandler
	k.label, k.start = t.label, start
	err := redactErr(a.secrets, pcallGuarded(ctx, v.L, a.h.cfg.HandlerTimeout, a.guard, k, t.Fn, args...))
	outcome := CallOK
	alone := false // stopped by the memory limit, the only call running
	defer func() {
		a.obs.Call(triggerKind(t), outcome, time.Since(start))
		a.afterCall(outcome, alone)
	}()
	if err == nil {
		if e := a.log.Debug(); e.Enabled() { // a line per call only at debug: the time is read only then
			e.Str("trigger", t.label).Stringer("took", since(start)).Msg("handler ran")
		}
		return false
	}
	a.st.setError(err.Error())
	se, _ := err.(*scriptError)
	// A call the shutdown stopped fails with context.Canceled (explainStop);
	// calls run under a context that is never cancelled otherwise.
	shutdown = se != nil && !se.Memory && errors.Is(se, context.Canceled)
	if se != nil && se.Memory {
		outcome, alone = CallMemory, se.alone
		a.st.memory.Add(1)
		a.log.Error().Str("trigger", t.label).Str("memory_limit", a.h.mem.limitText).
			Stringer("took", since(start)).Str("error", err.Error()).Msg("handler stopped: memory limit exceeded")
		return false
	}
	if se != nil && se.Timeout {
		outcome = CallTimeout
		a.st.timeouts.Add(1)
		a.log.Error().Str("trigger", t.label).Stringer("timeout", a.h.cfg.HandlerTimeout).
			Stringer("took", since(start)).Str("error", err.Error()).Msg("handler stopped at its deadline")
		return false
	}
	outcome = CallError
	a.st.errors.Add(1)
	logScriptError(a.log.Error().Str("trigger", t.label), err, "handler failed")
	return shutdown
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
