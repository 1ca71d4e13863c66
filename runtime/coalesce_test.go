package runtime

import (
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

// TestStaleUpdatesCoalesce: while a handler is stuck, updates of one
// subscription pile up; once it returns only the newest of each run of
// "updated" events is handled, and "inserted"/"removed" events are never
// skipped nor skipped across.
func TestStaleUpdatesCoalesce(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	th := startHostEnv(t, Config{}, g.env(), nil, map[string]string{"c.lua": gatedScript})
	th.waitStatus("c", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	a := th.actor("c.lua")

	require.True(t, a.enqueue(subChange("updated", "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")

	queue := []message{
		subChange("updated", "A", 1),  // skipped: A 2 follows
		subChange("updated", "A", 2),  // skipped: A 3 follows
		subChange("updated", "B", 1),  // only update of B
		subChange("inserted", "C", 1), // never skipped
		subChange("updated", "A", 3),  // kept: A is removed next
		subChange("removed", "A", 0),  // never skipped
		subChange("inserted", "A", 4), // never skipped
		subChange("updated", "A", 5),  // skipped: A 6 follows
		subChange("updated", "C", 2),  // kept: an insert does not make it stale, and no update of C follows
		subChange("updated", "A", 6),  // newest of A
		subChange("updated", "D", 1),  // kept: an insert of D follows
		subChange("inserted", "D", 2), // never skipped
	}
	for _, ev := range queue {
		require.True(t, a.enqueue(ev))
	}
	g.open()
	want := []string{
		"updated block 0",
		"updated B 1",
		"inserted C 1",
		"updated A 3",
		"removed A nil",
		"inserted A 4",
		"updated C 2",
		"updated A 6",
		"updated D 1",
		"inserted D 2",
	}
	th.waitStatus("c", "every queued event taken", func(s ScriptStatus) bool {
		return s.Runs+s.Coalesced == uint64(1+len(queue))
	})
	assert.Equal(t, want, g.records(), "which events ran, in order")
	st, _ := th.status("c")
	assert.Equal(t, uint64(3), st.Coalesced, "three stale updates skipped")
	assert.Equal(t, uint64(len(want)), st.Runs)
	a.mu.Lock()
	assert.Empty(t, a.queued, "bookkeeping emptied with the queue")
	a.mu.Unlock()
}

// TestStaleUpdatesCoalesceFromSource is the trial's case end to end: a
// handler stuck while the source reports the same subscription changing
// several times; the handler then sees only its newest state.
func TestStaleUpdatesCoalesceFromSource(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	th.waitStatus("c", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	a := th.actor("c.lua")
	queuedOf := func(id string) int {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.queued[eventKey{source.KindSubscription, id}])
	}
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	require.True(t, src.send(subEvent(source.ActionUpdated, "block", 0)))
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) == 1 }, "the blocking handler")
	for i := 1; i <= 4; i++ {
		require.True(t, src.send(subEvent(source.ActionUpdated, "x", i)))
		require.Equal(t, i, queuedOf("x"), "update %d of x queued", i)
	}
	g.open()
	th.waitStatus("c", "queue taken", func(s ScriptStatus) bool { return s.Runs+s.Coalesced == 5 })
	assert.Equal(t, []string{"updated block 0", "updated x 4"}, g.records(), "x handled once, in its newest state")
	st, _ := th.status("c")
	assert.Equal(t, uint64(3), st.Coalesced)
}
