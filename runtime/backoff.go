package runtime

import (
	"math/rand/v2"
	"time"
)

// backoff is an actor's record of failing calls: Config.BackoffAfter
// failures in a row pause the script's triggers until until. It is owned
// by the actor goroutine (scriptState mirrors it for Status).
type backoff struct {
	fails int       // failed calls in a row
	step  int       // pauses since the last success, reload or Enable
	until time.Time // zero: not paused
	// held keeps the events taken from the queue while paused, merged as
	// the queue merges them, for the handlers to see when the pause ends.
	held    mailbox
	dropped bool // an event was dropped in this pause (logged once)
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
	a.log.Info().Int("step", b.step).Int("held_events", b.held.n).Msg("back-off over: triggers resume")
	return false
}

// heldMax bounds the events held during a pause that could not merge and
// are not the first of their object (see mailbox.firstOf): like the
// queue, the hold is bounded by the distinct objects plus this.
func (a *actor) heldMax() int { return a.h.cfg.QueueLen }

// hold keeps m, taken from the queue while the triggers are paused: a
// tick is dropped (a paused timer does not fire); an event merges into
// the held event of the same object where the queue would merge it, and
// is otherwise kept, so the handlers see every object's newest state when
// the pause ends. Past heldMax events that could not merge it is dropped
// (counted, logged once per pause).
func (a *actor) hold(m message) {
	b := &a.back
	if m.ev == nil {
		if v := a.cur; v != nil && m.version == v.id && int(m.trigger) < len(v.queued) {
			v.queued[m.trigger].Store(false)
		}
		m.release()
		return
	}
	if old, merged := b.held.coalesce(m); merged {
		old.release()
		a.st.coalesced.Add(1)
		a.h.obs.Event(a.h.sourceName(m.src), m.ev.Kind, EventCoalesced)
		return
	}
	if b.held.events < a.heldMax() || b.held.firstOf(m) {
		b.held.put(m)
		a.st.held.Store(int64(b.held.n))
		return
	}
	if !b.dropped {
		b.dropped = true
		a.log.Warn().Int("held_events", b.held.n).Str("kind", m.ev.Kind).
			Msg("backed-off script: too many events held that cannot merge; dropping further ones until the pause ends")
	}
	m.ack() // nothing will handle it: its source may move on
	a.dropped(m)
}

// afterCall counts a handler call's outcome towards the back-off: a
// success resets it; an error or a deadline stop counts (a memory stop
// does not: the watchdog stops every running call, whoever holds the
// heap); Config.BackoffAfter failures in a row pause the triggers.
func (a *actor) afterCall(outcome string) {
	b := &a.back
	switch outcome {
	case CallOK:
		if b.fails > 0 || b.step > 0 {
			a.resetBackoff("a handler succeeded")
		}
		return
	case CallError, CallTimeout:
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
	lo, hi := a.h.cfg.backoffMin, a.h.cfg.backoffMax
	d := lo
	for i := 1; i < step && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	if j := int64(d / 5); j > 0 {
		d -= time.Duration(rand.Int64N(j))
	}
	return d
}

// resetBackoff forgets the failures and ends a pause (why says what reset it).
func (a *actor) resetBackoff(why string) {
	b := &a.back
	wasPaused := !b.until.IsZero()
	b.fails, b.step, b.until, b.dropped = 0, 0, time.Time{}, false
	a.st.setBackoff(0, time.Time{})
	if wasPaused {
		a.obs.BackOff(0, time.Time{})
		a.log.Info().Str("reason", why).Int("held_events", b.held.n).Msg("back-off reset: triggers resume")
	}
}

// disable closes the running version of a script Host.Disable stopped:
// its triggers stop and events for it are no longer dispatched; held
// events are dropped.
func (a *actor) disable() {
	a.resetBackoff("disabled")
	for m, ok := a.back.held.take(); ok; m, ok = a.back.held.take() {
		m.ack() // a disabled script does not see them
		a.dropped(m)
	}
	a.st.held.Store(0)
	if a.cur != nil {
		a.closeVersion(a.cur)
		a.cur = nil
	}
	a.st.setDisabled()
	a.h.listenersChanged()
	a.log.Warn().Msg("script disabled: its triggers are stopped until rclua enable")
}
