package sandbox

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestRewrites: what rewrite.go fixes runs as in Lua 5.1
// (testdata/rewrite.lua, checked with lua5.1): an assignment of several
// values evaluates all of them, and its targets' tables and keys, before
// assigning any (gopher-lua swaps x, y = y, x into 2, 2:
// yuin/gopher-lua#440); an and/or value assigned to an existing local
// replaces it (gopher-lua kept the old value: #490); a loop whose body
// starts with if false or while false sums right (gopher-lua: 0, or a
// Go panic: #540). An error in a rewritten statement keeps its line.
func TestRewrites(t *testing.T) {
	t.Parallel()
	L := runAllOK(t, "rewrite.lua")

	fn, err := Compile(L, "line.lua", []byte("local a, t\n\na, t.x = 1, 2\n"))
	require.NoError(t, err)
	L.Push(fn)
	f := Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "line.lua:3:", f.Where)

	// A function near the 200 locals, which the rewrite's own would pass,
	// compiles as written.
	var src199 strings.Builder
	for i := range 199 {
		fmt.Fprintf(&src199, "local l%d = %d\n", i, i)
	}
	src199.WriteString("l1, l2 = 5, 6\nreturn l1 + l2\n")
	// A function whose concatenation the .. rewrite takes past the
	// registers: the chunk compiles without that rewrite, the others kept.
	var regs strings.Builder
	regs.WriteString("local function big()\n")
	for i := range 196 {
		fmt.Fprintf(&regs, "local v%d = %d\n", i, i)
	}
	regs.WriteString("return v1 .. v2 .. v3 .. v4\nend\nlocal a, b = 1, 2\na, b = b, a\nreturn big(), a, b\n")
	fn, err = Compile(L, "regs.lua", []byte(regs.String()))
	require.NoError(t, err, "196 locals and a concatenation")
	L.Push(fn)
	require.Nil(t, Call(L, 0, 3))
	assert.Equal(t, []lua.LValue{lua.LString("1234"), lua.LNumber(2), lua.LNumber(1)}, []lua.LValue{L.Get(-3), L.Get(-2), L.Get(-1)}, "the swap still fixed")
	L.Pop(3)

	fn, err = Compile(L, "near.lua", []byte(src199.String()))
	require.NoError(t, err, "199 locals and a multiple assignment")
	L.Push(fn)
	require.Nil(t, Call(L, 0, 1))
	assert.Equal(t, lua.LNumber(11), L.Get(-1))
	L.Pop(1)
}
