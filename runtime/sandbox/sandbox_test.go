package sandbox

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
