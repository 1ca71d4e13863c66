package runtime

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
)

// TestScriptDrivenByItsCaller: a Script registers its triggers as the
// daemon does, runs handlers and ticks only when asked, through the
// daemon's call path (file:line errors, the handler deadline, the same log
// lines), and a handle's stop is honoured.
func TestScriptDrivenByItsCaller(t *testing.T) {
	t.Parallel()
	logs := &logSink{}
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	s, err := LoadScript(context.Background(), "s.lua", []byte(`
calls = {}
rc.on("subscription", function(action, sub) calls[#calls+1] = action .. " " .. sub.rid end)
rc.on("subscription", function(action, sub) if sub.rid == "bad" then error("bad room") end end)
local h
h = rc.every("5m", function() calls[#calls+1] = "tick " .. os.time(); h:stop() end)
rc.cron("0 9 * * *", function() while true do end end)
`), Config{HandlerTimeout: 50 * time.Millisecond}, sandbox.Options{Clock: func() time.Time { return now }},
		Deps{}, zerolog.New(logs))
	require.NoError(t, err)
	defer s.Close()

	timers := s.Timers()
	require.Len(t, timers, 2)
	assert.Equal(t, 5*time.Minute, timers[0].Interval)
	assert.Equal(t, "0 9 * * *", timers[1].Spec)
	assert.Empty(t, s.L.GetGlobal("calls").(*lua.LTable).Len(), "nothing runs before it is asked")

	assert.Empty(t, s.Handle(context.Background(), "subscription", "updated", []byte(`{"rid":"GENERAL"}`)))
	errs := s.Handle(context.Background(), "subscription", "inserted", []byte(`{"rid":"bad"}`))
	require.Len(t, errs, 1)
	assert.True(t, strings.HasPrefix(errs[0].Error(), "s.lua:4: bad room"), "%q", errs[0])
	assert.Equal(t, 1, logs.count("handler failed", "trigger", "on subscription (s.lua:4)"))

	require.NoError(t, s.Tick(context.Background(), 0))
	assert.True(t, s.TimerStopped(0))
	assert.ErrorIs(t, s.Tick(context.Background(), 0), ErrTimerStopped)
	calls := s.L.GetGlobal("calls").(*lua.LTable)
	assert.Equal(t, "updated GENERAL", calls.RawGetInt(1).String())
	assert.Equal(t, "inserted bad", calls.RawGetInt(2).String())
	assert.Equal(t, "tick 1796634000", calls.RawGetInt(3).String(), "the state reads the given clock")
	assert.Equal(t, 3, calls.Len())

	err = s.Tick(context.Background(), 1)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "s.lua:7: stopped: the handler ran longer than the handler timeout (50ms)")
	assert.Equal(t, 1, logs.count("handler stopped at its deadline"))

	_, err = LoadScript(context.Background(), "late.lua", []byte("rc.on(\"nope\", print)"), Config{}, sandbox.Options{}, Deps{}, zerolog.Nop())
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "late.lua:1:"), "%q", err)
}

// TestScriptRedactsHandlerErrors: a handler's error holding a secret the
// script read is returned and logged redacted, as the daemon's actor does.
func TestScriptRedactsHandlerErrors(t *testing.T) {
	t.Parallel()
	dir, secrets := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(secrets, "api_key"), "s3cr3t-value\n")
	writeFile(t, filepath.Join(dir, SettingsFile), "[s]\nsecrets = [\"api_key\"]\n")
	logs := &logSink{}
	s, err := LoadScript(context.Background(), filepath.Join(dir, "s.lua"), []byte(`
local key = assert(rc.secret("api_key"))
rc.on("subscription", function() error("failed with " .. key) end)
`), Config{SecretsDir: secrets}, sandbox.Options{}, Deps{}, zerolog.New(logs))
	require.NoError(t, err)
	defer s.Close()
	errs := s.Handle(context.Background(), "subscription", "inserted", []byte(`{"rid":"r"}`))
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "failed with "+luabind.Redacted)
	assert.NotContains(t, errs[0].Error(), "s3cr3t")
	assert.NotContains(t, logs.String(), "s3cr3t")
}

// TestScriptRedactsClippedErrors: an error value the host clips (a
// table's fields at 200 bytes, a message at 4 KiB) keeps no beginning of
// a secret where it was cut.
func TestScriptRedactsClippedErrors(t *testing.T) {
	t.Parallel()
	dir, secrets := t.TempDir(), t.TempDir()
	key := strings.Repeat("k3y-", 100) // 400 bytes: longer than a clipped field
	writeFile(t, filepath.Join(secrets, "api_key"), key+"\n")
	writeFile(t, filepath.Join(dir, SettingsFile), "[s]\nsecrets = [\"api_key\"]\n")
	s, err := LoadScript(context.Background(), filepath.Join(dir, "s.lua"), []byte(`
local key = assert(rc.secret("api_key"))
rc.on("subscription", function(action, sub)
  if sub.rid == "table" then error({token = key}) end
  error(string.rep("x", 4076) .. key, 0) -- no position: the cut is 20 bytes into the key
end)
`), Config{SecretsDir: secrets}, sandbox.Options{}, Deps{}, zerolog.Nop())
	require.NoError(t, err)
	defer s.Close()
	for _, rid := range []string{"table", "long"} {
		errs := s.Handle(context.Background(), "subscription", "inserted", []byte(`{"rid":"`+rid+`"}`))
		require.Len(t, errs, 1)
		assert.NotContains(t, errs[0].Error(), "k3y-", rid)
		assert.Contains(t, errs[0].Error(), luabind.Redacted+"...", rid)
	}
}

// TestScriptSettingsGivenByTheCaller: Deps.Settings is the script's
// section instead of the settings file's (which is then not read, even
// broken), its secrets key the allow-list of rc.secret; a section the
// settings file's reader would refuse is refused.
func TestScriptSettingsGivenByTheCaller(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, SettingsFile), "[s]\nme = \"file\"\nnot toml\n")
	path := filepath.Join(dir, "s.lua")
	code := []byte(`me = rc.config.me; key = rc.secret("api_key")`)
	getenv := func(k string) string {
		if k == SecretEnvPrefix+"API_KEY" {
			return "v"
		}
		return ""
	}
	_, err := LoadScript(context.Background(), path, code, Config{}, sandbox.Options{}, Deps{Getenv: getenv}, zerolog.Nop())
	assert.ErrorContains(t, err, SettingsFile, "without Deps.Settings the file is read")

	s, err := LoadScript(context.Background(), path, code, Config{}, sandbox.Options{},
		Deps{Getenv: getenv, Settings: map[string]any{"me": "given", "secrets": []any{"api_key"}}}, zerolog.Nop())
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "given", s.L.GetGlobal("me").String())
	assert.Equal(t, "v", s.L.GetGlobal("key").String())

	_, err = LoadScript(context.Background(), path, code, Config{}, sandbox.Options{},
		Deps{Settings: map[string]any{"secrets": "api_key"}}, zerolog.Nop())
	assert.ErrorContains(t, err, path+": settings: secrets: must be an array of secret names")
}

// TestScriptMemoryLimit: a Script's top level and its handlers run under
// the memory watchdog, as exec's and the daemon's do: over the limit the
// call is stopped with the memory error at the script's file:line (rclua
// test once let a test of a hog take the machine's memory until its
// timeout); with the watchdog off the same reading stops nothing. Close
// ends the watchdog (the package's goleak check fails otherwise).
func TestScriptMemoryLimit(t *testing.T) {
	t.Parallel()
	var over atomic.Bool
	cfg := Config{MemoryLimit: testMemLimit, LoadTimeout: time.Minute, HandlerTimeout: time.Minute,
		memRead: func() uint64 {
			if over.Load() {
				return 2 * testMemLimit
			}
			return 0
		}}
	hog := "local t = {}\nwhile true do t[#t % 1000 + 1] = {} end\n"
	over.Store(true)
	_, err := LoadScript(context.Background(), "top.lua", []byte(hog), cfg, sandbox.Options{}, Deps{}, zerolog.Nop())
	var se *scriptError
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Memory, "%v", err)
	assert.True(t, strings.HasPrefix(err.Error(), "top.lua:2:"), "%q", err)

	over.Store(false)
	s, err := LoadScript(context.Background(), "h.lua", []byte("rc.every(\"1m\", function()\n"+hog+"end)\n"), cfg, sandbox.Options{}, Deps{}, zerolog.Nop())
	require.NoError(t, err, "under the limit the top level runs")
	defer s.Close()
	over.Store(true)
	err = s.Tick(context.Background(), 0)
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Memory, "%v", err)
	assert.Contains(t, err.Error(), "memory limit exceeded")
	assert.True(t, strings.HasPrefix(err.Error(), "h.lua:3:"), "%q", err)

	cfg.MemoryLimit, cfg.HandlerTimeout = -1, 100*time.Millisecond // off: only the deadline stops it
	off, err := LoadScript(context.Background(), "off.lua", []byte("rc.every(\"1m\", function()\n"+hog+"end)\n"), cfg, sandbox.Options{}, Deps{}, zerolog.Nop())
	require.NoError(t, err)
	defer off.Close()
	err = off.Tick(context.Background(), 0)
	require.ErrorAs(t, err, &se)
	assert.False(t, se.Memory, "%v", err)
	assert.True(t, se.Timeout, "%v", err)
}
