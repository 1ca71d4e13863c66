package sandbox

import (
	"errors"
	"io/fs"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ModuleFinder finds the source of the module name for require: the chunk
// name its errors carry ("lib/util.lua") and its content. An error wrapping
// fs.ErrNotExist means there is no such module; any error is raised to the
// script as "require "name": <error>".
type ModuleFinder func(name string) (chunk string, src []byte, err error)

// globalModules are the libraries (and rc) that are globals of the
// sandbox, and withheldModules the standard ones it withholds: require
// refuses both names, as lib/ modules and otherwise.
var (
	globalModules   = []string{"string", "table", "math", "coroutine", "os", "rc", "_G"}
	withheldModules = []string{"io", "debug", "package", "channel"}
)

// IsLibraryName reports whether name is a standard library's (or rc's),
// which require never loads from lib/.
func IsLibraryName(name string) bool {
	return slices.Contains(globalModules, name) || slices.Contains(withheldModules, name)
}

// requirer is one state's require: its cache (package.loaded as Lua 5.1
// has it, kept in Go since package is withheld) and the chain of modules
// being loaded, for cycles.
type requirer struct {
	find     ModuleFinder
	onLoad   func(name string) // told of each module loaded (Options.ModuleLoaded); may be nil
	fallback *lua.LFunction    // unsafe mode: gopher-lua's own require, after lib/
	loaded   map[string]lua.LValue
	loading  []string
}

// installRequire sets the global require of L: the modules find returns
// (a standard library's name is refused; under unsafe it is gopher-lua's
// own require's, never lib/'s), each compiled through Compile (the
// source limits of a script) and run once per state with its name as
// argument. A module returning nothing is cached as true; onLoad (may be
// nil) is told its name then.
func installRequire(L *lua.LState, find ModuleFinder, onLoad func(string), fallback *lua.LFunction) {
	r := &requirer{find: find, onLoad: onLoad, fallback: fallback, loaded: map[string]lua.LValue{}}
	L.SetGlobal("require", L.NewFunction(r.require))
}

func (r *requirer) require(L *lua.LState) int {
	name := L.CheckString(1)
	if IsLibraryName(name) {
		switch {
		case r.fallback != nil: // unsafe: the library itself, never a lib/ module shadowing it
			return r.callFallback(L, name)
		case slices.Contains(globalModules, name):
			L.RaiseError("require %q: %s is already a global of the sandbox; require loads modules of lib/ only", name, name)
		default:
			L.RaiseError("require %q: %s is withheld by the sandbox; require loads modules of lib/ only", name, name)
		}
	}
	if v, ok := r.loaded[name]; ok {
		L.Push(v)
		return 1
	}
	if r.find == nil {
		if r.fallback != nil {
			return r.callFallback(L, name)
		}
		L.RaiseError("require %q: loading modules from files is disabled in the sandbox", name)
	}
	for i, n := range r.loading {
		if n == name {
			chain := append(append([]string{}, r.loading[i:]...), name)
			L.RaiseError("require %q: require cycle: %s", name, strings.Join(chain, " -> "))
		}
	}
	chunk, src, err := r.find(name)
	if err != nil {
		if r.fallback != nil && errors.Is(err, fs.ErrNotExist) {
			return r.callFallback(L, name)
		}
		L.RaiseError("require %q: %v", name, err)
	}
	fn, err := Compile(L, chunk, src)
	if err != nil {
		// The module's own file:line leads, as for a script.
		L.Error(lua.LString(err.Error()+" (required as \""+name+"\")"), 0)
	}
	r.loading = append(r.loading, name)
	defer func() { r.loading = r.loading[:len(r.loading)-1] }()
	L.Push(fn)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	v := L.Get(-1)
	L.Pop(1)
	if v == lua.LNil {
		v = lua.LTrue
	}
	r.loaded[name] = v
	if r.onLoad != nil {
		r.onLoad(name)
	}
	L.Push(v)
	return 1
}

func (r *requirer) callFallback(L *lua.LState, name string) int {
	L.Push(r.fallback)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	return 1
}
