package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestHostBuiltStringsAreCapped: library calls that build a string in one
// uninterruptible Go call refuse giant results instead of exhausting memory
// or hanging past the deadline.
func TestHostBuiltStringsAreCapped(t *testing.T) {
	t.Parallel()
	const mb = `local mb = ("x"):rep(1024 * 1024)
`
	cases := map[string]struct{ code, want string }{
		"table.concat": {mb + `local t = {} for i = 1, 100 do t[i] = mb end
local s = table.concat(t)`, "table.concat: result exceeds the limit"},
		"table.concat sep": {`local t = {} for i = 1, 20 do t[i] = "" end
local s = table.concat(t, ("x"):rep(1024 * 1024))`, "table.concat: result exceeds the limit"},
		"format width":     {`local s = string.format("%100d", 1)`, "width or precision too long"},
		"format precision": {`local s = string.format("%.100f", 1)`, "width or precision too long"},
		"format many args": {mb + `local s = string.format(("%s"):rep(20), mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb)`, "string.format: result exceeds the limit"},
		"gsub":             {`local s = ("x"):rep(20000):gsub("x", ("y"):rep(1000))`, "string.gsub: result exceeds the limit"},
		"gsub captures":    {`local s = ("x"):rep(100000):gsub("(x+)", ("%1"):rep(200))`, "string.gsub: result exceeds the limit"},
		"gsub function":    {mb + `local s = ("x"):rep(100):gsub("x", function() return mb end)`, "string.gsub: result exceeds the limit"},
		"os.date":          {`local s = os.date(("%c"):rep(1000))`, "exceeds the limit of 1024 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runBounded(t, c.code, 5*time.Second)
			require.Error(t, err, "%s must be refused", name)
			assert.Contains(t, err.Error(), c.want, name)
			assert.Contains(t, err.Error(), "t.lua:", "%s: error carries file:line", name)
		})
	}
}

// TestBigLegalStrings: the replacements work on inputs gopher-lua's own
// versions choke on (registry overflow, quadratic copying, a registry
// growing by tiny steps past the deadline).
func TestBigLegalStrings(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		code    string
		timeout time.Duration
	}{
		"concat 200k": {`local t = {} for i = 1, 200000 do t[i] = "x" end
assert(#table.concat(t) == 200000)
assert(table.concat({1, "a", 2.5}, "-") == "1-a-2.5")
assert(table.concat({"a", "b", "c"}, ",", 2) == "b,c")
assert(table.concat({"a", "b", "c"}, ",", 2, 1) == "")`, 10 * time.Second},
		// ~0.5s under -race with the big grow step; ~8s with a step of 64.
		"unpack 200k": {`local t = {} for i = 1, 200000 do t[i] = i end
assert(select("#", unpack(t)) == 200000)`, 3 * time.Second},
		"gsub 1e6 matches": {`local s, n = ("x"):rep(1000000):gsub("x", "y")
assert(n == 1000000 and s == ("y"):rep(1000000))`, 10 * time.Second},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, runBounded(t, c.code, c.timeout), name)
		})
	}
	err := runBounded(t, `local s = table.concat({"a", {}})`, time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid value (table) at index 2")
}

// TestGsubSemantics checks the replacement gsub against Lua 5.1 results.
func TestGsubSemantics(t *testing.T) {
	t.Parallel()
	cases := []struct {
		call, want string
		n          int
	}{
		{`("hello world"):gsub("o", "0")`, "hell0 w0rld", 2},
		{`("hello world"):gsub("(%w+)", "<%1>")`, "<hello> <world>", 2},
		{`("hello"):gsub("", "-")`, "-h-e-l-l-o-", 6},
		{`("abc"):gsub("%w", "%0%0")`, "aabbcc", 3},
		{`("abc"):gsub("%w", "%%")`, "%%%", 3},
		{`("abc"):gsub("b", "%1")`, "abc", 1},
		{`("hello world"):gsub("%w+", {hello = "HI"})`, "HI world", 2},
		{`("hello world"):gsub("%w+", function(w) return w:upper() end, 1)`, "HELLO world", 1},
		{`("hello world"):gsub("%w+", function(w) return nil end)`, "hello world", 2},
		{`("a1"):gsub("%d", function(d) return d + 1 end)`, "a2", 1},
		{`("aaa"):gsub("^a", "x")`, "xaa", 1},
		{`("abc"):gsub("()", "%1")`, "1a2b3c4", 4},
		{`("x = 1"):gsub("(%w+) = (%w+)", "%2 = %1")`, "1 = x", 1},
		{`("abc"):gsub("x*", "-")`, "-a-b-c-", 4},
		{`("abc"):gsub("", "")`, "abc", 4},
	}
	for _, c := range cases {
		L := New(Options{})
		err := runChunk(context.Background(), L, "t.lua", []byte("s, n = "+c.call), time.Second)
		require.NoError(t, err, c.call)
		assert.Equal(t, c.want, L.GetGlobal("s").String(), c.call)
		assert.Equal(t, lua.LNumber(c.n), L.GetGlobal("n"), "count of %s", c.call)
		L.Close()
	}
	for code, want := range map[string]string{
		`("abc"):gsub("a", "%2")`:                         "invalid capture index",
		`("abc"):gsub("b", function() return {} end)`:     "invalid replacement value (a table)",
		`("abc"):gsub("(", "x")`:                          "string.gsub:",
		`("abc"):gsub("b", function() error("boom") end)`: "boom",
	} {
		err := runSnippet(t, code, time.Second, false)
		require.Error(t, err, code)
		assert.Contains(t, err.Error(), want, code)
	}
}

// TestCoroutinesRunUnderTheCallersDeadline: a coroutine created at load
// keeps working in handlers (gopher-lua would tie it to the finished load's
// context), and still cannot outlive the handler's deadline.
func TestCoroutinesRunUnderTheCallersDeadline(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	top := `
local gen = coroutine.wrap(function() local i = 0 while true do i = i + 1; coroutine.yield(i) end end)
local co = coroutine.create(function() local i = 0 while true do i = i + 1; coroutine.yield(i) end end)
local spin = coroutine.create(function() while true do end end)
function wrapped() return gen() end
function resumed() local ok, v = coroutine.resume(co); assert(ok, v); return v end
function stuck() coroutine.resume(spin) end
function wrap_error() coroutine.wrap(function() error("boom") end)() end
function wrap_values()
  local f = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
  assert(f(1) == 2)
  assert(f(5) == 10)
  f()
end
`
	require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte(top), time.Second))
	call := func(name string, timeout time.Duration) error {
		return pcall(context.Background(), L, timeout, L.GetGlobal(name).(*lua.LFunction))
	}
	for i := 1; i <= 3; i++ {
		require.NoError(t, call("wrapped", time.Second), "coroutine.wrap from load, handler call %d", i)
		require.NoError(t, call("resumed", time.Second), "coroutine.create from load, handler call %d", i)
	}
	start := time.Now()
	err := call("stuck", 100*time.Millisecond)
	require.Error(t, err, "an endless coroutine is stopped")
	assert.True(t, err.(*callError).Timeout, "stopped by the handler deadline: %v", err)
	assert.Less(t, time.Since(start), 5*time.Second)

	err = call("wrap_error", time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "boom", "wrap propagates the coroutine's error")
	err = call("wrap_values", time.Second)
	require.Error(t, err, "resuming a dead wrapped coroutine raises")
	assert.Contains(t, err.Error(), "dead", "error of a dead coroutine")
	require.NoError(t, call("wrapped", time.Second), "state usable afterwards")
}

// TestGfindIsBounded: string.gfind, gopher-lua's alias of its own gmatch,
// matches under the deadline like gmatch.
func TestGfindIsBounded(t *testing.T) {
	t.Parallel()
	err := runBounded(t, `for m in string.gfind(("a"):rep(40), ("a*"):rep(40) .. "b") do end`, 200*time.Millisecond)
	require.Error(t, err)
	assert.True(t, err.(*callError).Timeout, "stopped by the deadline: %v", err)
	require.NoError(t, runBounded(t, `local n = 0 for w in string.gfind("a b c", "%a") do n = n + 1 end assert(n == 3)`, time.Second))
}
