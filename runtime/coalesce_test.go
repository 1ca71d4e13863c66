package runtime

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/source"
)

// gatedEnv gives scripts gate(), which blocks until the test opens the
// gate (or the call's context ends), and record(...), which appends its
// arguments joined by spaces to a list the test reads.
type gatedEnv struct {
	gate chan struct{}
	once sync.Once
	mu   sync.Mutex
	seen []string
}

func newGatedEnv() *gatedEnv { return &gatedEnv{gate: make(chan struct{})} }

func (g *gatedEnv) open() { g.once.Do(func() { close(g.gate) }) }

func (g *gatedEnv) env() env {
	return env{extra: func(L *lua.LState) {
		L.SetGlobal("gate", L.NewFunction(func(L *lua.LState) int {
			select {
			case <-g.gate:
			case <-L.Context().Done():
			}
			return 0
		}))
		L.SetGlobal("record", L.NewFunction(func(L *lua.LState) int {
			parts := make([]string, 0, L.GetTop())
			for i := 1; i <= L.GetTop(); i++ {
				parts = append(parts, L.Get(i).String())
			}
			g.mu.Lock()
			g.seen = append(g.seen, strings.Join(parts, " "))
			g.mu.Unlock()
			return 0
		}))
	}}
}

func (g *gatedEnv) records() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

// subChange is a mailbox message of a subscription event carrying n.
func subChange(action, id string, n int) message {
	ev := subEvent(action, id, n)
	return message{ev: &ev}
}

const gatedScript = `rc.on("subscription", function(action, sub)
  record(action, sub._id, sub.n)
  if sub._id == "block" then gate() end
end)`

func (th *testHost) actor(name string) *actor {
	th.h.mu.Lock()
	defer th.h.mu.Unlock()
	a := th.h.actors[name]
	require.NotNil(th.t, a, "actor of %s", name)
	return a
}

// queued returns how many messages wait in the actor's queue.
func (a *actor) queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queue.n
}

// TestStaleUpdatesCoalesce: while a handler is stuck, changes of one
// subscription pile up; an update merges into the queued insert or update
// of the same subscription (newest state, the queued action, the queued
// place) and takes no place, while inserts and removals always take their
// own, and nothing merges across them.
func TestStaleUpdatesCoalesce(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	th := startHostEnv(t, Config{}, g.env(), nil, map[string]string{"c.lua": gatedScript})
	th.waitStatus("c", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	a := th.actor("c.lua")
	ctx := context.Background()

	require.True(t, a.enqueue(ctx, subChange("updated", "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")

	queue := []message{
		subChange("updated", "A", 1),  // place 1
		subChange("updated", "A", 2),  // merges into place 1
		subChange("updated", "B", 1),  // place 2
		subChange("inserted", "C", 1), // place 3
		subChange("updated", "A", 3),  // merges into place 1
		subChange("removed", "A", 0),  // place 4: never merged
		subChange("inserted", "A", 4), // place 5: never merges across the removal
		subChange("updated", "A", 5),  // merges into the insert of place 5
		subChange("updated", "C", 2),  // merges into the insert of place 3
		subChange("updated", "A", 6),  // merges into place 5
		subChange("updated", "D", 1),  // place 6
		subChange("inserted", "D", 2), // place 7: an insert never merges
	}
	for _, ev := range queue {
		require.True(t, a.enqueue(ctx, ev))
	}
	assert.Equal(t, 7, a.queued(), "seven places taken for twelve changes")
	g.open()
	want := []string{
		"updated block 0",
		"updated A 3",
		"updated B 1",
		"inserted C 2",
		"removed A nil",
		"inserted A 6",
		"updated D 1",
		"inserted D 2",
	}
	// Runs counts a call as it starts: wait for the last one's record.
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) >= len(want) }, "every queued event taken")
	assert.Equal(t, want, g.records(), "which events ran, in order")
	st, _ := th.status("c")
	assert.Equal(t, uint64(5), st.Coalesced, "five updates merged")
	assert.Zero(t, st.Waits, "the queue was never full")
	a.mu.Lock()
	assert.Empty(t, a.queue.last, "bookkeeping emptied with the queue")
	a.mu.Unlock()
}

// TestStaleUpdatesCoalesceFromSource is the trial's case end to end: a
// handler stuck while the source reports the same subscription changing
// several times; the changes hold one place and the handler then sees only
// the newest state.
func TestStaleUpdatesCoalesceFromSource(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	th.waitStatus("c", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	a := th.actor("c.lua")
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	require.True(t, src.send(subEvent(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")
	for i := 1; i <= 4; i++ {
		require.True(t, src.send(subEvent(source.ActionUpdated, "x", i)))
		require.Equal(t, 1, a.queued(), "update %d of x holds the one place", i)
	}
	g.open()
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) >= 2 }, "queue taken")
	assert.Equal(t, []string{"updated block 0", "updated x 4"}, g.records(), "x handled once, in its newest state")
	st, _ := th.status("c")
	assert.Equal(t, uint64(3), st.Coalesced)
}
