package sandbox

import (
	lua "github.com/yuin/gopher-lua"
)

// capResults wraps unpack and string.byte, the library functions that
// push as many values as asked, to make room for them first. Pushing up to
// the value stack's last slot left gopher-lua no slot for the error
// handler: the "registry overflow" then escaped every pcall and left the
// state unusable. With the room made first, a request too big for the
// stack fails cleanly, before anything is pushed. The wrappers hold only
// the originals' Go functions.
func capResults(L *lua.LState) {
	if fn, ok := L.GetGlobal("unpack").(*lua.LFunction); ok {
		unpack := fn.GFunction
		L.SetGlobal("unpack", L.NewFunction(func(L *lua.LState) int {
			t := L.CheckTable(1)
			i := L.OptInt(2, 1)
			j := L.OptInt(3, t.Len())
			if i <= j {
				ensureSlots(L, uint64(j)-uint64(i)+1)
			}
			return unpack(L)
		}))
	}
	str, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	if fn, ok := str.RawGetString("byte").(*lua.LFunction); ok {
		byteFn := fn.GFunction
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
			if i, j = max(i, 1), min(j, n); i <= j {
				ensureSlots(L, uint64(j-i+1))
			}
			return byteFn(L)
		}))
	}
}

// ensureSlots raises "registry overflow" unless the value stack has room
// for n more values and the two an error needs (its handler and its
// value). Growing the stack to that size and back is the check: it fails
// while nothing is pushed yet.
func ensureSlots(L *lua.LState, n uint64) {
	if n > registryMaxSize {
		L.RaiseError("registry overflow (%d values asked, the stack holds %d)", n, registryMaxSize)
	}
	top := L.GetTop()
	L.SetTop(top + int(n) + 2)
	L.SetTop(top)
}
