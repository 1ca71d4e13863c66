package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/source"
)

// handledCount is an Event.Handled that counts its calls.
type handledCount struct{ n atomic.Int32 }

func (h *handledCount) event(action, id string, n int) source.Event {
	ev := subEvent(action, id, n)
	ev.Handled = func() { h.n.Add(1) }
	return ev
}

// TestEventHandledOnceEveryScriptIsDone: an event's Handled is called
// once, only after every listening script ran its handlers on it; an
// update merged into a queued one is handled when that one is.
func TestEventHandledOnceEveryScriptIsDone(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript, "l.lua": listener})
	t.Cleanup(g.open) // before the shutdown, even when the test fails
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")

	var block, a1, a2 handledCount
	require.True(t, src.send(block.event(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 && th.events("updated", "block") == 1 }, "both scripts have it")
	require.True(t, src.send(a1.event(source.ActionUpdated, "A", 1)))
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "A") == 1 }, "l handled the first")
	require.True(t, src.send(a2.event(source.ActionUpdated, "A", 2)))
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "A") == 2 }, "l handled both")
	assert.Zero(t, block.n.Load(), "c is still running its handler")
	assert.Zero(t, a1.n.Load(), "c has not handled it yet")
	assert.Zero(t, a2.n.Load(), "c has not handled it yet")

	g.open()
	th.logs.eventually(t, waitFor, func() bool { return a2.n.Load() == 1 }, "handled by every script")
	assert.Equal(t, int32(1), block.n.Load())
	assert.Equal(t, int32(1), a1.n.Load(), "merged into the later update, handled with it")
	assert.Equal(t, []string{"updated block 0", "updated A 2"}, g.records(), "c ran A once, in its newest state")
}

// TestEventDroppedAtShutdownIsNotHandled: an event still queued when the
// host shuts down, or whose handler the shutdown grace cut off, is never
// reported handled (a source saving its cursor then delivers it again
// after the restart).
func TestEventDroppedAtShutdownIsNotHandled(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{ShutdownTimeout: 50 * time.Millisecond}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	var block, queued handledCount
	require.True(t, src.send(block.event(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")
	require.True(t, src.send(queued.event(source.ActionUpdated, "X", 1)))
	th.shutdown()
	assert.Zero(t, queued.n.Load(), "dropped by the shutdown: not handled")
	assert.Zero(t, block.n.Load(), "its handler was cut off by the shutdown grace: not handled")
	assert.Equal(t, 1, th.logs.count("handler failed", "error", "c.lua:4: stopped: the daemon is shutting down"), "the handler was cut off")
	assert.Equal(t, []string{"updated block 0"}, g.records())
}

// TestShutdownSourcesOutliveTheScripts: in the shutdown the sources run
// until every script has ended, so a handler that finishes in the grace
// is reported handled before its source saves its cursor and stops; an
// event a source emits meanwhile, when no running script listens to its
// kind any more, is not reported handled (nobody handled it: a restart
// delivers it).
func TestShutdownSourcesOutliveTheScripts(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	subs, msgs := newTestSource(source.KindSubscription), newTestSource(source.KindMessage)
	th := startHostEnv(t, Config{ShutdownTimeout: time.Minute}, g.env(), []source.Source{subs, msgs},
		map[string]string{"c.lua": gatedScript, "m.lua": `rc.on("message", function(msg) record(msg._id) end)`})
	t.Cleanup(g.open)
	th.logs.eventually(t, waitFor, func() bool {
		a, _ := subs.running()
		b, _ := msgs.running()
		return a && b
	}, "both sources run")
	var block, late handledCount
	require.True(t, subs.send(block.event(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")

	// An emit of the message source that is still going on when its
	// listener stops (the source stops when the last one has).
	msgs.mu.Lock()
	emitLate := msgs.emit
	msgs.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		th.shutdown()
	}()
	th.waitStatus("m", "stopped by the shutdown", func(s ScriptStatus) bool { return s.State == StateStopped })
	on, _ := subs.running()
	assert.True(t, on, "the source runs while a handler finishes in the grace")
	ev := source.Event{Kind: source.KindMessage, Action: source.ActionCreated, ID: "late",
		Raw: []byte(`{"_id":"late","rid":"r","msg":"late","u":{"_id":"u","username":"bob"}}`), Handled: func() { late.n.Add(1) }}
	// It waits (the source is held until it is stopped) and is not
	// reported handled.
	lateCtx, cancelLate := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelLate()
	assert.ErrorIs(t, emitLate(lateCtx, ev), context.DeadlineExceeded, "held until its context ends")
	g.open()
	select {
	case <-stopped:
	case <-time.After(waitFor):
		t.Fatal("the host did not stop")
	}
	assert.Equal(t, int32(1), block.n.Load(), "finished in the grace: handled, before the sources stopped")
	assert.Zero(t, late.n.Load(), "emitted in the shutdown, handled by nobody: not reported handled")
	on, _ = subs.running()
	assert.False(t, on, "the sources stop once the scripts ended")
	assert.Equal(t, []string{"updated block 0"}, g.records())
}

// TestShutdownSourcesStopAfterTheGrace: a call that ignores its stop (a
// Go function deaf to its context) does not keep the sources, and so the
// last save of their cursors, waiting past the grace: they stop shortly
// after it, though the script has not ended.
func TestShutdownSourcesStopAfterTheGrace(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	entered := make(chan struct{}, 1)
	e := env{extra: func(L *lua.LState) {
		L.SetGlobal("deaf", L.NewFunction(func(*lua.LState) int {
			entered <- struct{}{}
			<-release
			return 0
		}))
	}}
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{ShutdownTimeout: 50 * time.Millisecond}, e, []source.Source{src},
		map[string]string{"d.lua": `rc.on("subscription", function() deaf() end)`})
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	require.True(t, src.send(subEvent(source.ActionUpdated, "x", 0)))
	select {
	case <-entered:
	case <-time.After(waitFor):
		t.Fatal("the handler never ran")
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		th.shutdown()
	}()
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return !on }, "the source stopped though the call runs on")
	select {
	case <-stopped:
		t.Fatal("the host returned while a call still runs")
	default:
	}
	free()
	<-stopped
}

// tracked is a message of an update of id whose one ack counts in h, as
// dispatch makes it for one target.
func tracked(h *handledCount, id string) message {
	ev := h.event(source.ActionUpdated, id, 0)
	ack := &handled{fn: ev.Handled}
	ack.left.Store(1)
	return message{ev: &ev, acks: []*handled{ack}}
}

// actorOf returns the running actor of the script file name.
func (th *testHost) actorOf(file string) *actor {
	th.h.mu.Lock()
	defer th.h.mu.Unlock()
	a := th.h.actors[file]
	require.NotNil(th.t, a, file)
	return a
}

// blockThenQueue starts c.lua (gatedScript) behind src, blocks its handler
// and queues a tracked update of X behind it.
func blockThenQueue(t *testing.T, g *gatedEnv, src *testSource, th *testHost, queued *handledCount) {
	t.Helper()
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	require.True(t, src.send(subEvent(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")
	require.True(t, src.send(queued.event(source.ActionUpdated, "X", 1)))
	th.waitStatus("c", "X queued", func(s ScriptStatus) bool { return s.Queued == 1 })
}

// TestRemovedScriptAcksItsQueue: an event queued for a script whose file
// is removed is reported handled when the script stops (nothing will
// handle it), without being handled; one enqueued to the stopped actor
// afterwards is reported handled at once.
func TestRemovedScriptAcksItsQueue(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	t.Cleanup(g.open)
	var queued, late handledCount
	blockThenQueue(t, g, src, th, &queued)
	a := th.actorOf("c.lua")

	require.NoError(t, os.Remove(filepath.Join(th.dir, "c.lua")))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script file removed: stopping") == 1 }, "the removal")
	assert.Zero(t, queued.n.Load(), "still queued behind the running handler")
	g.open()
	th.waitStatus("c", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	th.logs.eventually(t, waitFor, func() bool { return queued.n.Load() == 1 }, "the dropped event acknowledged")
	assert.Equal(t, []string{"updated block 0"}, g.records(), "X was not handled")

	assert.False(t, a.enqueue(context.Background(), tracked(&late, "late")), "the actor has stopped")
	assert.Equal(t, int32(1), late.n.Load(), "an event for a stopped script is acknowledged at once")
	assert.Equal(t, int32(1), queued.n.Load(), "acknowledged once")
}

// TestDisableAcksQueuedEvents: Disable of a script with an event queued
// reports it handled without handling it (the disabled script has no
// running version left).
func TestDisableAcksQueuedEvents(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	t.Cleanup(g.open)
	var queued handledCount
	blockThenQueue(t, g, src, th, &queued)

	require.NoError(t, th.h.Disable("c"))
	g.open()
	th.waitStatus("c", "disabled", func(s ScriptStatus) bool { return s.State == StateDisabled })
	th.logs.eventually(t, waitFor, func() bool { return queued.n.Load() == 1 }, "the queued event acknowledged")
	assert.Equal(t, []string{"updated block 0"}, g.records(), "X was not handled")
}

// TestEvictedScriptAcksEvents: an event reaching a script whose running
// version the memory watchdog closed (no version runs) is reported
// handled, once, without a handler running.
func TestEvictedScriptAcksEvents(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	th := startHostEnv(t, Config{}, g.env(), nil, map[string]string{"c.lua": gatedScript})
	a := th.actorOf("c.lua")
	select {
	case <-a.requestEvict("test: evicted"):
	case <-time.After(waitFor):
		t.Fatal("the version was not closed")
	}
	var ev handledCount
	require.True(t, a.enqueue(context.Background(), tracked(&ev, "X")))
	th.logs.eventually(t, waitFor, func() bool { return ev.n.Load() == 1 }, "the event acknowledged")
	st, _ := th.status("c")
	assert.Zero(t, st.Runs, "no handler ran")
	assert.Empty(t, g.records())
}

// TestHandledTellsByBeforeTheLast: each script but the last is told to
// the source (by) before the count goes down, so by never comes after
// the event's fn, and the last is not told (fn covers it).
func TestHandledTellsByBeforeTheLast(t *testing.T) {
	t.Parallel()
	var order []string
	h := &handled{fn: func() { order = append(order, "fn") }, by: func(s string) { order = append(order, "by "+s) }}
	h.left.Store(3)
	h.done("a")
	h.done("b")
	h.done("c")
	assert.Equal(t, []string{"by a", "by b", "fn"}, order)
}
