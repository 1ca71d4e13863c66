package sandbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestUpvaluesAfterErrors: closures keep the values Lua 5.1 gives them
// when an error unwinds protected calls (testdata/upvalues.lua, each case
// checked with lua5.1): a closure made in a failing function keeps its
// value, a local assigned after a failed pcall reaches the closures that
// share it (after a pcall that returned, too), and a new local in a
// reused register is not shared with an old closure; through pcall,
// xpcall, nested frames and a coroutine. gopher-lua alone fails cases 1
// to 5 (yuin/gopher-lua#448).
func TestUpvaluesAfterErrors(t *testing.T) {
	t.Parallel()
	if !unwindOK {
		t.Skip("built with purego, or gopher-lua's layout changed: its upvalue bugs remain")
	}
	runAllOK(t, "upvalues.lua")
}

// TestUpvaluesAfterAFailedHandler: a handler the host calls (Call) that
// fails after making a closure leaves the closure its value, for the next
// call to read, and the host's calls leave the state's flags as they were.
func TestUpvaluesAfterAFailedHandler(t *testing.T) {
	t.Parallel()
	if !unwindOK {
		t.Skip("built with purego, or gopher-lua's layout changed: its upvalue bugs remain")
	}
	L := New(Options{})
	defer L.Close()
	fn, err := Compile(L, "h.lua", []byte(`
local later
function handler(n)
  if later then return later() end
  local x = "kept " .. n
  later = function() return x end
  error("first run fails")
end`))
	require.NoError(t, err)
	L.Push(fn)
	require.Nil(t, Call(L, 0, 0))
	L.Push(L.GetGlobal("handler"))
	L.Push(lua.LNumber(1))
	f := Call(L, 1, 1)
	require.NotNil(t, f)
	assert.Contains(t, lua.LVAsString(f.Value), "first run fails")
	L.Push(L.GetGlobal("handler"))
	L.Push(lua.LString("overwriting the registers"))
	require.Nil(t, Call(L, 1, 1))
	assert.Equal(t, lua.LString("kept 1"), L.Get(-1))
	L.Pop(1)
	assert.False(t, hasErrorFunc(L), "restored after each call")
	assert.Empty(t, callsOf(L).bases, "every call left")
}
