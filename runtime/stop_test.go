package runtime

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
)

// TestStopErrorsNameTheLimit: a call stopped by its deadline or by the
// end of its parent context says which, after its file:line, instead of
// gopher-lua's "context deadline exceeded"; errors.Is still sees the
// context error.
func TestStopErrorsNameTheLimit(t *testing.T) {
	t.Parallel()
	t.Run("load timeout", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		err := runChunk(context.Background(), L, "loop.lua", []byte("while true do end"), 50*time.Millisecond)
		require.Error(t, err)
		assert.Equal(t, "loop.lua:1: stopped: the top level ran longer than the load timeout (50ms)", err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.True(t, err.(*scriptError).Timeout)
	})
	t.Run("handler timeout", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		require.NoError(t, runChunk(context.Background(), L, "h.lua", []byte("function f()\n  while true do end\nend"), time.Second))
		err := pcall(context.Background(), L, 50*time.Millisecond, L.GetGlobal("f").(*lua.LFunction))
		require.Error(t, err)
		assert.Equal(t, "h.lua:2: stopped: the handler ran longer than the handler timeout (50ms)", err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.True(t, err.(*scriptError).Timeout)
	})
	t.Run("pattern matcher at the deadline", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		err := runChunk(context.Background(), L, "p.lua", []byte(`string.find(("a"):rep(40), ("a*"):rep(40) .. "b")`), 50*time.Millisecond)
		require.Error(t, err)
		assert.Equal(t, "p.lua:1: string.find: stopped: the top level ran longer than the load timeout (50ms)", err.Error())
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("parent context ends", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		ctx, cancel := context.WithCancel(context.Background())
		stop := time.AfterFunc(50*time.Millisecond, cancel)
		defer stop.Stop()
		require.NoError(t, runChunk(context.Background(), L, "h.lua", []byte("function f()\n  while true do end\nend"), time.Second))
		err := pcall(ctx, L, time.Minute, L.GetGlobal("f").(*lua.LFunction))
		require.Error(t, err)
		assert.Equal(t, "h.lua:2: stopped: the daemon is shutting down", err.Error())
		assert.ErrorIs(t, err, context.Canceled)
		assert.False(t, err.(*scriptError).Timeout, "not a timeout")
	})
	t.Run("script errors unchanged", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		err := runChunk(context.Background(), L, "e.lua", []byte(`error("context deadline exceeded, says the script")`), time.Second)
		require.Error(t, err)
		assert.Equal(t, "e.lua:1: context deadline exceeded, says the script", err.Error())
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestExecAndCheckTimeoutErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.lua")
	writeFile(t, loop, "while true do end\n")
	cfg := Config{LoadTimeout: 50 * time.Millisecond}

	err := Exec(context.Background(), loop, cfg, &luabind.Module{}, ExecOptions{}, zerolog.Nop())
	require.Error(t, err)
	assert.Equal(t, loop+":1: stopped: the top level ran longer than the exec timeout (50ms)", err.Error())
	assert.ErrorIs(t, err, context.DeadlineExceeded)

	errs := Check(context.Background(), []string{loop}, cfg)
	require.Len(t, errs, 1)
	assert.Equal(t, loop+":1: stopped: the top level ran longer than the load timeout (50ms)", errs[0].Error())
	assert.ErrorIs(t, errs[0], context.DeadlineExceeded)

	ctx, cancel := context.WithCancel(context.Background())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()
	err = Exec(ctx, loop, Config{LoadTimeout: time.Minute}, nil, ExecOptions{}, zerolog.Nop())
	require.Error(t, err)
	assert.Equal(t, loop+":1: stopped: interrupted", err.Error())
	assert.ErrorIs(t, err, context.Canceled)
}

// TestHostStopErrors: the daemon's load and handler timeouts, and a
// handler cancelled at shutdown, show in LastError with their cause.
func TestHostStopErrors(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{LoadTimeout: 100 * time.Millisecond, HandlerTimeout: 100 * time.Millisecond}, nil, map[string]string{
		"load.lua": "while true do end\n",
		"handler.lua": `rc.every(0.02, function()
  while true do end
end)`,
	})
	st := th.waitStatus("load", "failed", func(s ScriptStatus) bool { return s.State == StateFailed })
	assert.Equal(t, "load.lua:1: stopped: the top level ran longer than the load timeout (100ms)", st.LastError)
	st = th.waitStatus("handler", "timed out", func(s ScriptStatus) bool { return s.Timeouts > 0 })
	assert.Equal(t, "handler.lua:2: stopped: the handler ran longer than the handler timeout (100ms)", st.LastError)
}

func TestShutdownStopError(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{HandlerTimeout: time.Minute, ShutdownTimeout: 100 * time.Millisecond}, nil, map[string]string{
		"stuck.lua": `rc.every(0.02, function()
  rc.log.info("stuck")
  while true do end
end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("stuck", "script", "stuck") == 1 }, "the stuck handler")
	th.shutdown()
	st, _ := th.status("stuck")
	assert.Equal(t, "stuck.lua:3: stopped: the daemon is shutting down", st.LastError)
	assert.Zero(t, st.Timeouts, "not counted as a timeout")
}
