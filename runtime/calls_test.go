package runtime

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox"
)

// runSnippet runs code as the top level of "t.lua" in a fresh sandbox with
// the rc table, in check mode.
func runSnippet(t *testing.T, code string, timeout time.Duration, unsafe bool) error {
	t.Helper()
	L := sandbox.New(sandbox.Options{Unsafe: unsafe})
	defer L.Close()
	reg := &registry{mode: modeCheck, loading: true}
	env{}.openState(L, Config{}.withDefaults(), "", zerolog.Nop(), reg, nil, nil, nil)
	return runChunk(context.Background(), L, "t.lua", []byte(code), timeout)
}

// TestLimits: the host's calls stop a loop at the deadline, recover a Go
// panic, and leave the state usable (the sandbox's own limits are tested
// in runtime/sandbox).
func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("infinite loop stops at the deadline", func(t *testing.T) {
		start := time.Now()
		err := runSnippet(t, "local n = 0\nwhile true do n = n + 1 end", 100*time.Millisecond, false)
		require.Error(t, err)
		se, ok := err.(*scriptError)
		require.True(t, ok, "scriptError, got %T", err)
		assert.True(t, se.Timeout, "timeout flagged: %v", err)
		assert.Contains(t, err.Error(), "t.lua:2:")
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("panic in a Go function is recovered", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		L.SetGlobal("boom", L.NewFunction(func(*lua.LState) int { panic("kaboom") }))
		err := runChunk(context.Background(), L, "t.lua", []byte("boom()"), time.Second)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "kaboom")
		// the state is still usable
		require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte("x = 1 + 1"), time.Second))
		assert.Equal(t, lua.LNumber(2), L.GetGlobal("x"))
	})
	t.Run("state usable after a timeout", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		err := runChunk(context.Background(), L, "t.lua", []byte("while true do end"), 50*time.Millisecond)
		require.Error(t, err)
		require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte("y = 3"), time.Second))
		assert.Equal(t, lua.LNumber(3), L.GetGlobal("y"))
	})
}

func TestTriggerArgumentsRaiseAtLoad(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ code, want string }{
		"unknown event":   {`rc.on("reaction", function() end)`, `unknown event "reaction"`},
		"handler not fn":  {`rc.on("subscription", 5)`, "function expected"},
		"bad interval":    {`rc.every("soon", function() end)`, `bad interval "soon"`},
		"zero interval":   {`rc.every(0, function() end)`, "below the minimum"},
		"negative":        {`rc.every("-5m", function() end)`, "below the minimum"},
		"too small":       {`rc.every("10ms", function() end)`, "below the minimum of 1s"},
		"interval type":   {`rc.every({}, function() end)`, "interval expected"},
		"every not fn":    {`rc.every("5m", "x")`, "function expected"},
		"bad cron":        {`rc.cron("61 * * * *", function() end)`, `bad cron spec "61 * * * *"`},
		"bad cron fields": {`rc.cron("* * *", function() end)`, "bad cron spec"},
		"bad cron tz":     {`rc.cron("CRON_TZ=Nowhere/Land 0 9 * * *", function() end)`, "bad cron spec"},
		"cron not fn":     {`rc.cron("0 9 * * *")`, "function expected"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runSnippet(t, "local x = 1\n"+c.code, time.Second, false)
			require.Error(t, err, c.code)
			assert.Contains(t, err.Error(), c.want, c.code)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:2:"), "file:line in %q", err)
			fn, _, _ := strings.Cut(c.code, "(")
			assert.Regexp(t, `bad argument #\d to `+regexp.QuoteMeta(fn)+` \(`, err.Error(), "names the function: %q", err)
		})
	}
	ok := `
rc.on("subscription", function(action, sub) end)
rc.every("5m", function() end)
rc.every(90, function() end)
rc.cron("0 9 * * 1-5", function() end)
rc.cron("CRON_TZ=Europe/Berlin 30 8 * * *", function() end)
rc.cron("@hourly", function() end)
`
	require.NoError(t, runSnippet(t, ok, time.Second, false))
}

func TestTriggersOnlyAtTopLevel(t *testing.T) {
	t.Parallel()
	L := sandbox.New(sandbox.Options{})
	defer L.Close()
	reg := &registry{mode: modeRun, loading: true}
	env{}.openState(L, Config{}.withDefaults(), "", zerolog.Nop(), reg, nil, nil, nil)
	require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte(`function later() rc.every("5m", function() end) end`), time.Second))
	reg.loading = false
	fn := L.GetGlobal("later").(*lua.LFunction)
	err := pcall(context.Background(), L, time.Second, fn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only be registered while the script loads")
	assert.Empty(t, reg.timers)
}

// TestTooManyTriggers: a script cannot register an unbounded number of
// triggers (each timer is a goroutine).
func TestTooManyTriggers(t *testing.T) {
	t.Parallel()
	err := runSnippet(t, "for i = 1, 1000000 do\n  rc.every(\"1h\", function() end)\nend", 5*time.Second, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too many triggers")
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:2:"), "file:line: %q", err)
}
