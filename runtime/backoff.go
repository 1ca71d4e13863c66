package runtime

import (
	"container/list"
	"time"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime/source"
)

// backoff is an actor's record of failing calls: Config.BackoffAfter
// failures in a row pause the script's triggers until until. It is owned
// by the actor goroutine (scriptState mirrors it for Status).
type backoff struct {
	fails int       // failed calls in a row
	step  int       // pauses since the last success, reload or Enable
	until time.Time // zero: not paused
	// held keeps the newest state of each object whose events were taken
	// from the queue while paused, for the handlers to see when the pause
	// ends.
	held    holdSet
	dropped bool // a message event was dropped in this pause (logged once)
}

// holdSet is what a paused script keeps of the events taken from its queue:
// the newest state of each object, in the order the objects first came.
// It is bounded by the distinct objects and never drops a subscription
// event; see actor.hold.
type holdSet struct {
	order *list.List                 // of message, by the object's first arrival
	at    map[eventKey]*list.Element // the element of each held object
}

func newHoldSet() holdSet {
	return holdSet{order: list.New(), at: map[eventKey]*list.Element{}}
}

// len is the number of objects held.
func (s *holdSet) len() int { return len(s.at) }

// merge folds m (an event with an id) into the hold: the object's held
// event takes m's state, under the action the script must see: inserted
// then removed is nothing (the script never saw it); held inserted stays
// inserted; held removed or updated, then inserted or updated, is
// updated; anything then removed is removed. It returns the message m
// replaced or cancelled (to release) and whether there was one; cancelled
// reports that m cancelled it out (inserted then removed): m is not held
// either, and is the caller's to release too.
func (s *holdSet) merge(m message) (old message, merged, cancelled bool) {
	key, _ := m.coalesceKey()
	el, merged := s.at[key]
	if !merged {
		s.at[key] = s.order.PushBack(m)
		return message{}, false, false
	}
	old = el.Value.(message)
	action := source.ActionUpdated
	switch {
	case m.ev.Action == source.ActionRemoved && old.ev.Action == source.ActionInserted:
		s.order.Remove(el)
		delete(s.at, key)
		return old, true, true
	case m.ev.Action == source.ActionRemoved:
		action = source.ActionRemoved
	case old.ev.Action == source.ActionInserted:
		action = source.ActionInserted
	}
	if m.ev.Action != action {
		ev := *m.ev // shared with the other scripts: copied, not changed
		ev.Action = action
		m.ev = &ev
	}
	el.Value = m
	return old, true, false
}

// take removes and returns the event of the object held longest; ok is
// false when nothing is held.
func (s *holdSet) take() (m message, ok bool) {
	e := s.order.Front()
	if e == nil {
		return message{}, false
	}
	m = s.order.Remove(e).(message)
	key, _ := m.coalesceKey()
	delete(s.at, key)
	return m, true
}

// paused reports whether the triggers are paused now; it ends a pause
// whose time is over.
func (a *actor) paused() bool {
	b := &a.back
	if b.until.IsZero() {
		return false
	}
	if time.Now().Before(b.until) {
		return true
	}
	b.until, b.dropped = time.Time{}, false
	a.st.setBackoff(b.step, time.Time{})
	a.obs.BackOff(b.step, time.Time{})
	a.log.Info().Int("step", b.step).Int("held_events", b.held.len()).Msg("back-off over: triggers resume")
	return false
}

// hold keeps m, taken from the queue while the triggers are paused. A
// tick is dropped (a paused timer does not fire). An event about an object
// merges into the hold (see holdSet.merge), so the handlers see each
// object's newest state when the pause ends; an event a merge leaves
// unhandled (the one replaced, or both of an insertion and its removal)
// is released and counted as coalesced. A message event, or one
// without an id, is dropped (counted, logged once per pause): a paused
// rc.respond must not answer hour-old commands. Whatever enters the hold
// or is dropped is acknowledged at once, so a pause does not hold back the
// sources' cursors (a restart during a pause thus loses the held events:
// the script sees the newest state at its next event or resync).
func (a *actor) hold(m message) {
	b := &a.back
	if m.ev == nil {
		if v := a.cur; v != nil && m.version == v.id && int(m.trigger) < len(v.queued) {
			v.queued[m.trigger].Store(false)
		}
		m.release()
		return
	}
	m.ack(a.st.name) // done with, for the sources (and a restart), as the doc above says
	m.acks = nil     // acknowledged: handling it later must not count it again
	if _, ok := m.coalesceKey(); !ok || m.ev.Kind == source.KindMessage {
		if !b.dropped {
			b.dropped = true
			a.log.Warn().Str("kind", m.ev.Kind).
				Msg("backed-off script: dropping the message events (and events without an id) that arrive until the pause ends")
		}
		a.dropped(m)
		return
	}
	old, merged, cancelled := b.held.merge(m)
	// The count first: a release tells a waiter the event is done, and
	// what it reads of the status then must agree.
	a.st.held.Store(int64(b.held.len()))
	if merged {
		a.heldCoalesced(old)
	}
	if cancelled { // m goes with the insertion it cancelled: never handled either
		a.heldCoalesced(m)
	}
}

// heldCoalesced accounts for m, an event that left the hold without being
// handled because a later event about its object merged with it, and
// releases it.
func (a *actor) heldCoalesced(m message) {
	a.st.coalesced.Add(1)
	a.h.obs.Event(a.h.sourceName(m.src), m.ev.Kind, EventCoalesced)
	m.release()
}

// afterCall counts a handler call's outcome towards the back-off: a
// success resets it; an error or a deadline stop counts, and a memory stop
// when the call was the only one running (alone: the one that grew the
// heap; the watchdog stops every running call, whoever holds the heap, so
// the others' stops do not count); Config.BackoffAfter failures in a row
// pause the triggers.
func (a *actor) afterCall(outcome string, alone bool) {
	b := &a.back
	switch outcome {
	case CallOK:
		if b.fails > 0 || b.step > 0 {
			a.resetBackoff("a handler succeeded")
		}
		return
	case CallError, CallTimeout:
	case CallMemory:
		if !alone {
			return
		}
	default:
		return
	}
	b.fails++
	if n := a.h.cfg.BackoffAfter; n < 0 || b.fails < n {
		return
	}
	b.fails = 0
	b.step++
	pause := a.backoffPause(b.step)
	b.until = time.Now().Add(pause)
	a.st.setBackoff(b.step, b.until)
	a.obs.BackOff(b.step, b.until)
	a.log.Warn().Int("failures_in_a_row", a.h.cfg.BackoffAfter).Int("step", b.step).
		Stringer("pause", pause.Round(time.Second)).Time("until", b.until).
		Msg("script keeps failing: triggers paused (events are held; a success, a reload or rclua enable resets it)")
}

// backoffPause is the pause of step (1, 2, ...): backoffMin doubled per
// step up to backoffMax, less up to a fifth of it at random (jitter), so
// scripts failing together do not resume together.
func (a *actor) backoffPause(step int) time.Duration {
	return rc.Backoff{Min: a.h.cfg.backoffMin, Max: a.h.cfg.backoffMax, Jitter: 0.2}.Delay(step)
}

// resetBackoff forgets the failures and ends a pause (why says what reset it).
func (a *actor) resetBackoff(why string) {
	b := &a.back
	wasPaused := !b.until.IsZero()
	b.fails, b.step, b.until, b.dropped = 0, 0, time.Time{}, false
	a.st.setBackoff(0, time.Time{})
	if wasPaused {
		a.obs.BackOff(0, time.Time{})
		a.log.Info().Str("reason", why).Int("held_events", b.held.len()).Msg("back-off reset: triggers resume")
	}
}

// disable closes the running version of a script Host.Disable stopped:
// its triggers stop and events for it are no longer dispatched; held
// events are dropped. load logs it.
func (a *actor) disable() {
	a.resetBackoff("disabled")
	for m, ok := a.back.held.take(); ok; m, ok = a.back.held.take() {
		a.dropped(m) // acknowledged when held
	}
	a.st.held.Store(0)
	if a.cur != nil {
		a.closeVersion(a.cur)
		a.cur = nil
	}
	a.st.setDisabled()
	a.h.listenersChanged()
}
