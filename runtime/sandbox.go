package runtime

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Limits of every script state.
const (
	// maxStringBytes caps strings the host builds on a script's behalf
	// (string.rep); a bigger request raises a Lua error.
	maxStringBytes = 16 << 20
	// callStackSize bounds Lua call depth: deeper recursion raises
	// "stack overflow".
	callStackSize = 200
	// registry (value stack) sizes, in slots.
	registrySize     = 1024
	registryMaxSize  = 256 * 1024
	registryGrowStep = 64
)

func stateOptions(skipLibs bool) lua.Options {
	return lua.Options{
		SkipOpenLibs:        skipLibs,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrowStep,
		MinimizeStackMemory: true,
	}
}

// newSandbox returns a fresh Lua state. Unless unsafe, only an allowlist of
// libraries is open: base (without dofile, loadfile, collectgarbage), table,
// string, math, coroutine and os.time/clock/date/difftime. io, debug, the
// rest of os and file-loading require raise a clear error when used.
func newSandbox(unsafe bool) *lua.LState {
	if unsafe {
		L := lua.NewState(stateOptions(false))
		capStrings(L)
		return L
	}
	L := lua.NewState(stateOptions(true))
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	capStrings(L)

	for _, name := range []string{"dofile", "loadfile", "collectgarbage"} {
		L.SetGlobal(name, disabled(L, name))
	}
	L.SetGlobal("_printregs", lua.LNil)

	// os: only the clock functions.
	full, _ := L.GetGlobal("os").(*lua.LTable)
	os := L.NewTable()
	for _, name := range []string{"time", "clock", "date", "difftime"} {
		if full != nil {
			os.RawSetString(name, full.RawGetString(name))
		}
	}
	L.SetMetatable(os, forbidIndex(L, "os"))
	L.SetGlobal("os", os)

	for _, lib := range []string{"io", "debug", "package"} {
		t := L.NewTable()
		L.SetMetatable(t, forbidIndex(L, lib))
		L.SetGlobal(lib, t)
	}
	L.SetGlobal("require", L.NewFunction(sandboxRequire))
	return L
}

// disabled returns a function that raises "<name> is disabled in the sandbox".
func disabled(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is disabled in the sandbox", name)
		return 0
	})
}

// forbidIndex is a metatable whose __index raises for any missing field
// and whose __newindex refuses additions.
func forbidIndex(L *lua.LState, lib string) *lua.LTable {
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s.%s is disabled in the sandbox", lib, L.ToString(2))
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is read-only in the sandbox", lib)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LString("locked"))
	return mt
}

// sandboxRequire returns already open libraries by name and refuses to
// load anything from files.
func sandboxRequire(L *lua.LState) int {
	name := L.CheckString(1)
	switch name {
	case "string", "table", "math", "coroutine", "os", "rc":
		if v := L.GetGlobal(name); v != lua.LNil {
			L.Push(v)
			return 1
		}
	}
	L.RaiseError("require %q: loading modules from files is disabled in the sandbox", name)
	return 0
}

// capStrings replaces string.rep with a version refusing results larger
// than maxStringBytes.
func capStrings(L *lua.LState) {
	str, ok := L.GetGlobal("string").(*lua.LTable)
	if !ok {
		return
	}
	str.RawSetString("rep", L.NewFunction(func(L *lua.LState) int {
		s := L.CheckString(1)
		n := L.CheckNumber(2)
		sep := L.OptString(3, "")
		if n <= 0 {
			L.Push(lua.LString(""))
			return 1
		}
		total := float64(len(s))*float64(n) + float64(len(sep))*(float64(n)-1)
		if total > maxStringBytes {
			L.RaiseError("string.rep: result of %.0f bytes exceeds the limit of %d bytes", total, maxStringBytes)
		}
		count := int(n)
		if sep == "" {
			L.Push(lua.LString(strings.Repeat(s, count)))
			return 1
		}
		var b strings.Builder
		b.Grow(int(total))
		for i := 0; i < count; i++ {
			if i > 0 {
				b.WriteString(sep)
			}
			b.WriteString(s)
		}
		L.Push(lua.LString(b.String()))
		return 1
	}))
}
