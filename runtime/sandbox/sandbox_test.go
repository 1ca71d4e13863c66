package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

func TestSandboxRefusesEscapes(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ code, want string }{
		"io.open":         {`local f = io.open("/etc/passwd")`, "io.open is disabled in the sandbox"},
		"io.popen":        {`io.popen("id")`, "io.popen is disabled in the sandbox"},
		"os.execute":      {`os.execute("true")`, "os.execute is disabled in the sandbox"},
		"os.exit":         {`os.exit(1)`, "os.exit is disabled in the sandbox"},
		"os.remove":       {`os.remove("/tmp/x")`, "os.remove is disabled in the sandbox"},
		"os.getenv":       {`os.getenv("HOME")`, "os.getenv is disabled in the sandbox"},
		"dofile":          {`dofile("/etc/passwd")`, "dofile is disabled in the sandbox"},
		"loadfile":        {`loadfile("/etc/passwd")`, "loadfile is disabled in the sandbox"},
		"collectgarbage":  {`collectgarbage()`, "collectgarbage is disabled in the sandbox"},
		"require file":    {`require("socket")`, `require "socket": loading modules from files is disabled`},
		"require path":    {`require("./evil")`, `loading modules from files is disabled`},
		"debug.getinfo":   {`debug.getinfo(1)`, "debug.getinfo is disabled in the sandbox"},
		"debug.sethook":   {`debug.sethook(function() end, "l")`, "debug.sethook is disabled in the sandbox"},
		"package.loadlib": {`package.loadlib("x", "y")`, "package.loadlib is disabled in the sandbox"},
		"os overwrite":    {`os.execute = function() end`, "os is read-only in the sandbox"},
		"os unlock":       {`setmetatable(os, nil)`, "cannot change a protected metatable"},
		"rawset via io":   {`rawset(io, "open", 1); io.open()`, "attempt to call a non-function object"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runSnippet(t, c.code, time.Second, false)
			require.Error(t, err, "%s must fail in the sandbox", c.code)
			assert.Contains(t, err.Error(), c.want, "error of %s", c.code)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:1:"), "error of %s carries file:line: %q", c.code, err)
		})
	}
}

func TestSandboxAllowsSafeLibraries(t *testing.T) {
	t.Parallel()
	code := `
assert(type(os.time()) == "number")
assert(type(os.clock()) == "number")
assert(os.date("!%Y", 0) == "1970")
assert(os.difftime(2, 1) == 1)
assert(string.format("%d", 3) == "3" and ("ab"):upper() == "AB")
assert(table.concat({1, 2}, ",") == "1,2")
assert(math.floor(2.5) == 2)
local co = coroutine.wrap(function() coroutine.yield(1) end)
assert(co() == 1)
assert(loadstring("return 1")() == 1)
assert(pcall(error, "x") == false)
assert(("x"):rep(3, ",") == "x,x,x")
`
	require.NoError(t, runSnippet(t, code, time.Second, false))
}

func TestUnsafeOpensEverything(t *testing.T) {
	t.Parallel()
	require.NoError(t, runSnippet(t, `assert(io.open ~= nil); assert(os.getenv ~= nil); assert(debug.getinfo ~= nil)`, time.Second, true))
	err := runSnippet(t, `return string.rep("x", 1e10)`, time.Second, true)
	require.Error(t, err, "string.rep is capped in unsafe mode too")
}

func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("deep recursion is an error", func(t *testing.T) {
		err := runSnippet(t, "local function f(n) return 1 + f(n + 1) end\nf(1)", 5*time.Second, false)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "stack overflow")
	})
	t.Run("recursion through pcall and coroutines is an error", func(t *testing.T) {
		err := runSnippet(t, "local function f() local ok, e = pcall(f); error(e, 0) end\nf()", 5*time.Second, false)
		require.Error(t, err)
	})
	// .. builds strings too: doubling past the cap, a chain, a number's
	// text on a full string, and through the rewrite's fallback-free path
	// of a loop (the adversarial trial's s = s .. s grew to 750 MB).
	for _, code := range []string{
		`string.rep("x", 2^24) .. "y"`,
		`("x"):rep(2^23) .. ("y"):rep(2^23) .. "z"`,
		`string.rep("x", 2^24) .. 1`,
		`string.rep("x", 2^20); for i = 1, 8 do s = s .. s end`,
	} {
		t.Run("giant concatenation "+code, func(t *testing.T) {
			err := runSnippet(t, "local s = "+code, 5*time.Second, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "t.lua:1: concatenation (..): result exceeds the limit of 16777216 bytes")
		})
	}
	t.Run("a concatenation at the cap is built", func(t *testing.T) {
		require.NoError(t, runSnippet(t, `local s = string.rep("x", 2^23) .. string.rep("y", 2^23 - 1) .. "z"; assert(#s == 2^24)`, 5*time.Second, false))
	})
	for _, code := range []string{`string.rep("x", 1e10)`, `("x"):rep(1e10)`, `string.rep("ab", 1e7, ",")`} {
		t.Run("giant string "+code, func(t *testing.T) {
			err := runSnippet(t, "local s = "+code, 5*time.Second, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "exceeds the limit")
			assert.Contains(t, err.Error(), "t.lua:1:")
		})
	}
}

func TestSyntaxErrorHasFileLine(t *testing.T) {
	t.Parallel()
	err := runSnippet(t, "local x = 1\nlocal = 2\n", time.Second, false)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:2: "), "got %q", err)
	err = runSnippet(t, "local function f()\n", time.Second, false)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:"), "got %q", err)
}

// TestCompiledScriptsKeepNoBuffers: a compiled script's functions, nested
// ones too, keep code and line tables of their own size, not the
// compiler's 1,024-entry buffers, and still run and report lines.
func TestCompiledScriptsKeepNoBuffers(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	fn, err := Compile(L, "small.lua", []byte("local n = 0\nlocal function f(x)\n  return function() n = n + x; error('at three') end\nend\nf(1)()\n"))
	require.NoError(t, err)
	var walk func(p *lua.FunctionProto, depth int) int
	walk = func(p *lua.FunctionProto, depth int) int {
		assert.Less(t, cap(p.Code), 64, "code of a function at depth %d", depth)
		assert.Less(t, cap(p.DbgSourcePositions), 64, "line table of a function at depth %d", depth)
		assert.LessOrEqual(t, cap(p.DbgCalls), 8, "calls of a function at depth %d", depth)
		n := 1
		for _, c := range p.FunctionPrototypes {
			n += walk(c, depth+1)
		}
		return n
	}
	assert.Equal(t, 3, walk(fn.Proto, 0))
	L.Push(fn)
	err = L.PCall(0, 0, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "small.lua:3: at three")
}

// TestStatesShareNothing: states copy their libraries from one template
// (by default), yet no table, function or environment is shared: what a
// script changes in its libraries, or reaches through them, is its own.
func TestStatesShareNothing(t *testing.T) {
	t.Parallel()
	_, copied := libraryTemplate()
	assert.Equal(t, ltable.OK, copied, "states copy their libraries whenever tables can be copied")
	a, b := New(Options{}), New(Options{})
	defer a.Close()
	defer b.Close()
	require.NoError(t, a.DoString(`
		string.shout = function(s) return s:upper() .. "!" end
		table.insert = nil
		math.pi = 3
		_G.mine = true
		marker = {}
		getfenv(print).marked = marker
		assert(("a"):shout() == "A!")
	`))
	require.NoError(t, b.DoString(`
		assert(string.shout == nil and ("a").shout == nil, "string table shared")
		assert(type(table.insert) == "function", "table table shared")
		assert(math.pi > 3.14, "math table shared")
		assert(mine == nil and marked == nil, "globals shared")
		assert(getfenv(print) == _G and _G._G == _G, "functions keep the template's environment")
		local n = 0
		for k, v in ipairs({10, 20}) do n = n + 1 end
		for _, v in ipairs({1, 2}) do n = n + v end
		assert(n == 5, n)
		for k in pairs({x = 1}) do assert(k == "x") end
		assert(("%d"):format(7) == "7" and ("abc"):gmatch(".")() == "a")
	`))
	for _, name := range []string{"print", "pairs", "ipairs"} {
		assert.NotSame(t, a.GetGlobal(name), b.GetGlobal(name), name)
	}
	assert.NotSame(t, a.GetGlobal("string"), b.GetGlobal("string"))
	assert.NotSame(t, a.GetMetatable(lua.LString("")), b.GetMetatable(lua.LString("")))
	assert.Same(t, a.GetGlobal("string"), a.GetMetatable(lua.LString("")).(*lua.LTable).RawGetString("__index"))
}

// BenchmarkNew measures one fresh sandboxed state, without the rc module
// (runtime's BenchmarkNewState adds it).
//
//	go test -run='^$' -bench=BenchmarkNew -benchmem -count=5 ./runtime/sandbox/
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		New(Options{}).Close()
	}
}

// TestTracebackFrames: the outermost frame is the main chunk only when a
// chunk runs there; a handler the host calls is named by where it is
// defined, and a Go function the host calls is [Go] (gopher-lua calls
// each of them "main", and gave the last no source: ": in main chunk").
func TestTracebackFrames(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	fn, err := Compile(L, "s.lua", []byte("local function f() error('boom') end\nh = function() f() end"))
	require.NoError(t, err)
	L.Push(fn)
	require.Nil(t, Call(L, 0, 0))
	top, err := Compile(L, "top.lua", []byte("local function g() error('boom') end\n\ng()"))
	require.NoError(t, err)
	L.Push(top)
	f := Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "stack traceback:\n\t[Go]: in function 'error'\n\ttop.lua:1: in function 'g'\n\ttop.lua:3: in main chunk", f.Traceback)

	L.Push(L.GetGlobal("h"))
	f = Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "stack traceback:\n\t[Go]: in function 'error'\n\ts.lua:1: in function 'f'\n\ts.lua:2: in function <s.lua:2>", f.Traceback)

	loaded, err := Compile(L, "outer.lua", []byte("local f = loadstring('error(\"in\")', 'inner')\nf()"))
	require.NoError(t, err)
	L.Push(loaded)
	f = Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "stack traceback:\n\t[Go]: in function 'error'\n\tinner:1: in main chunk\n\touter.lua:2: in main chunk", f.Traceback, "a chunk load made")

	L.Push(L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("from Go")
		return 0
	}))
	f = Call(L, 0, 0)
	require.NotNil(t, f)
	assert.Equal(t, "stack traceback:\n\t[Go]: in ?", f.Traceback)
}
