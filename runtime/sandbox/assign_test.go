package sandbox

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestMultipleAssignments: an assignment of several values evaluates all
// of them, and its targets' tables and keys, before assigning any, as Lua
// 5.1 does (testdata/assign.lua, checked with lua5.1); gopher-lua alone
// swaps x, y = y, x into 2, 2 (yuin/gopher-lua#440). An error in the
// rewritten statement keeps the statement's line.
func TestMultipleAssignments(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("testdata/assign.lua")
	require.NoError(t, err)
	L := New(Options{})
	defer L.Close()
	var out []string
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int { out = append(out, L.CheckString(1)); return 0 }))
	fn, err := Compile(L, "assign.lua", src)
	require.NoError(t, err)
	L.Push(fn)
	if f := Call(L, 0, 0); f != nil {
		t.Fatalf("%v", f.Value)
	}
	assert.Equal(t, []string{"all ok"}, out)

	fn, err = Compile(L, "line.lua", []byte("local a, t\n\na, t.x = 1, 2\n"))
	require.NoError(t, err)
	L.Push(fn)
	f := Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "line.lua:3:", f.Where)
	assert.NotContains(t, lua.LVAsString(f.Value), "(assign", "the block's locals stay unseen")
}
