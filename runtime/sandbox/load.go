package sandbox

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// installLoad replaces load and loadstring with versions compiling through
// Compile, so that code built at run time meets the same source limits as
// a script file (gopher-lua's compile anything: a few MB of "not not ..."
// kill the process). load's reader may hand over at most MaxSourceBytes in
// all.
func installLoad(L *lua.LState) {
	L.SetGlobal("loadstring", L.NewFunction(func(L *lua.LState) int {
		src := L.CheckString(1)
		return loadResult(L, L.OptString(2, "<string>"), []byte(src))
	}))
	L.SetGlobal("load", L.NewFunction(func(L *lua.LState) int {
		reader := L.CheckFunction(1)
		name := L.OptString(2, "?")
		var src []byte
		for {
			L.Push(reader)
			L.Call(0, 1)
			piece := L.Get(-1)
			L.Pop(1)
			if piece == lua.LNil {
				break
			}
			if !lua.LVCanConvToString(piece) {
				L.Push(lua.LNil)
				L.Push(lua.LString("reader function must return a string"))
				return 2
			}
			s := lua.LVAsString(piece)
			if s == "" {
				break
			}
			if len(src)+len(s) > MaxSourceBytes {
				L.Push(lua.LNil)
				L.Push(lua.LString(fmt.Sprintf("%s: source exceeds the limit of %d bytes", name, MaxSourceBytes)))
				return 2
			}
			src = append(src, s...)
		}
		return loadResult(L, name, src)
	}))
}

// loadResult compiles src as load does: the function, or nil and the
// error message.
func loadResult(L *lua.LState, name string, src []byte) int {
	fn, err := Compile(L, name, src)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(fn)
	return 1
}
