package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// callDone calls the library function at path ("table.sort") with args
// directly from Go under a context that is already done: no VM
// instruction runs in between, so only the function's own deadline checks
// can stop it. It returns the call's error (nil: the function finished).
func callDone(t *testing.T, L *lua.LState, path string, args ...lua.LValue) error {
	t.Helper()
	var fn lua.LValue = L.Get(lua.GlobalsIndex)
	for _, name := range strings.Split(path, ".") {
		fn = L.GetField(fn, name)
	}
	require.IsType(t, &lua.LFunction{}, fn, path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	return L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, args...)
}

// TestLongLibraryLoopsCheckTheDeadline: table.sort, string.format and
// table.concat run long loops in one Go call; each looks at the context as
// it goes (gopher-lua's sort ran 12 s past a 1.5 s deadline).
func TestLongLibraryLoopsCheckTheDeadline(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	nums, strs := L.NewTable(), L.NewTable()
	for i := 0; i < 5000; i++ {
		nums.Append(lua.LNumber(rand.Float64()))
		strs.Append(lua.LString("s"))
	}
	cases := map[string][]lua.LValue{
		"table.sort":    {nums},
		"string.format": {lua.LString(strings.Repeat("%s", 5000))},
		"table.concat":  {strs},
	}
	for i := 0; i < 5000; i++ {
		cases["string.format"] = append(cases["string.format"], lua.LString("x"))
	}
	for path, args := range cases {
		err := callDone(t, L, path, args...)
		require.Error(t, err, "%s must stop at the deadline", path)
		assert.Contains(t, err.Error(), "context canceled", path)
	}
}

// TestSortSemantics checks table.sort against Lua 5.1's results.
func TestSortSemantics(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		`local t = {5, 2, 8, 1, 9, 3} table.sort(t) return table.concat(t, ",")`:                            "1,2,3,5,8,9",
		`local t = {"b", "c", "a"} table.sort(t) return table.concat(t, ",")`:                               "a,b,c",
		`local t = {5, 2, 8, 1} table.sort(t, function(a, b) return a > b end) return table.concat(t, ",")`: "8,5,2,1",
		`local t = {} table.sort(t) t = {1} table.sort(t) return #t`:                                        "1",
		`local mt = {__lt = function(a, b) return a.v < b.v end}
local t = {} for i, v in ipairs({3, 1, 2}) do t[i] = setmetatable({v = v}, mt) end
table.sort(t) return t[1].v .. t[2].v .. t[3].v`: "123",
	} {
		L := New(Options{})
		fn, err := Compile(L, "t.lua", []byte(code))
		require.NoError(t, err, code)
		L.Push(fn)
		require.NoError(t, L.PCall(0, 1, nil), code)
		assert.Equal(t, want, L.Get(-1).String(), code)
		L.Close()
	}
	// Random arrays, duplicates included, come out sorted.
	for n := 0; n < 300; n += 7 {
		vals := make([]string, n)
		for i := range vals {
			vals[i] = fmt.Sprint(rand.IntN(50))
		}
		code := `local t = {` + strings.Join(vals, ",") + `} table.sort(t) return table.concat(t, ",")`
		L := New(Options{})
		fn, err := Compile(L, "t.lua", []byte(code))
		require.NoError(t, err)
		L.Push(fn)
		require.NoError(t, L.PCall(0, 1, nil))
		sort.Slice(vals, func(i, j int) bool {
			return len(vals[i]) < len(vals[j]) || len(vals[i]) == len(vals[j]) && vals[i] < vals[j]
		})
		assert.Equal(t, strings.Join(vals, ","), L.Get(-1).String(), "n=%d", n)
		L.Close()
	}
	for code, want := range map[string]string{
		`table.sort({1, "x", 2})`:                                                              "attempt to compare",
		`table.sort({3, 2, 1}, function(a, b) error("boom") end)`:                              "boom",
		`local t = {} for i = 1, 20 do t[i] = i end table.sort(t, function() return true end)`: "invalid order function for sorting",
		`table.sort({1, 2}, 3)`:                                                                "bad argument #2",
	} {
		err := runSnippet(t, code, time.Second, false)
		require.Error(t, err, code)
		assert.Contains(t, err.Error(), want, code)
		assert.Contains(t, err.Error(), "t.lua:1:", code)
	}
}

// TestFormatIsCountedExactly: string.format's result is counted as it is
// built, whatever its specs expand to.
func TestFormatIsCountedExactly(t *testing.T) {
	t.Parallel()
	const mb = `local mb = ("x"):rep(1024 * 1024)
`
	cases := map[string]struct{ code, want string }{
		// 409 bytes per 7-byte spec: gopher-lua's estimate (100 per spec)
		// let 20 MB through.
		"wide floats": {`local a = {} for i = 1, 50000 do a[i] = 1e308 end
local s = string.format(("%99.99f"):rep(50000), unpack(a))`, "string.format: result exceeds the limit"},
		// Go's fmt took argument indexes: one big argument used 100 times.
		"go argument index": {mb + `local s = string.format(("%[1]s"):rep(100), mb)`, "invalid option '%['"},
		"quoted zeros":      {`local s = string.format("%q", ("\0"):rep(5 * 1024 * 1024))`, "string.format: result exceeds the limit"},
		"many strings":      {mb + `local s = string.format(("%s"):rep(17), mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb, mb)`, "string.format: result exceeds the limit"},
		"width":             {`local s = string.format("%100d", 1)`, "invalid format (width or precision too long)"},
		"flags":             {`local s = string.format("%------d", 1)`, "invalid format (repeated flags)"},
		"missing argument":  {`local s = string.format("%d %d", 1)`, "bad argument #3"},
		"unknown":           {`local s = string.format("%y", 1)`, "invalid option '%y' to 'format'"},
		"unfinished":        {`local s = string.format("%5", 1)`, "invalid format (ends in a conversion)"},
		"not a number":      {`local s = string.format("%d", "x")`, "bad argument #2"},
		"bad __tostring":    {`local s = string.format("%s", setmetatable({}, {__tostring = function() return {} end}))`, "'__tostring' must return a string"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := runBounded(t, c.code, 10*time.Second)
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), c.want, name)
			assert.Contains(t, err.Error(), "t.lua:", name)
		})
	}
	require.NoError(t, runBounded(t, `
assert(string.format("%s|%5s|%-5s|%.2s", "a", "b", "c", "def") == "a|    b|c    |de")
assert(string.format("%s %s %s", nil, true, 1.5) == "nil true 1.5")
assert(string.format("%s", setmetatable({}, {__tostring = function() return "T" end})) == "T")
assert(string.format("%d%%", 50) == "50%")
assert(#string.format("%99.99f", 1e308) == 409)`, time.Second))
}

// formatCases is Lua that fills out with string.format results (or
// "ERROR") for every conversion with flags, widths and precisions over
// awkward values, and cases with a description of each. The cases are
// built by loops: a script of thousands of distinct literals would itself
// take minutes to compile (see MaxConstantLookups).
const formatCases = `
local values = {0, 1, -1, 3.7, -3.7, 255, 1e10, 1e-5, 123456789, 2^53, 2^63, -2^63, 1e100, 1/0, -1/0, 0/0, 0.1, 2.5, 65, -0.0}
local strs = {"abc", "", "a\n\"\\\r", ("x"):rep(120), 12}
-- %c of a byte 0 differs on purpose: Lua 5.1 cuts its result at the NUL
-- (a C string), the sandbox keeps it (as Lua 5.2 does).
local chars = {65, 255, 256 + 65, -191, 3.7, 97, -2^31 + 66}
local flagsets = {"", "-", "+", " ", "#", "0", "-0", "+0", "#0", "+ "}
local widths = {"", "5", "12"}
local precs = {"", ".0", ".3", ".10"}
out, cases = {}, {}
for verb in ("cdiouxXeEfgGqs"):gmatch(".") do
  local vals = (verb == "s" or verb == "q") and strs or verb == "c" and chars or values
  for _, f in ipairs(flagsets) do
    for _, w in ipairs(widths) do
      for _, p in ipairs(precs) do
        local spec = "[%" .. f .. w .. p .. verb .. "]"
        for i, v in ipairs(vals) do
          local ok, r = pcall(string.format, spec, v)
          out[#out + 1] = ok and r or "ERROR"
          cases[#cases + 1] = spec .. " of value " .. i
        end
      end
    end
  end
end
`

// TestFormatMatchesLua51 runs formatCases in the sandbox and in lua5.1
// (skipped when it is not installed) and compares the results byte for
// byte (%c of a zero byte aside, see formatCases).
func TestFormatMatchesLua51(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("lua5.1")
	if err != nil {
		t.Skip("lua5.1 not installed")
	}
	L := New(Options{})
	defer L.Close()
	require.NoError(t, runChunk(context.Background(), L, "format.lua", []byte(formatCases+`
ours = table.concat(out, "\1") names = table.concat(cases, "\1")`), 20*time.Second))
	ours := strings.Split(L.GetGlobal("ours").String(), "\x01")
	names := strings.Split(L.GetGlobal("names").String(), "\x01")
	out, err := exec.Command(bin, "-e", formatCases+`io.write(table.concat(out, "\1"))`).Output()
	require.NoError(t, err)
	theirs := strings.Split(string(out), "\x01")
	require.Greater(t, len(ours), 5000)
	require.Equal(t, len(ours), len(theirs), "as many results from lua5.1")
	bad := 0
	for i := range ours {
		if ours[i] != theirs[i] {
			if bad++; bad <= 20 {
				t.Errorf("%s:\n ours:   %q\n lua5.1: %q", names[i], ours[i], theirs[i])
			}
		}
	}
	assert.Zero(t, bad, "of %d calls", len(ours))
}

// TestLibraryOutputsStayBounded: the other library functions that build
// or write values are bounded by their input or refuse.
func TestLibraryOutputsStayBounded(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ code, want string }{
		// gopher-lua fills the gap with nils in one Go call.
		"rawset far":       {`rawset({}, 2^20 + 10, 1)`, "rawset: index 1048586 is 1048586 slots past the end of the table"},
		"table.insert far": {`table.insert({}, 2^20 + 10, 1)`, "table.insert: index 1048586 is 1048586 slots past"},
		"unpack huge":      {`unpack({}, 1, 1e8)`, "registry overflow"},
		"string.byte huge": {`local s = ("x"):rep(1e6) string.byte(s, 1, -1)`, "registry overflow"},
		"string.rep inf":   {`string.rep("x", 1/0)`, "string.rep: result of +Inf bytes exceeds the limit"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := runBounded(t, c.code, 5*time.Second)
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), c.want, name)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:1:"), "%s: %q", name, err)
		})
	}
	require.NoError(t, runBounded(t, `
-- upper and lower map bytes as Lua 5.1's C locale: invalid UTF-8 does not
-- grow (gopher-lua's wrote three bytes per invalid byte).
local s = ("\255"):rep(1000000)
assert(#s:upper() == 1000000 and #s:lower() == 1000000)
assert(("aZ\195\169_1"):upper() == "AZ\195\169_1" and ("aZ\195\137"):lower() == "az\195\137")
-- near keys still work
local t = {}
rawset(t, 1000, 1)
table.insert(t, 2000, 2)
assert(t[1000] == 1 and t[2000] == 2)
table.insert(t, "x")
table.insert(t, 1, "y")
assert(t[1] == "y")
-- odd os inputs give values, not panics
assert(os.date("%Y", 1e300) == nil and type(os.time{year = 1e300, month = 1, day = 1}) == "number")
assert(os.date("*t", 0/0) == nil and os.date("!%Y", 2^60) == nil and type(os.difftime(1e300, -1e300)) == "number")
`, 5*time.Second))
}

// TestRandomIsPerState: math.random uses a generator of the state's own,
// seeded by math.randomseed (gopher-lua's process-wide one ignores seeds
// since Go 1.24 and is shared by every script).
func TestRandomIsPerState(t *testing.T) {
	t.Parallel()
	seq := func() string {
		L := New(Options{})
		defer L.Close()
		require.NoError(t, runChunk(context.Background(), L, "t.lua", []byte(`
math.randomseed(42)
local out = {}
for i = 1, 5 do out[i] = math.random(1000) end
seq = table.concat(out, ",")`), time.Second))
		return L.GetGlobal("seq").String()
	}
	assert.Equal(t, seq(), seq(), "the same seed gives the same sequence")
	require.NoError(t, runSnippet(t, `
for i = 1, 1000 do
  local x, y, z = math.random(), math.random(3), math.random(-2, 2)
  assert(x >= 0 and x < 1 and y >= 1 and y <= 3 and y % 1 == 0 and z >= -2 and z <= 2)
end
assert(math.random(5, 5) == 5)
assert(type(math.random(-2^62, 2^62)) == "number")`, time.Second, false))
}

// TestGoPanicsBecomeLuaErrors: arguments and routes that made gopher-lua
// panic with Go text ("strings: negative Repeat count", "invalid argument
// to Intn", "lua callstack overflow", a nil dereference) raise clear Lua
// errors with file:line.
func TestGoPanicsBecomeLuaErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ code, want string }{
		"random empty":       {`math.random(0)`, "interval is empty"},
		"random reversed":    {`math.random(3, 1)`, "interval is empty"},
		"random nan":         {`math.random(0/0)`, "interval is empty"},
		"random many":        {`math.random(1, 2, 3)`, "wrong number of arguments"},
		"recursion":          {`local function f() return 1 + f() end f()`, "stack overflow"},
		"recursion in pcall": {`local function f() local ok, e = pcall(f) if not ok then error(e, 0) end end f()`, "stack overflow"},
		"__index chain":      {`local t = setmetatable({}, {__index = function(t, k) return t[k] end}) local x = t.x`, "stack overflow"},
		"__tostring":         {`local t = setmetatable({}, {__tostring = function(t) return tostring(t) end}) tostring(t)`, "stack overflow"},
		"gsub recursion":     {`local function f(s) return (s:gsub(".", f)) end f("x")`, "stack overflow"},
		"sort recursion":     {`local function f(a, b) table.sort({3, 2, 1}, f) return a < b end f(1, 2)`, "stack overflow"},
		"xpcall recursion":   {`local function f() local ok, e = xpcall(f, function(e) return e end) if not ok then error(e, 0) end end f()`, "stack overflow"},
		"nested wraps":       {`local function f() coroutine.wrap(f)() end f()`, "more than 200 coroutines resumed inside each other"},
		"nested resumes": {`local function f() local ok, e = coroutine.resume(coroutine.create(f)) if not ok then error(e, 0) end end f()`,
			"more than 200 coroutines resumed inside each other"},
		"yield outside": {`coroutine.yield(1)`, "can not yield from outside of a coroutine"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := runBounded(t, c.code, 10*time.Second)
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), c.want, name)
			assert.True(t, strings.HasPrefix(err.Error(), "t.lua:1:"), "%s: file:line: %q", name, err)
			assert.NotContains(t, err.Error(), "callstack", name)
		})
	}
	require.NoError(t, runSnippet(t, `
assert(string.rep("x", 0/0) == "" and string.rep("x", -1/0) == "" and string.rep("", 1/0) == "")
assert(string.rep("ab", 2.9) == "abab" and string.rep("x", 0.5) == "")`, time.Second, false))
}

// TestYieldAcrossGoCallsIsRefused: a yield that would cross a Go call
// raises Lua 5.1's error inside the coroutine, which then ends cleanly:
// gopher-lua lets the Go caller run on in a suspended coroutine and
// dereferences nil on the next resume.
func TestYieldAcrossGoCallsIsRefused(t *testing.T) {
	t.Parallel()
	// pcall and xpcall catch the error: the routes pass it on as a script
	// would see it.
	routes := map[string]string{
		"pcall":           `local ok, e = pcall(coroutine.yield, 1) assert(not ok) error(e, 0)`,
		"xpcall":          `local ok, e = xpcall(function() coroutine.yield(1) end, function(e) return e end) assert(not ok) error(e, 0)`,
		"__index":         `local t = setmetatable({}, {__index = function(t, k) return coroutine.yield(k) end}) local x = t.x`,
		"__add":           `local t = setmetatable({}, {__add = function() return coroutine.yield(1) end}) local x = t + 1`,
		"__lt":            `local mt = {__lt = function() return coroutine.yield(1) end} local x = setmetatable({}, mt) < setmetatable({}, mt)`,
		"tostring":        `tostring(setmetatable({}, {__tostring = function() return coroutine.yield(1) end}))`,
		"sort comparator": `table.sort({3, 2, 1}, function(a, b) coroutine.yield(1) return a < b end)`,
		"gsub function":   `string.gsub("abc", ".", function(c) return coroutine.yield(c) end)`,
		"for iterator":    `for x in function() return coroutine.yield(1) end do end`,
	}
	for name, route := range routes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code := `local co = coroutine.create(function() ` + route + ` end)
local ok, e = coroutine.resume(co)
assert(not ok, "the yield was refused")
assert(e:find("attempt to yield across metamethod/C%-call boundary"), e)
assert(e:find("^t.lua:1:"), e)
assert(coroutine.status(co) == "dead")
local ok2, e2 = coroutine.resume(co)
assert(not ok2 and e2:find("dead"), e2)
`
			require.NoError(t, runBounded(t, code, 5*time.Second), route)
		})
	}
	// The reported case: the wrapped function finishes with pcall's error.
	require.NoError(t, runSnippet(t, `
local f = coroutine.wrap(function() local ok, e = pcall(coroutine.yield) return ok, e end)
local ok, e = f()
assert(ok == false and e:find("attempt to yield across"), e)
assert(not pcall(f), "it ended")`, time.Second, false))
	// Yields that cross no Go call still work, including those that leave
	// the coroutine without a frame (gopher-lua dereferenced nil on the
	// next resume): a yield in tail position at the base, a Go function
	// as the body, a tail call of a __call metamethod.
	require.NoError(t, runSnippet(t, `
local co = coroutine.create(function() return coroutine.yield(1) end)
assert(select(2, coroutine.resume(co)) == 1 and coroutine.status(co) == "suspended")
local ok, a, b = coroutine.resume(co, 5, 6)
assert(ok and a == 5 and b == 6 and coroutine.status(co) == "dead")
assert(not coroutine.resume(co))
local w = coroutine.wrap(coroutine.yield)
assert(w(7) == 7 and w(8) == 8 and not pcall(w, 9))
local function tail(n) if n == 0 then return coroutine.yield("t") end return tail(n - 1) end
w = coroutine.wrap(function() return tail(10) end)
assert(w() == "t" and w("r") == "r")
local callable = setmetatable({}, {__call = function(self, x) return coroutine.yield(x) end})
w = coroutine.wrap(function() return callable(3) end)
assert(w() == 3 and w(4) == 4)
local function deep(n) if n == 0 then return coroutine.yield("deep") end return deep(n - 1) end
local co = coroutine.wrap(function() deep(50) return "done" end)
assert(co() == "deep" and co() == "done")
local called = setmetatable({}, {__call = function(self, x) return coroutine.yield(x) end})
co = coroutine.wrap(function() return called(5) end)
assert(co() == 5 and co(6) == 6)
co = coroutine.wrap(coroutine.yield)
assert(co(7) == 7)
local inner = coroutine.create(function() coroutine.yield(1) return 2 end)
assert(select(2, pcall(coroutine.resume, inner)) == true)
for i, v in coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i, i * i) end end) do assert(v == i * i) end
`, time.Second, false))
}

// TestRoutesBoundedByTheirInput: the library functions kept as they are
// do work and build output in proportion to values the script already
// holds, or fail with a clear error; coroutine misuse is a Lua error.
func TestRoutesBoundedByTheirInput(t *testing.T) {
	t.Parallel()
	require.NoError(t, runBounded(t, `
local big = ("x"):rep(16 * 1024 * 1024)
assert(#big:reverse() == #big and #big:sub(2) == #big - 1 and big:len() == #big)
assert(#tostring(big) == #big and tonumber(big) == nil)
local n = tonumber(("9"):rep(400)) -- nil in gopher-lua, inf in Lua 5.1
assert(n == nil or n > 0)
local t = {} for i = 1, 200000 do t[i] = 65 end
assert(#string.char(unpack(t)) == 200000)
assert(select("#", unpack(t)) == 200000 and select(-1, 1, 2) == 2)
assert(not pcall(select, -1e10, 1) and not pcall(select, "x"))
assert(next({}, nil) == nil)
local co = coroutine.create(function() return coroutine.resume(coroutine.running()) end)
local ok, inner_ok, inner_err = coroutine.resume(co)
assert(ok and not inner_ok and inner_err:find("cannot resume non%-suspended coroutine"), inner_err)
ok, err = coroutine.resume(co)
assert(not ok and err:find("dead"), err)
assert(not pcall(coroutine.resume, 1) and not pcall(coroutine.status, {}) and not pcall(coroutine.wrap, 1))
assert(coroutine.status(co) == "dead")`, 10*time.Second))
}

// TestAssertTakesAnErrorObject: assert(v, err) with an error table (what
// every rc call returns on failure) raises the table itself, while string
// and number messages and the default keep Lua 5.1's form with the
// caller's position, and a true v returns every argument.
func TestAssertTakesAnErrorObject(t *testing.T) {
	t.Parallel()
	err := runSnippet(t, `
local e = setmetatable({message = "boom"}, {__tostring = function(x) return x.message end})
local ok, got = pcall(function() assert(nil, e) end)
if ok or got ~= e then error("the error object itself: " .. tostring(got), 0) end
ok, got = pcall(function() assert(false, "x") end)
if got ~= "t.lua:5: x" then error("string message: " .. tostring(got), 0) end
ok, got = pcall(function() assert(false) end)
if got ~= "t.lua:7: assertion failed!" then error("default: " .. tostring(got), 0) end
ok, got = pcall(function() assert(false, 42) end)
if got ~= "t.lua:9: 42" then error("number message: " .. tostring(got), 0) end
local a, b, c = assert(1, 2, 3)
if a ~= 1 or b ~= 2 or c ~= 3 then error("returns its arguments", 0) end
ok, got = pcall(assert)
if ok or not tostring(got):find("bad argument #1") then error("no argument: " .. tostring(got), 0) end
`, time.Second, false)
	require.NoError(t, err)
}
