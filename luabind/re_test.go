package luabind

import (
	"context"
	"fmt"
	"regexp"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// reExprs and reSubjects are compared with Go's own FindAll and ReplaceAll:
// expressions that look behind their position (^, \b, \B, (?m)^) and ones
// that do not, empty matches, groups that take no part, UTF-8 and bytes
// that are not.
var (
	reExprs = []string{
		`a`, `a*`, `x*`, ``, `\w+`, `\b\w+\b`, `\b`, `\B`, `^`, `^\w*`, `(?m)^\w*`, `(?m)$`, `$`,
		`(a)|(b)`, `(a)?b`, `(?i)é+`, `[^a]`, `.`, `(?s).`, `\bfoo`, `o\b`, `\Bo`, `(\w)(\w)?`,
		`(?P<word>\w+)\s*`, `a|ab|abc`, `\pL+`, `\x{FFFD}`, `(?U)\b\w+`, `(?i)\bK`, `(?P<x>o)(?m:^b)?`, `\Qa.b\E|^\w`,
	}
	reSubjects = []string{
		"", "a", "aaa", "abcabc", "foo bar", "foo\nbar\n\nbaz", "xfoo foo foob", "éÉé ée", "b ab a",
		"a\xffb\xfe", "\xff", "hello, world! 123", "\n", "no match here?", "Kk kelvin \u212a a.b",
	}
)

// luaMatches collects re:gmatch(s) in L as one string per match: the
// values joined by "|", false shown as "<false>".
func luaMatches(t *testing.T, L *lua.LState, r *lua.LUserData, s string) []string {
	t.Helper()
	require.NoError(t, L.CallByParam(lua.P{Fn: L.GetGlobal("collect"), NRet: 1, Protect: true}, r, lua.LString(s)))
	out := []string{}
	L.Get(-1).(*lua.LTable).ForEach(func(_, v lua.LValue) { out = append(out, v.String()) })
	L.Pop(1)
	return out
}

// goMatches is the same from Go's FindAllStringSubmatchIndex.
func goMatches(rx *regexp.Regexp, s string) []string {
	out := []string{}
	for _, loc := range rx.FindAllStringSubmatchIndex(s, -1) {
		var parts []string
		if rx.NumSubexp() == 0 {
			parts = append(parts, s[loc[0]:loc[1]])
		}
		for i := 1; i <= rx.NumSubexp(); i++ {
			if loc[2*i] < 0 {
				parts = append(parts, "<false>")
			} else {
				parts = append(parts, s[loc[2*i]:loc[2*i+1]])
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out
}

func TestREAgainstGo(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	require.NoError(t, e.L.DoString(`
function collect(r, s)
  local out = {}
  local function add(...)
    local parts = {}
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      parts[i] = v == false and "<false>" or v
    end
    out[#out + 1] = table.concat(parts, "|")
  end
  for a, b, c in r:gmatch(s) do
    add(a, b, c)
  end
  return out
end
function replace(r, s, repl) return (r:gsub(s, repl)) end`))
	for _, expr := range reExprs {
		rx := regexp.MustCompile(expr)
		e.L.Push(e.L.GetField(e.L.GetField(e.L.GetGlobal("rc"), "re"), "compile"))
		e.L.Push(lua.LString(expr))
		e.L.Call(1, 1)
		r := e.L.Get(-1).(*lua.LUserData)
		e.L.Pop(1)
		for _, s := range reSubjects {
			if rx.NumSubexp() <= 3 {
				assert.Equal(t, goMatches(rx, s), luaMatches(t, e.L, r, s), "%q:gmatch(%q)", expr, s)
			}
			require.NoError(t, e.L.CallByParam(lua.P{Fn: e.L.GetGlobal("replace"), NRet: 1, Protect: true}, r, lua.LString(s), lua.LString("<%0>")))
			assert.Equal(t, rx.ReplaceAllString(s, "<${0}>"), e.L.Get(-1).String(), "%q:gsub(%q, '<%%0>')", expr, s)
			e.L.Pop(1)
		}
	}
}

func TestREMethods(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	for _, tc := range []struct{ src, want string }{
		{`return rc.re.compile("(\\w+)@(\\w+)"):match("mail bob@example now")`, "bob example"},
		{`return rc.re.compile("\\d+"):match("ab 123 45")`, "123"},
		{`return rc.re.compile("(a)|(b)"):match("b")`, "false b"},
		{`return rc.re.compile("x"):match("abc")`, "nil"},
		{`return rc.re.compile("\\d+"):match("12 34", 3)`, "34"},
		{`return rc.re.compile("\\d+"):match("12 34", -2)`, "34"},
		{`return rc.re.compile("\\d+"):find("ab 123")`, "4 6"},
		{`return rc.re.compile("(\\d)(\\d)"):find("ab 123")`, "4 5 1 2"},
		{`return rc.re.compile("\\bfoo"):find("xfoo foo", 2)`, "6 8"},
		{`return rc.re.compile("^a"):find("aa", 2)`, "nil"},
		{`return rc.re.compile("(?m)^a"):find("b\na", 2)`, "3 3"},
		{`return rc.re.compile("\\Bo"):find("o oo", 2)`, "4 4"},
		{`return rc.re.compile(""):find("abc", 10)`, "4 3"},
		{`return rc.re.compile("(\\w+)"):gsub("hello world", "<%1>")`, "<hello> <world> 2"},
		{`return rc.re.compile("\\w+"):gsub("hello world", "%1!", 1)`, "hello! world 1"},
		{`return rc.re.compile("o"):gsub("foo", "0", 0)`, "foo 0"},
		{`return rc.re.compile("%"):gsub("100%", "%% and %x%")`, "100% and x% 1"},
		{`return rc.re.compile("(\\w+)"):gsub("a b", {a = "A"})`, "A b 2"},
		{`return rc.re.compile("(\\w)(\\w)"):gsub("ab cd", function(x, y) return y .. x end)`, "ba dc 2"},
		{`return rc.re.compile("\\w+"):gsub("keep me", function() return false end)`, "keep me 2"},
		{`return rc.re.compile("\\d"):gsub(1234, 9)`, "9999 4"},
		{`return rc.re.compile("a+"):source()`, "a+"},
		{`return tostring(rc.re.compile("a+"))`, `rc.re("a+")`},
		{`local n = 0; for w in rc.re.compile("\\w+"):gmatch("one two") do n = n + #w end; return n`, "6"},
	} {
		out := e.run(t, tc.src)
		parts := make([]string, len(out))
		for i, v := range out {
			parts[i] = v.String()
		}
		assert.Equal(t, tc.want, strings.Join(parts, " "), tc.src)
	}
	for src, want := range map[string]string{
		`rc.re.compile("(a)"):gsub("a", "%2")`: "re:gsub: invalid capture index %2 in the replacement (the expression has 1 groups)",
		// Lua's numbering for methods: self is "bad self", the first argument after it #1.
		`rc.re.compile("a"):gsub({}, "b")`:                       "bad argument #1 to re:gsub (string expected, got table)",
		`rc.re.compile("a"):gsub("a", true)`:                     "bad argument #2 to re:gsub (string, table or function expected, got boolean)",
		`rc.re.compile("a"):gsub("a", function() return {} end)`: "re:gsub: invalid replacement value (a table)",
		`rc.re.compile("a"):gsub("a", "b", "x")`:                 "bad argument #3 to re:gsub (number expected, got string)",
		`rc.re.compile("a").gsub("a", "b")`:                      "calling re:gsub on bad self (an rc.re object expected (call it as re:gsub(...)), got string)",
		`rc.re.compile("a"):match({})`:                           "bad argument #1 to re:match (string expected, got table)",
		`rc.re.compile("a"):match("a", true)`:                    "bad argument #2 to re:match (number expected, got boolean)",
		`local r = rc.re.compile("a"); r.match("a")`:             "calling re:match on bad self (an rc.re object expected (call it as re:match(...)), got string)",
		`rc.re.compile("a"):find()`:                              "bad argument #1 to re:find (string expected, got nil)",
		`rc.re.compile("a"):find("a", "x")`:                      "bad argument #2 to re:find (number expected, got string)",
		`rc.re.compile("a").find({})`:                            "calling re:find on bad self (an rc.re object expected (call it as re:find(...)), got table)",
		`rc.re.compile("a"):gmatch(false)`:                       "bad argument #1 to re:gmatch (string expected, got boolean)",
		`rc.re.compile("a").gmatch("a")`:                         "calling re:gmatch on bad self (an rc.re object expected (call it as re:gmatch(...)), got string)",
		`rc.re.compile("a").source()`:                            "calling re:source on bad self (an rc.re object expected (call it as re:source(...)), got nil)",
		`local r = rc.re.compile("a"); r.match(r, {})`:           "bad argument #1 to re:match (string expected, got table)",
	} {
		msg := runChunk(t, e.L, "bad.lua", src)
		assert.Contains(t, msg, "bad.lua:1: "+want, src)
	}
}

func TestREGsubBounds(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	msg := runChunk(t, e.L, "big.lua", `local s = string.rep("a", 1048576)
return rc.re.compile("a"):gsub(s, string.rep("b", 17))`)
	assert.Equal(t, fmt.Sprintf("big.lua:2: re:gsub: result exceeds the limit of %d bytes", maxStringBytes), msg)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.L.SetContext(ctx)
	e.L.SetGlobal("s", lua.LString(strings.Repeat("a", 1<<16)))
	fn, err := e.L.LoadString(`return rc.re.compile("a"):gsub(s, "b")`)
	require.NoError(t, err)
	e.L.RemoveContext()
	e.L.Push(fn)
	e.L.SetContext(ctx)
	err = e.L.PCall(0, 2, nil)
	require.Error(t, err, "a done context stops the replacement loop")
	assert.Contains(t, err.Error(), "context canceled")
}

// TestREGsubOneBigReplacement: one match whose replacement repeats its
// capture many times is refused while it is built, not after: the cap
// holds for a single piece as for many small ones (this call built
// 1.65 GB before the check moved into the loop).
func TestREGsubOneBigReplacement(t *testing.T) { // not parallel: it reads the process's allocations
	e := newLuaEnv(t)
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	msg := runChunk(t, e.L, "one.lua", `local s = string.rep("x", 1048576)
return rc.re.compile(".+"):gsub(s, ("%0"):rep(300))`)
	goruntime.ReadMemStats(&after)
	assert.Equal(t, fmt.Sprintf("one.lua:2: re:gsub: result exceeds the limit of %d bytes", maxStringBytes), msg)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(400<<20), "refused while building, not after 300 MiB")
}
