package runtime

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// runSnippet runs code as the top level of "t.lua" in a fresh sandbox.
func runSnippet(t *testing.T, code string, timeout time.Duration, unsafe bool) error {
	t.Helper()
	L := newSandbox(unsafe)
	defer L.Close()
	reg := &registry{mode: modeCheck, loading: true}
	env{}.openState(L, Config{}.withDefaults(), zerolog.Nop(), reg)
	return runChunk(context.Background(), L, "t.lua", []byte(code), timeout)
}

func TestSandboxRefusesEscapes(t *testing.T) {
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
assert(require("string") == string)
assert(("x"):rep(3, ",") == "x,x,x")
`
	require.NoError(t, runSnippet(t, code, time.Second, false))
}

func TestUnsafeOpensEverything(t *testing.T) {
	require.NoError(t, runSnippet(t, `assert(io.open ~= nil); assert(os.getenv ~= nil); assert(debug.getinfo ~= nil)`, time.Second, true))
	err := runSnippet(t, `return string.rep("x", 1e10)`, time.Second, true)
	require.Error(t, err, "string.rep is capped in unsafe mode too")
}

func TestLimits(t *testing.T) {
	t.Run("infinite loop stops at the deadline", func(t *testing.T) {
		start := time.Now()
		err := runSnippet(t, "local n = 0\nwhile true do n = n + 1 end", 100*time.Millisecond, false)
		require.Error(t, err)
		se, ok := err.(*scriptError)
		require.True(t, ok, "scriptError, got %T", err)
		assert.True(t, se.Timeout, "timeout flagged: %v", err)
		assert.Contains(t, err.Error(), "t.lua:2:")
		assert.Less(t, time.Since(start), 5*time.Second)
	})
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
	t.Run("panic in a Go function is recovered", func(t *testing.T) {
		L := newSandbox(false)
		defer L.Close()
		L.SetGlobal("boom", L.NewFunction(func(*lua.LState) int { panic("kaboom") }))
		err := runChunk(context.Background(), L, "t.lua", []byte("boom()"), time.Second)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "kaboom")
		// the state is still usable
		require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte("x = 1 + 1"), time.Second))
		assert.Equal(t, lua.LNumber(2), L.GetGlobal("x"))
	})
	t.Run("state usable after a timeout", func(t *testing.T) {
		L := newSandbox(false)
		defer L.Close()
		err := runChunk(context.Background(), L, "t.lua", []byte("while true do end"), 50*time.Millisecond)
		require.Error(t, err)
		require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte("y = 3"), time.Second))
		assert.Equal(t, lua.LNumber(3), L.GetGlobal("y"))
	})
}

func TestTriggerArgumentsRaiseAtLoad(t *testing.T) {
	cases := map[string]struct{ code, want string }{
		"unknown event":   {`rc.on("message", function() end)`, `unknown event "message"`},
		"handler not fn":  {`rc.on("subscription", 5)`, "function expected"},
		"bad interval":    {`rc.every("soon", function() end)`, `bad interval "soon"`},
		"zero interval":   {`rc.every(0, function() end)`, "below the minimum"},
		"negative":        {`rc.every("-5m", function() end)`, "below the minimum"},
		"too small":       {`rc.every("10ms", function() end)`, "below the minimum of 1s"},
		"interval type":   {`rc.every({}, function() end)`, "interval expected"},
		"every not fn":    {`rc.every("5m", "x")`, "function expected"},
		"bad cron":        {`rc.cron("61 * * * *", function() end)`, `bad cron spec "61 * * * *"`},
		"bad cron fields": {`rc.cron("* * *", function() end)`, "bad cron spec"},
		"bad cron tz":     {`rc.cron("CRON_TZ=Nowhere/Land 0 9 * * *", function() end)`, "bad cron spec"},
		"cron not fn":     {`rc.cron("0 9 * * *")`, "function expected"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runSnippet(t, "local x = 1\n"+c.code, time.Second, false)
			require.Error(t, err, c.code)
			assert.Contains(t, err.Error(), c.want, c.code)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:2:"), "file:line in %q", err)
			fn, _, _ := strings.Cut(c.code, "(")
			assert.Regexp(t, `bad argument #\d to `+regexp.QuoteMeta(fn)+` \(`, err.Error(), "names the function: %q", err)
		})
	}
	ok := `
rc.on("subscription", function(action, sub) end)
rc.every("5m", function() end)
rc.every(90, function() end)
rc.cron("0 9 * * 1-5", function() end)
rc.cron("CRON_TZ=Europe/Berlin 30 8 * * *", function() end)
rc.cron("@hourly", function() end)
`
	require.NoError(t, runSnippet(t, ok, time.Second, false))
}

func TestTriggersOnlyAtTopLevel(t *testing.T) {
	L := newSandbox(false)
	defer L.Close()
	reg := &registry{mode: modeRun, loading: true}
	env{}.openState(L, Config{}.withDefaults(), zerolog.Nop(), reg)
	require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte(`function later() rc.every("5m", function() end) end`), time.Second))
	reg.loading = false
	fn := L.GetGlobal("later").(*lua.LFunction)
	err := pcall(context.Background(), L, time.Second, fn)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "only be registered while the script loads")
	assert.Empty(t, reg.timers)
}

func TestSyntaxErrorHasFileLine(t *testing.T) {
	err := runSnippet(t, "local x = 1\nlocal = 2\n", time.Second, false)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:2: "), "got %q", err)
	err = runSnippet(t, "local function f()\n", time.Second, false)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:"), "got %q", err)
}
