package runtime

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/source"
)

// waited is the message of an update of id whose handling (or drop)
// closes done (nil: nobody waits).
func waited(id string, done chan struct{}) message {
	ev := subEvent(source.ActionUpdated, id, 0)
	return message{ev: &ev, done: done}
}

// TestActorTakesNothingAfterShutdown: once Run's context has ended an
// actor neither runs a pending load nor handles a queued event. select
// picks at random among ready cases, so each of many actors is given a
// ready mailbox and a cancelled context at once.
func TestActorTakesNothingAfterShutdown(t *testing.T) {
	t.Parallel()
	logs := &logSink{}
	h := newHost(Config{ScriptsDir: t.TempDir(), MemoryLimit: -1}, env{module: &luabind.Module{}}, nil, zerolog.New(logs))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		st := &scriptState{name: fmt.Sprint("s", i)}
		a := newActor(h, st, st.name+".lua")
		a.load(context.Background(), &loadRequest{content: []byte(`rc.on("subscription", function() end)`), hash: "v1"})
		require.NotNil(t, a.cur, "v1 loaded")
		for j := range 5 {
			require.True(t, a.enqueue(context.Background(), waited(strconv.Itoa(j), nil)))
		}
		done := make(chan struct{})
		require.True(t, a.enqueue(context.Background(), waited("last", done)))
		var finished atomic.Bool
		a.requestLoad(&loadRequest{content: []byte(`rc.on("subscription", function() end)`), hash: "v2",
			done: func() { finished.Store(true) }})

		a.run(ctx) // returns at once: ctx has ended

		assert.Zero(t, st.runs.Load(), "no queued event handled after shutdown")
		assert.True(t, finished.Load(), "the pending load request was finished (dropped)")
		select {
		case <-done:
		default:
			t.Fatal("the waiter of a dropped event was not released")
		}
		assert.Equal(t, StateStopped, st.snapshot().State)
	}
	assert.Zero(t, logs.count("script reloaded"), "no pending load run after shutdown")
}

// TestShutdownDropsQueuedEvents: with events queued behind a running
// handler, shutdown lets that handler finish and handles none of the
// others (nor fails them at the grace).
func TestShutdownDropsQueuedEvents(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{ShutdownTimeout: 500 * time.Millisecond}, nil, map[string]string{
		"slow.lua": `rc.on("subscription", function(action, sub)
  rc.log.info("start " .. sub._id)
  local t0 = os.clock()
  while os.clock() - t0 < 0.02 do end
end)`,
	})
	th.waitStatus("slow", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	th.h.mu.Lock()
	a := th.h.actors["slow.lua"]
	th.h.mu.Unlock()
	for i := range 50 {
		require.True(t, a.enqueue(context.Background(), waited(strconv.Itoa(i), nil)))
	}
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("start 0", "script", "slow") == 1 }, "the first handler")
	before, _ := th.status("slow")
	th.shutdown()
	after, _ := th.status("slow")
	assert.LessOrEqual(t, after.Runs, before.Runs+1, "at most the call running at cancel")
	assert.Less(t, after.Runs, uint64(50), "queued events dropped")
	assert.Zero(t, th.logs.count("handler failed"), "no handler failed at shutdown")
	assert.Equal(t, StateStopped, after.State)
}

// TestMemWatchIdleTakesNoSamples: the watchdog samples the heap only
// while a guarded call runs; an idle host has no wake-ups.
func TestMemWatchIdleTakesNoSamples(t *testing.T) { // not parallel: it counts the watchdog's ticks in 50ms windows
	var samples atomic.Int64
	w := newMemWatch(1<<40, zerolog.Nop(), func() int { return 0 })
	w.read = func() uint64 { samples.Add(1); return 0 }
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		w.run(ctx, time.Millisecond)
	}()
	defer func() { cancel(); <-ended }()

	// window is an observation period (a ticking watchdog would sample
	// about 50 times in it), not synchronisation.
	window := func() { <-time.After(50 * time.Millisecond) }
	window()
	assert.Zero(t, samples.Load(), "no call ever ran: no samples")

	g1, g2 := w.guard(), w.guard()
	g1.set(func() {})
	require.Eventually(t, func() bool { return samples.Load() >= 5 }, waitFor, tick, "samples while a call runs")
	g2.set(func() {})
	g1.clear()
	n := samples.Load()
	require.Eventually(t, func() bool { return samples.Load() >= n+5 }, waitFor, tick, "samples while another call runs")
	g2.clear()
	n = samples.Load()
	window()
	assert.LessOrEqual(t, samples.Load(), n+2, "at most the tick of the interval the last call ended in, and one of an interval without calls")
	n = samples.Load()
	window()
	assert.Equal(t, n, samples.Load(), "idle again: no samples")

	g1.set(func() {})
	require.Eventually(t, func() bool { return samples.Load() > n }, waitFor, tick, "sampling resumes with the next call")
	g1.clear()
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	assert.Equal(t, "./scripts", c.ScriptsDir)
	assert.Equal(t, DefaultScriptsDir, c.ScriptsDir)
	assert.Equal(t, DefaultDebounce, c.Debounce)
	assert.Equal(t, DefaultRescan, c.Rescan)
	assert.Equal(t, DefaultLoadTimeout, c.LoadTimeout)
	assert.Equal(t, DefaultHandlerTimeout, c.HandlerTimeout)
	assert.Equal(t, DefaultShutdownTimeout, c.ShutdownTimeout)
	assert.Equal(t, DefaultQueueLen, c.QueueLen)
	assert.EqualValues(t, DefaultMemoryLimit, c.MemoryLimit)
	set := Config{ScriptsDir: "x", Debounce: time.Second, QueueLen: 3}.withDefaults()
	assert.Equal(t, "x", set.ScriptsDir)
	assert.Equal(t, time.Second, set.Debounce)
	assert.Equal(t, 3, set.QueueLen)
}

// TestRunningNamesTheCalls: Host.Running names each script's running call
// (a handler by its trigger's label, a top level still loading as
// "load"), not the idle scripts, and nothing once the calls ended.
func TestRunningNamesTheCalls(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{HandlerTimeout: time.Minute, LoadTimeout: time.Minute, ShutdownTimeout: 100 * time.Millisecond}, nil,
		map[string]string{
			"busy.lua": "rc.every(\"10ms\", function()\n  while true do end\nend)\n",
			"idle.lua": `rc.on("subscription", function() end)`,
		})
	th.logs.eventually(t, waitFor, func() bool { return len(th.h.Running()) == 1 }, "the busy handler to run")
	got := th.h.Running()
	require.Len(t, got, 1, "the idle script runs nothing")
	assert.Equal(t, "busy", got[0].Script)
	assert.Equal(t, "every 10ms (busy.lua:1)", got[0].Trigger)
	assert.WithinDuration(t, time.Now(), got[0].Since, waitFor)

	writeFile(t, th.dir+"/loading.lua", "while true do end\n")
	th.logs.eventually(t, waitFor, func() bool { return len(th.h.Running()) == 2 }, "the top level to run")
	got = th.h.Running()
	assert.Equal(t, []string{"busy", "loading"}, []string{got[0].Script, got[1].Script}, "sorted by script")
	assert.Equal(t, "load", got[1].Trigger)

	th.shutdown() // the grace ends both calls
	assert.Empty(t, th.h.Running())
}

// BenchmarkCallGuardHandler is the guard's cost on every handler call,
// with the trigger's label and start recorded for Host.Running (compare
// BenchmarkCallGuard, which records neither).
func BenchmarkCallGuardHandler(b *testing.B) {
	g := newMemWatch(1<<30, zerolog.Nop(), nil).guard()
	cancel := func() {}
	start := time.Now()
	for b.Loop() {
		g.setCall(cancel, "every 1s (a.lua:1)", start)
		g.clear()
	}
}
