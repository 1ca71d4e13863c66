package sandbox

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// withheldFunctions returns the Go functions a default sandbox must never
// let a script reach, by name: every io function (file methods too), os
// beyond the clock, debug, package (its loaders load files), the
// file-loading and unbounded base functions, and the library originals the
// sandbox replaces with bounded versions. They are collected from a state
// with every gopher-lua library open; a function is identified by its Go
// code pointer, so the sandbox's own copy of os.execute is found too.
func withheldFunctions(t *testing.T) map[uintptr]string {
	t.Helper()
	full := lua.NewState()
	defer full.Close()
	withheld := map[uintptr]string{}
	add := func(name string, v lua.LValue) {
		if fn, ok := v.(*lua.LFunction); ok && fn.IsG {
			withheld[reflect.ValueOf(fn.GFunction).Pointer()] = name
		}
	}
	addTable := func(prefix string, v lua.LValue) {
		tb, ok := v.(*lua.LTable)
		require.True(t, ok, "%s is a table", prefix)
		tb.ForEach(func(k, v lua.LValue) { add(prefix+"."+k.String(), v) })
	}
	addTable("io", full.GetGlobal("io"))
	addTable("debug", full.GetGlobal("debug"))
	addTable("package", full.GetGlobal("package"))
	addTable("package.loaders", full.GetField(full.GetGlobal("package"), "loaders"))
	fileMeta := full.GetField(full.Get(lua.RegistryIndex), "FILE*")
	addTable("file", fileMeta)
	addTable("file", full.GetField(fileMeta, "__index"))
	os := full.GetGlobal("os")
	for _, name := range []string{"execute", "exit", "remove", "rename", "getenv", "setenv", "tmpname", "setlocale"} {
		add("os."+name, full.GetField(os, name))
	}
	for _, name := range []string{"dofile", "loadfile", "module", "require", "_printregs", "collectgarbage", "newproxy"} {
		add(name, full.GetGlobal(name))
	}
	for lib, names := range replacedOriginals {
		for _, name := range names {
			add(lib+"."+name+" (original the sandbox replaces)", full.GetField(full.GetGlobal(lib), name))
		}
	}
	require.Greater(t, len(withheld), 40, "the withheld set was collected")
	return withheld
}

// replacedOriginals are the library functions the sandbox replaces with
// bounded or guarded versions, by library: their originals must not stay
// reachable under another name.
var replacedOriginals = map[string][]string{
	"string":    {"rep", "find", "match", "gmatch", "gfind", "gsub", "format", "upper", "lower"},
	"table":     {"concat", "sort", "insert"},
	"math":      {"random", "randomseed"},
	"coroutine": {"resume", "wrap", "yield"},
	"_G":        {"rawset", "load", "loadstring"},
}

// reachable returns every function reachable in L by any route, Lua-visible
// or not: from the globals, the registry (gopher-lua's module and require
// read it), the thread's environment and the metatables of every type,
// following table keys and values, metatables, function environments and
// upvalues, and userdata metatables and environments.
func reachable(L *lua.LState) []*lua.LFunction {
	roots := []lua.LValue{L.Get(lua.RegistryIndex), L.Get(lua.GlobalsIndex), L.Env}
	for _, v := range []lua.LValue{lua.LString(""), lua.LNumber(0), lua.LTrue, lua.LNil, L.NewFunction(func(*lua.LState) int { return 0 }), L} {
		roots = append(roots, L.GetMetatable(v))
	}
	var fns []*lua.LFunction
	for v := range objects(roots...) {
		if fn, ok := v.(*lua.LFunction); ok {
			fns = append(fns, fn)
		}
	}
	return fns
}

// TestNoWithheldFunctionIsReachable walks everything a default sandbox
// holds, the registry included, and finds none of the withheld functions:
// no route (module, package.loaded, a metatable, an environment, an
// upvalue) can lead back to one.
func TestNoWithheldFunctionIsReachable(t *testing.T) {
	t.Parallel()
	withheld := withheldFunctions(t)
	L := New(Options{})
	defer L.Close()
	var found []string
	for _, fn := range reachable(L) {
		if !fn.IsG {
			continue
		}
		if name, ok := withheld[reflect.ValueOf(fn.GFunction).Pointer()]; ok {
			found = append(found, name)
		}
	}
	sort.Strings(found)
	assert.Empty(t, found, "withheld functions reachable in the sandbox")

	// The walk does find what the sandbox keeps (it is not blind).
	unsafe := New(Options{Unsafe: true})
	defer unsafe.Close()
	n := 0
	for _, fn := range reachable(unsafe) {
		if fn.IsG {
			if _, ok := withheld[reflect.ValueOf(fn.GFunction).Pointer()]; ok {
				n++
			}
		}
	}
	assert.Greater(t, n, 20, "the walk finds io, os and debug in an unsafe state")
}

// luaWalker is Lua that collects, into the global found, every function a
// script can reach with the base library alone: pairs over every table
// (raw, with next), metatables of tables, strings and other values,
// environments of functions, of stack levels 0..10 and of a coroutine,
// and coroutine.running.
const luaWalker = `
local next, type, getmetatable, getfenv, pcall = next, type, getmetatable, getfenv, pcall
found = {}
local seen = {}
local function visit(v)
  local ty = type(v)
  if ty ~= "table" and ty ~= "function" and ty ~= "userdata" and ty ~= "thread" then
    if ty == "string" or ty == "number" or ty == "boolean" then
      local ok, mt = pcall(getmetatable, v)
      if ok and mt ~= nil and not seen[mt] then visit(mt) end
    end
    return
  end
  if seen[v] then return end
  seen[v] = true
  if ty == "function" then
    found[#found + 1] = v
    local ok, env = pcall(getfenv, v)
    if ok then visit(env) end
  elseif ty == "table" then
    for k, x in next, v do visit(k); visit(x) end
  end
  if ty ~= "function" then visit(getmetatable(v)) end
end
local function levels(depth)
  if depth > 0 then return levels(depth - 1) end
  for level = 0, 10 do
    local ok, env = pcall(getfenv, level)
    if ok then visit(env) end
  end
end
visit(_G)
visit("")
visit(0)
visit(true)
levels(5)
local co = coroutine.create(function()
  levels(3)
  visit(coroutine.running())
  coroutine.yield()
end)
assert(coroutine.resume(co))
visit(co)
`

// TestLuaWalkFindsNoWithheldFunction runs the walk a script can do (pairs,
// metatables, environments, coroutines) and checks what it found.
func TestLuaWalkFindsNoWithheldFunction(t *testing.T) {
	t.Parallel()
	withheld := withheldFunctions(t)
	L := New(Options{})
	defer L.Close()
	require.NoError(t, runChunk(context.Background(), L, "walk.lua", []byte(luaWalker), 5*time.Second))
	found, ok := L.GetGlobal("found").(*lua.LTable)
	require.True(t, ok, "the walk filled found")
	require.Greater(t, found.Len(), 60, "the walk reached the libraries")
	var bad []string
	for i := 1; i <= found.Len(); i++ {
		fn := found.RawGetInt(i).(*lua.LFunction)
		if name, ok := withheld[reflect.ValueOf(fn.GFunction).Pointer()]; fn.IsG && ok {
			bad = append(bad, name)
		}
	}
	assert.Empty(t, bad, "withheld functions a script reaches")
}

// TestEscapeRoutesAreClosed: each route back to a withheld table or
// function, tried as a script would, fails with a clear error.
func TestEscapeRoutesAreClosed(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ code, want string }{
		// gopher-lua's module looks the name up in the registry's _LOADED,
		// which lua.OpenOs filled with the full os table.
		"module os":      {`local p = print; module("os"); p(execute)`, "module is disabled in the sandbox"},
		"module io":      {`local p = print; module("io"); p(open)`, "module is disabled in the sandbox"},
		"module _G":      {`module("x", package.seeall)`, "package.seeall is disabled in the sandbox"},
		"package.loaded": {`local os = package.loaded.os`, "package.loaded is disabled in the sandbox"},
		"package.loaders": {`local f = package.loaders[2]`,
			"package.loaders is disabled in the sandbox"},
		"require os":               {`require("os").execute("id")`, `require "os": os is already a global of the sandbox; require loads modules of lib/ only`},
		"require string":           {`require("string")`, `require "string": string is already a global of the sandbox; require loads modules of lib/ only`},
		"require io":               {`require("io")`, `require "io": io is withheld by the sandbox; require loads modules of lib/ only`},
		"require debug":            {`require("debug")`, `require "debug": debug is withheld by the sandbox`},
		"require package":          {`require("package")`, `require "package": package is withheld by the sandbox`},
		"require _G":               {`require("_G")`, `require "_G": _G is already a global of the sandbox`},
		"setfenv of a Go function": {`setfenv(print, {})`, "cannot change the environment of given object"},
		"setfenv through pcall's level": {`local ok, e = pcall(setfenv, 1, {}); error(e, 0)`,
			"cannot change the environment of given object"},
		"string.dump": {`string.dump(print)`, "does not support the string.dump"},
		"newproxy of a non-proxy": {`newproxy(coroutine.create(print))`,
			"bad argument #1 to newproxy (boolean or proxy expected)"},
		"os metatable": {`setmetatable(os, nil)`, "cannot change a protected metatable"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := runSnippet(t, c.code, time.Second, false)
			require.Error(t, err, "%s must fail in the sandbox", c.code)
			assert.Contains(t, err.Error(), c.want, "error of %s", c.code)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:1:"), "error of %s carries file:line: %q", c.code, err)
		})
	}
}

// TestHarmlessRoutes: what the sandbox keeps of environments, metatables,
// binary chunks, proxies, coroutines and error values leads nowhere but to
// the sandbox's own globals.
func TestHarmlessRoutes(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"getfenv of functions and levels is _G": `
assert(getfenv(print) == _G and getfenv(string.format) == _G)
local function f() return getfenv(0), getfenv(1), getfenv(2), getfenv(50) end
local a, b, c, d = f()
assert(a == _G and b == _G and c == _G and d == _G)
assert(rawget(getfenv(print), "os") == os)`,
		"setfenv changes only the script's own functions": `
local t = {x = 1}
local function g() return x end
setfenv(g, t)
assert(g() == 1)
setfenv(0, t)
assert(loadstring("return x")() == 1)`,
		"the string metatable is the string table": `
local mt = getmetatable("")
assert(mt.__index == string)
mt.__index = {len = function() return 42 end}
assert(("abc"):len() == 42)`,
		"forbid tables are locked and empty": `
assert(getmetatable(os) == "locked" and getmetatable(io) == "locked")
assert(rawget(os, "execute") == nil and rawget(io, "open") == nil and rawget(debug, "getinfo") == nil)
rawset(os, "execute", 1)
assert(os.execute == 1)`,
		"binary chunks do not load": `
local f, err = loadstring("\27LuaQ\0\1\4\8\4\8\0")
assert(f == nil and err:find("t.lua") == nil and #err > 0, err)
local parts = {"\27Lua", "Q\0"}
local i = 0
f, err = load(function() i = i + 1; return parts[i] end)
assert(f == nil and #err > 0)`,
		"newproxy makes empty userdata": `
local p = newproxy(true)
local mt = getmetatable(p)
assert(type(mt) == "table" and next(mt) == nil)
local q = newproxy(p)
assert(getmetatable(q) == mt)
assert(getmetatable(newproxy(false)) == nil and getmetatable(newproxy()) == nil)`,
		"coroutines see _G and have no metatable": `
local co = coroutine.create(function()
  assert(getfenv(0) == _G and getfenv(1) == _G)
  coroutine.yield(coroutine.running())
end)
local ok, th = coroutine.resume(co)
assert(ok and th == co and getmetatable(co) == nil)
assert(coroutine.running() == nil)`,
		"error values are strings": `
local ok, e = pcall(function() return io.open end)
assert(not ok and type(e) == "string")
ok, e = pcall(function() return os.execute("id") end)
assert(not ok and type(e) == "string")
ok, e = pcall(require, "io")
assert(not ok and type(e) == "string")`,
	}
	for name, code := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, runSnippet(t, code, time.Second, false), name)
		})
	}
}

// TestStringMetatableIsPerState: a script changing the string metatable
// changes it only in its own state.
func TestStringMetatableIsPerState(t *testing.T) {
	t.Parallel()
	a, b := New(Options{}), New(Options{})
	defer a.Close()
	defer b.Close()
	require.NoError(t, runChunk(context.Background(), a, "a.lua", []byte(`getmetatable("").__index = {}`), time.Second))
	require.NoError(t, runChunk(context.Background(), b, "b.lua", []byte(`assert(("x"):upper() == "X")`), time.Second))
}

// TestNewproxyRefusesHostUserdata: newproxy cannot copy the metatable of a
// userdata the host made (it would make a fake of a host object).
func TestNewproxyRefusesHostUserdata(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	ud := L.NewUserData()
	ud.Value = "host object"
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.CheckUserData(1).Value.(string)))
		return 1
	}))
	L.SetMetatable(ud, mt)
	L.SetGlobal("host", ud)
	err := runChunk(context.Background(), L, "t.lua", []byte(`local fake = newproxy(host); return fake.x`), time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boolean or proxy expected")
}
