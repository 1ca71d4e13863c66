package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime/source"
)

// recObserver records what the host tells its Observer.
type recObserver struct {
	mu       sync.Mutex
	calls    map[string]int // "script trigger outcome"
	events   map[string]int // "source kind outcome"
	reloads  map[string]int // "script result"
	backoffs []string       // "script step paused|resumed"
	forgot   []string       // scripts forgotten
}

func newRecObserver() *recObserver {
	return &recObserver{calls: map[string]int{}, events: map[string]int{}, reloads: map[string]int{}}
}

func (o *recObserver) Script(name string) ScriptObserver { return recScript{o, name} }

func (o *recObserver) Event(src, kind, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events[src+" "+kind+" "+outcome]++
}

func (o *recObserver) Reload(script, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reloads[script+" "+result]++
}

func (o *recObserver) MemoryStop(string, int) {}
func (o *recObserver) Forget(script string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.forgot = append(o.forgot, script)
}

func (o *recObserver) forgotten() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.forgot)
}

func (o *recObserver) get(m map[string]int, key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return m[key]
}

func (o *recObserver) backoffList() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.backoffs...)
}

type recScript struct {
	o    *recObserver
	name string
}

func (s recScript) Call(trigger, outcome string, _ time.Duration) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	s.o.calls[s.name+" "+trigger+" "+outcome]++
}

func (s recScript) BackOff(step int, until time.Time) {
	s.o.mu.Lock()
	defer s.o.mu.Unlock()
	what := "paused"
	if until.IsZero() {
		what = "resumed"
	}
	s.o.backoffs = append(s.o.backoffs, fmt.Sprintf("%s %d %s", s.name, step, what))
}

// failing fails on the subscriptions "bad..." (an error) and "slow..." (a
// deadline stop), and records the others.
const failing = `rc.on("subscription", function(action, sub)
  if sub._id:find("^bad") then error("boom") end
  if sub._id:find("^slow") then while true do end end
  record(action, sub._id, sub.n)
end)`

// TestBackoffPausesAndHoldsEvents: errors and deadline stops in a row
// pause the script's triggers (logged once, visible in status and to the
// observer); the events arriving meanwhile are held and merged, not lost
// and not run; a reload resets the back-off and the handler then sees the
// newest state of each object, once.
func TestBackoffPausesAndHoldsEvents(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	obs := newRecObserver()
	cfg := Config{BackoffAfter: 3, HandlerTimeout: 50 * time.Millisecond, backoffMin: time.Hour}
	th := startHostObs(t, cfg, g.env(), []source.Source{src}, map[string]string{"f.lua": failing}, obs)
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")

	for _, id := range []string{"bad1", "slow", "bad2"} {
		require.True(t, src.send(subEvent(source.ActionUpdated, id, 0)))
	}
	st := th.waitStatus("f", "backed off", func(s ScriptStatus) bool { return s.BackoffStep == 1 })
	assert.False(t, st.BackedOffUntil.IsZero(), "pause end in status")
	assert.Greater(t, time.Until(st.BackedOffUntil), 40*time.Minute, "first pause about backoffMin (jittered by at most a fifth)")
	assert.Equal(t, uint64(2), st.Errors)
	assert.Equal(t, uint64(1), st.Timeouts, "a deadline stop counts towards the back-off")
	assert.Equal(t, []string{"f 1 paused"}, obs.backoffList())

	// While paused: an insert and nine updates of x, and an update of y.
	require.True(t, src.send(subEvent(source.ActionInserted, "x", 1)))
	for n := 2; n <= 10; n++ {
		require.True(t, src.send(subEvent(source.ActionUpdated, "x", n)))
	}
	require.True(t, src.send(subEvent(source.ActionUpdated, "y", 7)))
	// Both objects in the hold, the queue empty: Queued counts both, and an
	// update of x still queued beside a held x would count 2 too (it would
	// then run after the reset as an event of its own).
	a := th.h.actorOf("f.lua")
	th.logs.eventually(t, waitFor, func() bool { return a.st.held.Load() == 2 && a.st.queued.Load() == 0 }, "two events held, none queued")
	st, _ = th.status("f")
	assert.Equal(t, 2, st.Queued, "status counts the held events")
	assert.Equal(t, uint64(3), st.Runs, "no handler ran while paused")
	assert.Empty(t, g.records())
	assert.Equal(t, 1, th.logs.count("script keeps failing: triggers paused (events are held; a success, a reload or rclua enable resets it)"), "logged once per step")

	require.NoError(t, th.h.Reload("f"))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 2 }, "the held events")
	assert.Equal(t, []string{"inserted x 10", "updated y 7"}, g.records(), "newest state of each object, in order, once")
	st = th.waitStatus("f", "reset", func(s ScriptStatus) bool { return s.BackoffStep == 0 })
	assert.True(t, st.BackedOffUntil.IsZero())
	assert.Equal(t, 0, st.Queued)
	assert.Equal(t, []string{"f 1 paused", "f 0 resumed"}, obs.backoffList())
	assert.GreaterOrEqual(t, obs.get(obs.events, "source subscription coalesced"), 8, "merges during the pause are counted")
	assert.Zero(t, obs.get(obs.events, "source subscription dropped"))
	assert.Equal(t, 2, obs.get(obs.calls, "f subscription error"))
	assert.Equal(t, 1, obs.get(obs.calls, "f subscription timeout"))
	assert.Equal(t, 2, obs.get(obs.calls, "f subscription ok"))
	assert.Equal(t, 2, obs.get(obs.reloads, "f ok"), "the start and the reload")
}

// TestBackoffEndsAndDoubles: a pause ends by itself; the next failures in
// a row pause again at the next step (twice as long); failures separated
// by a success never pause.
func TestBackoffEndsAndDoubles(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	obs := newRecObserver()
	cfg := Config{BackoffAfter: 2, backoffMin: 20 * time.Millisecond, backoffMax: time.Hour}
	th := startHostObs(t, cfg, g.env(), []source.Source{src}, map[string]string{"f.lua": failing}, obs)
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")

	n := 0
	send := func(id string) { // distinct ids: queued updates of one object would merge
		n++
		require.True(t, src.send(subEvent(source.ActionUpdated, fmt.Sprint(id, n), 0)))
	}
	send("bad")
	send("bad")
	th.logs.eventually(t, waitFor, func() bool { return len(obs.backoffList()) == 2 }, "a pause and its end")
	assert.Equal(t, []string{"f 1 paused", "f 1 resumed"}, obs.backoffList())
	send("bad")
	send("bad")
	th.logs.eventually(t, waitFor, func() bool { return len(obs.backoffList()) == 4 }, "the second pause's end")
	// Step 2 is a pause of twice backoffMin: TestBackoffPauseBounds checks
	// the arithmetic, without a clock.
	assert.Equal(t, []string{"f 1 paused", "f 1 resumed", "f 2 paused", "f 2 resumed"}, obs.backoffList(),
		"the second run of failures is step 2")
	assert.Equal(t, 1, th.logs.count("back-off over: triggers resume", "step", "2"), "the second pause ended by itself")

	send("good") // a success resets the step
	th.waitStatus("f", "reset", func(s ScriptStatus) bool { return s.BackoffStep == 0 })
	for range 3 { // bad, good, bad, good...: never two in a row
		send("bad")
		send("good")
	}
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 4 }, "the successes")
	assert.Equal(t, "updated good", g.records()[0][:12])
	assert.Len(t, obs.backoffList(), 4, "failures separated by successes do not pause")
}

// TestBackoffPauseBounds: the pause doubles from backoffMin, never passes
// backoffMax, and the jitter only shortens it by at most a fifth.
func TestBackoffPauseBounds(t *testing.T) {
	t.Parallel()
	h := newHost(Config{}, env{}, nil, zerolog.Nop())
	a := &actor{h: h}
	for step, want := range map[int]time.Duration{1: time.Minute, 2: 2 * time.Minute, 6: 32 * time.Minute, 7: time.Hour, 40: time.Hour} {
		for range 20 {
			d := a.backoffPause(step)
			assert.LessOrEqual(t, d, want, "step %d", step)
			assert.Greater(t, d, want*4/5-time.Nanosecond, "step %d", step)
		}
	}
}

// TestDisableEnable: a disabled script stops handling and listening, stays
// disabled through an edit, and Enable loads the file as it is now; a
// script of Config.Disabled starts disabled; unknown names are refused.
func TestDisableEnable(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	cfg := Config{Disabled: []string{"off"}}
	th := startHostObs(t, cfg, g.env(), []source.Source{src}, map[string]string{
		"on.lua":  `rc.on("subscription", function(a, s) record("v1", s._id) end)`,
		"off.lua": `rc.on("subscription", function(a, s) record("off", s._id) end)`,
	}, nil)
	st, _ := th.status("off")
	assert.Equal(t, StateDisabled, st.State, "disabled at start")
	assert.Equal(t, []string{"off"}, th.h.Disabled())
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")

	require.NoError(t, th.h.Disable("on.lua"))
	st = th.waitStatus("on", "disabled", func(s ScriptStatus) bool { return s.State == StateDisabled })
	assert.Empty(t, st.Listens)
	assert.Empty(t, st.Triggers)
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return !r }, "the source to stop: nobody listens")

	v2 := `rc.on("subscription", function(a, s) record("v2", s._id) end)`
	renameOver(t, filepath.Join(th.dir, "on.lua"), v2)
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("script already disabled: its file is not loaded until rclua enable") >= 1
	}, "the edit to be seen")
	st, _ = th.status("on")
	assert.Equal(t, StateDisabled, st.State, "an edit does not enable")

	require.NoError(t, th.h.Enable("on"))
	st = th.waitStatus("on", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	assert.Equal(t, hashOf(v2), st.Hash, "Enable loads the file as it is now")
	assert.Equal(t, []string{"off"}, th.h.Disabled())
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run again")
	require.True(t, src.send(subEvent(source.ActionUpdated, "s", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the event")
	assert.Equal(t, []string{"v2 s"}, g.records(), "the disabled script got nothing")

	for _, bad := range []string{"nope", "../on", "on.txt", ""} {
		assert.True(t, errors.Is(th.h.Disable(bad), ErrUnknownScript), "Disable(%q)", bad)
		assert.True(t, errors.Is(th.h.Enable(bad), ErrUnknownScript), "Enable(%q)", bad)
		assert.True(t, errors.Is(th.h.Reload(bad), ErrUnknownScript), "Reload(%q)", bad)
	}
	err := th.h.Reload("on", "nope")
	require.ErrorIs(t, err, ErrUnknownScript)
	assert.Contains(t, err.Error(), "scripts: off, on", "the error names the scripts there are")
}

// pauseScript starts a host running failing (plus, in f.lua, a message
// handler recording "msg <id>") with a queue of queueLen places, and
// backs it off with one failed call: an hour's pause.
func pauseScript(t *testing.T, queueLen int, obs *recObserver) (*testHost, *gatedEnv, *testSource) {
	t.Helper()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription, source.KindMessage)
	cfg := Config{BackoffAfter: 1, QueueLen: queueLen, backoffMin: time.Hour}
	script := failing + "\n" + `rc.on("message", function(msg, action) record("msg", msg._id) end)`
	th := startHostObs(t, cfg, g.env(), []source.Source{src}, map[string]string{"f.lua": script}, obs)
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")
	require.True(t, src.send(subEvent(source.ActionUpdated, "bad", 0)))
	th.waitStatus("f", "backed off", func(s ScriptStatus) bool { return s.BackoffStep == 1 })
	return th, g, src
}

// msgEvent is a message event about the message id.
func msgEvent(id string) source.Event {
	return source.Event{Kind: source.KindMessage, Action: "created", ID: id,
		Raw: []byte(`{"_id":"` + id + `","rid":"r","msg":"!ping"}`)}
}

// TestBackoffHoldKeepsRemovalPastQueueLen: with a queue of one place, a
// removal arriving after many held updates of the same object is neither
// dropped nor held beside them: the handler sees the object removed, once.
func TestBackoffHoldKeepsRemovalPastQueueLen(t *testing.T) {
	t.Parallel()
	obs := newRecObserver()
	th, g, src := pauseScript(t, 1, obs)
	for n := 1; n <= 20; n++ {
		require.True(t, src.send(subEvent(source.ActionUpdated, "x", n)))
	}
	require.True(t, src.send(subEvent(source.ActionUpdated, "y", 1)))
	require.True(t, src.send(subEvent(source.ActionRemoved, "x", 0)))
	th.waitStatus("f", "x and y held", func(s ScriptStatus) bool {
		return s.Queued == 2 && obs.get(obs.events, "source subscription coalesced") == 20
	})

	require.NoError(t, th.h.Reload("f"))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 2 }, "the held events")
	assert.Equal(t, []string{"removed x nil", "updated y 1"}, g.records(), "x removed once, in the place it first came")
	assert.Zero(t, obs.get(obs.events, "source subscription dropped"), "no subscription event dropped")
}

// TestBackoffHoldMergesActions: an object inserted and removed during a
// pause is never shown (the script never saw it); removed then inserted
// again is an update; inserted then updated is an insertion of the
// newest state.
func TestBackoffHoldMergesActions(t *testing.T) {
	t.Parallel()
	th, g, src := pauseScript(t, 4, newRecObserver())
	for _, ev := range []source.Event{
		subEvent(source.ActionInserted, "gone", 1),
		subEvent(source.ActionUpdated, "gone", 2),
		subEvent(source.ActionRemoved, "back", 0),
		subEvent(source.ActionInserted, "new", 1),
		subEvent(source.ActionRemoved, "gone", 0),
		subEvent(source.ActionInserted, "back", 5),
		subEvent(source.ActionUpdated, "new", 2),
	} {
		require.True(t, src.send(ev))
	}
	// The final hold: two events left of seven, five merged away (Queued is
	// 2 on the way too, with events still to come).
	th.waitStatus("f", "back and new held", func(s ScriptStatus) bool { return s.Queued == 2 && s.Coalesced == 5 })
	require.NoError(t, th.h.Reload("f"))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 2 }, "the held events")
	assert.Equal(t, []string{"updated back 5", "inserted new 2"}, g.records())
}

// TestBackoffHoldReleasesCancelledEvents: an insertion and a removal of
// one object that cancel out in the hold are both released (their waiters
// are told) and both counted as coalesced, so delivered events still add
// up to those handled, coalesced and dropped.
func TestBackoffHoldReleasesCancelledEvents(t *testing.T) {
	t.Parallel()
	obs := newRecObserver()
	th, g, src := pauseScript(t, 4, obs)
	a := th.actorOf("f.lua")
	send := func(action string) chan struct{} {
		ev := subEvent(action, "gone", 1)
		done := make(chan struct{})
		require.True(t, a.enqueue(context.Background(), message{ev: &ev, done: done}))
		return done
	}
	inserted := send(source.ActionInserted)
	removed := send(source.ActionRemoved)
	for what, done := range map[string]chan struct{}{"the insertion": inserted, "the removal": removed} {
		select {
		case <-done:
		case <-time.After(waitFor):
			t.Fatalf("%s was never released", what)
		}
	}
	st, _ := th.status("f")
	assert.Equal(t, 0, st.Queued, "nothing held")
	assert.Equal(t, uint64(2), st.Coalesced, "both count as coalesced")
	delivered := obs.get(obs.events, "source subscription delivered")
	assert.Equal(t, 3, delivered, "bad, then the insertion and the removal")
	assert.Equal(t, delivered, obs.get(obs.calls, "f subscription error")+
		obs.get(obs.events, "source subscription coalesced")+obs.get(obs.events, "source subscription dropped"),
		"every delivered event is handled, coalesced or dropped")

	require.NoError(t, th.h.Reload("f"))
	require.True(t, src.send(subEvent(source.ActionUpdated, "after", 2)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "an event after the pause")
	assert.Equal(t, []string{"updated after 2"}, g.records(), "the cancelled object is never shown")
}

// TestBackoffDropsMessagesAndAcksAtHoldTime: message events arriving
// during a pause are dropped (counted, logged once), not answered when it
// ends; every event taken into the hold, or dropped there, is reported
// handled at once, while the pause goes on, and not a second time when it
// is handled after the pause (with one script a second acknowledgement
// would not show: TestBackoffHeldEventAckedOnceWithTwoScripts checks it).
func TestBackoffDropsMessagesAndAcksAtHoldTime(t *testing.T) {
	t.Parallel()
	obs := newRecObserver()
	th, g, src := pauseScript(t, 4, obs)
	var m1, m2, s1, s2 handledCount
	msg := func(h *handledCount, id string) source.Event {
		ev := msgEvent(id)
		ev.Handled = func() { h.n.Add(1) }
		return ev
	}
	require.True(t, src.send(msg(&m1, "m1")))
	require.True(t, src.send(s1.event(source.ActionUpdated, "s", 1)))
	require.True(t, src.send(msg(&m2, "m2")))
	require.True(t, src.send(s2.event(source.ActionUpdated, "s", 2)))
	th.logs.eventually(t, waitFor, func() bool { return s2.n.Load() == 1 }, "the held update acknowledged")
	st, _ := th.status("f")
	assert.Equal(t, 1, st.BackoffStep, "still paused")
	for name, h := range map[string]*handledCount{"m1": &m1, "m2": &m2, "s1": &s1} {
		assert.Equal(t, int32(1), h.n.Load(), "%s acknowledged during the pause", name)
	}
	assert.Equal(t, 2, obs.get(obs.events, "source message dropped"))
	assert.Equal(t, 1, th.logs.count("backed-off script: dropping the message events (and events without an id) that arrive until the pause ends"), "logged once per pause")

	require.NoError(t, th.h.Reload("f"))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the held update")
	require.True(t, src.send(msgEvent("m3"))) // after the pause: answered
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 2 }, "a message after the pause")
	assert.Equal(t, []string{"updated s 2", "msg m3"}, g.records(), "held messages are not answered after the pause")
	assert.Equal(t, int32(1), s1.n.Load(), "not acknowledged twice")
	assert.Equal(t, int32(1), s2.n.Load(), "not acknowledged twice")
}

// TestBackoffHeldEventAckedOnceWithTwoScripts: an event given to two
// scripts, a paused and b busy in its handler, is acknowledged by a when
// a holds it and not again when a handles it after the pause: its
// Handled waits for b, so a source's cursor never passes an event b has
// not handled. With one script a second acknowledgement would go
// unnoticed (the countdown passes zero without firing again).
func TestBackoffHeldEventAckedOnceWithTwoScripts(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	cfg := Config{BackoffAfter: 1, backoffMin: time.Hour}
	busy := `rc.on("subscription", function(action, sub)
  record("b", action, sub._id)
  if sub._id == "x" then gate() end
end)`
	th := startHostEnv(t, cfg, g.env(), []source.Source{src}, map[string]string{"a.lua": failing, "b.lua": busy})
	t.Cleanup(g.open) // before the shutdown, even when the test fails
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")

	require.True(t, src.send(subEvent(source.ActionUpdated, "bad", 0)))
	th.waitStatus("a", "a backed off", func(s ScriptStatus) bool { return s.BackoffStep == 1 })
	var x handledCount
	require.True(t, src.send(x.event(source.ActionUpdated, "x", 1)))
	th.waitStatus("a", "x held by a", func(s ScriptStatus) bool { return s.Queued == 1 })
	th.logs.eventually(t, waitFor, func() bool { return slices.Contains(g.records(), "b updated x") }, "b running its handler on x")

	require.NoError(t, th.h.Reload("a"))
	th.logs.eventually(t, waitFor, func() bool { return slices.Contains(g.records(), "updated x 1") }, "a handling the held x")
	// a handles its messages one after the other: once it has handled y, it
	// is done with x (x's acknowledgement, if any, came before).
	require.True(t, src.send(subEvent(source.ActionUpdated, "y", 2)))
	th.logs.eventually(t, waitFor, func() bool { return slices.Contains(g.records(), "updated y 2") }, "a handling y")
	assert.Zero(t, x.n.Load(), "b is still running its handler on x: not handled")

	g.open()
	th.logs.eventually(t, waitFor, func() bool { return x.n.Load() == 1 }, "x handled once b is done")
	th.logs.eventually(t, waitFor, func() bool { return slices.Contains(g.records(), "b updated y") }, "b handling y")
	assert.Equal(t, int32(1), x.n.Load(), "handled once")
}

// TestEnableEndsBackoff: Enable of a script that is backed off, not
// disabled, ends the pause at once without reloading it: the held events
// are handled, and the script runs its triggers again.
func TestEnableEndsBackoff(t *testing.T) {
	t.Parallel()
	obs := newRecObserver()
	th, g, src := pauseScript(t, 4, obs)
	require.True(t, src.send(subEvent(source.ActionUpdated, "held", 1)))
	th.waitStatus("f", "an event held", func(s ScriptStatus) bool { return s.Queued == 1 })

	require.NoError(t, th.h.Enable("f"))
	st := th.waitStatus("f", "reset", func(s ScriptStatus) bool { return s.BackoffStep == 0 })
	assert.True(t, st.BackedOffUntil.IsZero())
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the held event")
	require.True(t, src.send(subEvent(source.ActionUpdated, "after", 2)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 2 }, "a new event")
	assert.Equal(t, []string{"updated held 1", "updated after 2"}, g.records())
	assert.Equal(t, 1, th.logs.count("back-off reset: triggers resume", "reason", "enabled"))
	assert.Equal(t, 1, obs.get(obs.reloads, "f ok"), "not reloaded: only the start")
	assert.Empty(t, th.h.Disabled())
}

// TestRemovedScriptIsNotBackedOff: a paused script whose file is removed
// is stopped, not "backed off" until its pause would have ended (an hour):
// the status and the back-off gauge let the alert clear.
func TestRemovedScriptIsNotBackedOff(t *testing.T) {
	t.Parallel()
	th, _, _ := pauseScript(t, 4, newRecObserver())
	require.NoError(t, os.Remove(filepath.Join(th.dir, "f.lua")))
	st := th.waitStatus("f", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	assert.Zero(t, st.BackoffStep)
	assert.True(t, st.BackedOffUntil.IsZero())
}
