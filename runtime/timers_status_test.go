package runtime

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
