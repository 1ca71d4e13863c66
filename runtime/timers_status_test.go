package runtime

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestStatusTimersNext: the status gives each timer of the running version
// with its next tick: rc.every one interval after the load, rc.cron at its
// next matching time; a timer stopped by its handle has none; a reload
// gives the new version's timers.
func TestStatusTimersNext(t *testing.T) {
	t.Parallel()
	before := time.Now()
	th := startHostEnv(t, Config{}, env{}, nil, map[string]string{"t.lua": `
rc.every("1h", function() end)
rc.cron("30 9 * * *", function() end)
local h = rc.every("5m", function() end)
h:stop()
`})
	st := th.waitStatus("t", "the stopped timer ended", func(s ScriptStatus) bool {
		return len(s.Timers) == 3 && s.Timers[2].Next.IsZero() && !s.Timers[0].Next.IsZero() && !s.Timers[1].Next.IsZero()
	})
	after := time.Now()
	assert.Equal(t, "every 1h0m0s (t.lua:2)", st.Timers[0].Trigger)
	assert.Equal(t, `cron "30 9 * * *" (t.lua:3)`, st.Timers[1].Trigger)
	assert.Equal(t, "every 5m0s (t.lua:4)", st.Timers[2].Trigger)
	every := st.Timers[0].Next
	assert.False(t, every.Before(before.Add(time.Hour)) || every.After(after.Add(time.Hour)), "one interval after the load: %v", every)
	cron := st.Timers[1].Next.Local()
	assert.Equal(t, []int{9, 30, 0}, []int{cron.Hour(), cron.Minute(), cron.Second()}, "%v", cron)
	assert.True(t, cron.After(before) && cron.Before(after.Add(25*time.Hour)), "the next 09:30: %v", cron)

	writeFile(t, filepath.Join(th.dir, "t.lua"), `rc.cron("@every 2m", function() end)`)
	st = th.waitStatus("t", "the new version's timers", func(s ScriptStatus) bool {
		return len(s.Timers) == 1 && !s.Timers[0].Next.IsZero()
	})
	require.Len(t, st.Timers, 1)
	assert.Equal(t, `cron "@every 2m" (t.lua:1)`, st.Timers[0].Trigger)
}

// wallClock is a settable wall clock for rc.cron.
type wallClock struct {
	mu    sync.Mutex
	now   time.Time
	woken []time.Time // what the cron timer read, in order
}

func (c *wallClock) get() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *wallClock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }
func (c *wallClock) woke(_ string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.woken = append(c.woken, t)
}

// sawAfter reports whether the timer read t after its mark-th reading.
func (c *wallClock) sawAfter(mark int, t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range c.woken[min(mark, len(c.woken)):] {
		if w.Equal(t) {
			return true
		}
	}
	return false
}

func (c *wallClock) readings() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.woken) }

// TestCronFollowsClockSteps: rc.cron fires by the wall clock, which it
// reads again while it waits: a step back before a time neither fires it
// early nor moves it; a step back after a time does not fire it again; a
// step forward past a time fires it once, late. (A timer that slept the
// whole wait on the monotonic clock fired 09:00 twice after a step back
// of an hour, and two hours late after a step forward.)
func TestCronFollowsClockSteps(t *testing.T) {
	t.Parallel()
	day := func(d, h, m, s int) time.Time { return time.Date(2026, 3, d, h, m, s, 0, time.UTC) }
	clk := &wallClock{now: day(2, 8, 30, 0)}
	var mu sync.Mutex
	var fired []time.Time
	e := env{extra: func(L *lua.LState) {
		L.SetGlobal("fired", L.NewFunction(func(*lua.LState) int {
			mu.Lock()
			defer mu.Unlock()
			fired = append(fired, clk.get())
			return 0
		}))
	}}
	firedAt := func() []time.Time { mu.Lock(); defer mu.Unlock(); return slices.Clone(fired) }
	cfg := Config{now: clk.get, cronWake: 2 * time.Millisecond, timerWoke: clk.woke}
	th := startHostEnv(t, cfg, e, nil, map[string]string{"c.lua": `rc.cron("CRON_TZ=UTC 0 9 * * *", function() fired() end)`})
	next := func(want time.Time) {
		t.Helper()
		th.waitStatus("c", "next "+want.String(), func(s ScriptStatus) bool { return len(s.Timers) == 1 && s.Timers[0].Next.Equal(want) })
	}
	step := func(to time.Time) { // sets the clock and waits until the timer read it
		t.Helper()
		mark := clk.readings()
		clk.set(to)
		th.logs.eventually(t, waitFor, func() bool { return clk.sawAfter(mark, to) }, "the timer reads "+to.String())
	}
	waitFired := func(n int) []time.Time {
		t.Helper()
		th.logs.eventually(t, waitFor, func() bool { return len(firedAt()) >= n }, fmt.Sprintf("%d runs", n))
		return firedAt()
	}

	th.logs.eventually(t, waitFor, func() bool { return clk.sawAfter(0, day(2, 8, 30, 0)) }, "the first reading")
	next(day(2, 9, 0, 0))  // read, not yet due
	step(day(2, 7, 30, 0)) // back, before the time
	next(day(2, 9, 0, 0))
	assert.Empty(t, firedAt(), "not early")
	step(day(2, 9, 0, 0))
	assert.Equal(t, []time.Time{day(2, 9, 0, 0)}, waitFired(1))
	next(day(3, 9, 0, 0))

	step(day(2, 8, 59, 30)) // back, after the time
	next(day(3, 9, 0, 0))
	step(day(2, 9, 0, 30))
	step(day(3, 9, 0, 0))
	assert.Equal(t, []time.Time{day(2, 9, 0, 0), day(3, 9, 0, 0)}, waitFired(2), "09:00 of the 2nd once")

	next(day(4, 9, 0, 0))
	step(day(4, 11, 0, 0)) // forward, past the time
	assert.Equal(t, day(4, 11, 0, 0), waitFired(3)[2], "once, late")
	next(day(5, 9, 0, 0))
	assert.Len(t, firedAt(), 3)
}
