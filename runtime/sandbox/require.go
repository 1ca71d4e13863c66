package sandbox

import (
	"errors"
	"io/fs"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ModuleFinder finds the source of the module name for require: the chunk
// name its errors carry ("lib/util.lua") and its content. An error wrapping
// fs.ErrNotExist means there is no such module; any error is raised to the
// script as "require "name": <error>".
type ModuleFinder func(name string) (chunk string, src []byte, err error)

// builtinModules are the names require returns the open library for.
var builtinModules = []string{"string", "table", "math", "coroutine", "os", "rc"}

// requirer is one state's require: its cache (package.loaded as Lua 5.1
// has it, kept in Go since package is withheld) and the chain of modules
// being loaded, for cycles.
type requirer struct {
	find     ModuleFinder
	fallback *lua.LFunction // unsafe mode: gopher-lua's own require, after lib/
	loaded   map[string]lua.LValue
	loading  []string
}

// installRequire sets the global require of L: the open libraries by
// name, then the modules find returns, each compiled through Compile (the
// source limits of a script) and run once per state with its name as
// argument. A module returning nothing is cached as true.
func installRequire(L *lua.LState, find ModuleFinder, fallback *lua.LFunction) {
	r := &requirer{find: find, fallback: fallback, loaded: map[string]lua.LValue{}}
	L.SetGlobal("require", L.NewFunction(r.require))
}

func (r *requirer) require(L *lua.LState) int {
	name := L.CheckString(1)
	if r.fallback == nil {
		for _, b := range builtinModules {
			if name == b {
				if v := L.GetGlobal(name); v != lua.LNil {
					L.Push(v)
					return 1
				}
			}
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
	L.Push(v)
	return 1
}

func (r *requirer) callFallback(L *lua.LState, name string) int {
	L.Push(r.fallback)
	L.Push(lua.LString(name))
	L.Call(1, 1)
	return 1
}
