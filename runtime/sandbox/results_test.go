package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestResultsCapped: unpack and string.byte of more values than the value
// stack holds raise a Lua error that pcall catches, instead of filling the
// stack to its last slot (the error then escaped every pcall and left the
// state unusable); the state runs the next chunk.
func TestResultsCapped(t *testing.T) {
	t.Parallel()
	for _, code := range []string{
		"return pcall(unpack, {}, 1, 1e6)",
		"return pcall(unpack, {}, 0/0)",
		"return pcall(unpack, {}, -1e9, 1e9)",
		"return pcall(string.byte, string.rep('x', 300000), 1, -1)",
		"return pcall(function() return {unpack({}, 1, 1e6)} end)",
	} {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			L := New(Options{})
			defer L.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			L.SetContext(ctx)
			fn, err := Compile(L, "t.lua", []byte(code))
			require.NoError(t, err)
			L.Push(fn)
			require.Nil(t, Call(L, 0, 2), "pcall caught it")
			assert.Equal(t, lua.LFalse, L.Get(-2))
			assert.Contains(t, L.Get(-1).String(), "registry overflow")
			L.Pop(2)
			next, err := Compile(L, "t2.lua", []byte("x = 1 + 1"))
			require.NoError(t, err)
			L.Push(next)
			require.Nil(t, Call(L, 0, 0), "the state is usable")
			assert.Equal(t, lua.LNumber(2), L.GetGlobal("x"))
		})
	}
	L := New(Options{})
	defer L.Close()
	require.NoError(t, L.DoString("n = select('#', unpack({}, 1, 200000)) b = select('#', string.byte(string.rep('x', 200000), 1, -1))"))
	assert.Equal(t, lua.LNumber(200000), L.GetGlobal("n"), "what fits is allowed")
	assert.Equal(t, lua.LNumber(200000), L.GetGlobal("b"))
}

// TestResumeOfANonSuspendedCoroutine: resuming a coroutine that is
// resuming another (so not suspended) returns Lua 5.1's error, and the
// resumer goes on, instead of dying with gopher-lua's "can not yield from
// outside of a coroutine".
func TestResumeOfANonSuspendedCoroutine(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	require.NoError(t, L.DoString(`
A = coroutine.create(function()
  local B = coroutine.create(function() return coroutine.resume(A) end)
  local ok, inner_ok, inner_err = coroutine.resume(B)
  result = {ok, inner_ok, inner_err}
  return "A went on"
end)
a_ok, a_res = coroutine.resume(A)
`))
	assert.Equal(t, lua.LTrue, L.GetGlobal("a_ok"))
	assert.Equal(t, lua.LString("A went on"), L.GetGlobal("a_res"))
	res := L.GetGlobal("result").(*lua.LTable)
	assert.Equal(t, lua.LTrue, res.RawGetInt(1), "B ran")
	assert.Equal(t, lua.LFalse, res.RawGetInt(2), "resuming A from B failed")
	assert.Equal(t, lua.LString("cannot resume non-suspended coroutine"), res.RawGetInt(3))
}
