package sandbox

import (
	lua "github.com/yuin/gopher-lua"
)

// MaxResults caps the values one call of unpack or string.byte returns,
// as Lua 5.1 does ("too many results to unpack"). Without it a call filled
// the value stack to its last slot, and gopher-lua, finding no slot for
// the error handler, let the error escape every pcall and left the state
// unusable.
const MaxResults = 8000

// capResults wraps unpack and string.byte to refuse more than MaxResults
// results before pushing any.
func capResults(L *lua.LState) {
	if unpack, ok := L.GetGlobal("unpack").(*lua.LFunction); ok {
		L.SetGlobal("unpack", L.NewFunction(func(L *lua.LState) int {
			t := L.CheckTable(1)
			i := L.OptInt(2, 1)
			j := L.OptInt(3, t.Len())
			if n := j - i + 1; i <= j && (n > MaxResults || n <= 0) {
				L.RaiseError("too many results to unpack (%d, at most %d)", j-i+1, MaxResults)
			}
			return unpack.GFunction(L)
		}))
	}
	str, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	if byteFn, ok := str.RawGetString("byte").(*lua.LFunction); ok {
		str.RawSetString("byte", L.NewFunction(func(L *lua.LState) int {
			s := L.CheckString(1)
			i := L.OptInt(2, 1)
			j := L.OptInt(3, i)
			n := len(s)
			if i < 0 {
				i = n + i + 1
			}
			if j < 0 {
				j = n + j + 1
			}
			i, j = max(i, 1), min(j, n)
			if j-i+1 > MaxResults {
				L.RaiseError("string slice too long (%d bytes, at most %d)", j-i+1, MaxResults)
			}
			return byteFn.GFunction(L)
		}))
	}
}
