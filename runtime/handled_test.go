package runtime

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
