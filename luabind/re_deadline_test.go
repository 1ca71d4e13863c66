package luabind

import (
	"context"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// reBig is the expression of the report that ran 14 s past a 1 s
// handler deadline, scaled by n: n repetitions of [a-z]{1000}, then a Z
// that never comes, so on a subject of a's every position starts a
// thread that lives 1000*n characters (the program's size times the
// subject's length).
func reBig(n int) string { return strings.Repeat("[a-z]{1000}", n) + "Z" }

// callDone calls the Go function fn with args in L under a context that
// is done already, and returns the error it raised. A Go function is
// called without the VM's own look at the context (which a Lua function
// makes before its first instruction), so the error is the function's.
func callDone(t *testing.T, L *lua.LState, fn lua.LValue, args ...lua.LValue) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	return L.CallByParam(lua.P{Fn: fn, NRet: lua.MultRet, Protect: true}, args...)
}

// TestREDeadlineEveryRoute: every rc.re route that runs the matcher
// (re:match, re:find, from the start and from an init, re:gmatch's
// iterator, re:gsub, an rc.hear and an rc.respond pattern) looks at the
// state's context while it matches: under a done context, a search that
// would cost the program's 5,000 instructions times 4,000 characters
// raises the context's error, prefixed with the function's name (not the
// VM's own raise, which has no such prefix), instead of returning.
func TestREDeadlineEveryRoute(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `
big = rc.re.compile(string.rep("[a-z]{1000}", 5) .. "Z")
bigB = rc.re.compile("\\b" .. string.rep("[a-z]{1000}", 5) .. "Z")
rc.hear(big, function() got[1] = "heard" end)
rc.respond(bigB, function() got[1] = "responded" end)`)
	subject := lua.LString(strings.Repeat("a", 4000))
	big := e.L.GetGlobal("big")
	bigB := e.L.GetGlobal("bigB")
	method := func(name string) lua.LValue { return e.L.GetField(big, name) }
	require.Equal(t, lua.LTFunction, method("match").Type())

	for _, tc := range []struct {
		name string
		fn   lua.LValue
		args []lua.LValue
		want string
	}{
		{"match", method("match"), []lua.LValue{big, subject}, "re:match: context canceled"},
		{"match init", method("match"), []lua.LValue{big, subject, lua.LNumber(2)}, "re:match: context canceled"},
		{"match init looking behind", method("match"), []lua.LValue{bigB, subject, lua.LNumber(2)}, "re:match: context canceled"},
		{"find", method("find"), []lua.LValue{big, subject}, "re:find: context canceled"},
		{"find init looking behind", method("find"), []lua.LValue{bigB, subject, lua.LNumber(3)}, "re:find: context canceled"},
		{"gsub", method("gsub"), []lua.LValue{big, subject, lua.LString("x")}, "re:gsub: context canceled"},
		{"gsub looking behind", method("gsub"), []lua.LValue{bigB, subject, lua.LString("x")}, "re:gsub: context canceled"},
	} {
		err := callDone(t, e.L, tc.fn, tc.args...)
		if assert.Error(t, err, "%s: stopped by the done context", tc.name) {
			assert.Contains(t, err.Error(), tc.want, tc.name)
		}
	}

	// re:gmatch: the iterator matches, so the iterator is what stops.
	require.NoError(t, e.L.CallByParam(lua.P{Fn: method("gmatch"), NRet: 1, Protect: true}, big, subject))
	iter := e.L.Get(-1)
	e.L.Pop(1)
	err := callDone(t, e.L, iter)
	if assert.Error(t, err, "gmatch's iterator: stopped by the done context") {
		assert.Contains(t, err.Error(), "re:gmatch: context canceled")
	}

	// rc.hear and rc.respond: the trigger's matcher.
	require.Len(t, e.host.got, 2)
	for i, text := range []string{string(subject), "@" + testBot.Username + " " + string(subject)} {
		args, err := EventArgs(e.L, "message", "created", message(t, map[string]any{"msg": text}))
		require.NoError(t, err)
		err = callDone(t, e.L, e.host.got[i].Fn, args...)
		if assert.Error(t, err, "%s: stopped by the done context", e.host.got[i].Label()) {
			assert.Contains(t, err.Error(), `pattern rc.re("`)
			assert.Contains(t, err.Error(), ": context canceled")
		}
	}
	assert.Equal(t, 0, e.L.GetGlobal("got").(*lua.LTable).Len(), "no handler ran")
}

// TestREDeadlineReportedExpression is the report's case itself, in Lua
// under a deadline as a handler runs: 50 times [a-z]{1000} and a Z on
// 60,000 a's, which ran 14 s in one uninterruptible call. The call now
// stops at the deadline: the error is re:match's (the host function
// stopped, not the VM after it returned) and the context's error is the
// deadline's.
func TestREDeadlineReportedExpression(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	// Compiled before the deadline starts, which (uninterruptible, and
	// slower under the race detector) could otherwise take it all.
	require.NoError(t, e.L.DoString(`
local p = {} for i = 1, 50 do p[i] = "[a-z]{1000}" end
re = rc.re.compile(table.concat(p) .. "Z")`))
	fn, err := e.L.LoadString(`return re:match(string.rep("a", 60000))`)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	e.L.SetContext(ctx)
	defer e.L.RemoveContext()
	err = e.L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true})
	require.Error(t, err)
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "re:match: context deadline exceeded", "stopped inside re:match")
}

// reLongExprs are expressions whose matches depend on what surrounds
// them (^, $, \b, \B, (?m)), on what follows the first candidate
// (leftmost-first: a|ab, ab$|ab), or that start with a literal (the
// reader's skip to it).
var reLongExprs = append([]string{
	`foo\d*`, `foo`, `\bfoo\b`, `(?m)^\w+$`, `(?m)^(\w+) (\w+)$`, `\w+$`, `^\w+`, `a.*?b|a`, `ab$|ab`, `(ab$)|(ab)`,
	`(?s)b.*c`, `é\B`, `(?i)FOO\s+(\w+)`, `\d+(?:-\d+)?\b`, `(?m)$\n^`, `[^\n]{5}\n`, `\xff`,
}, reExprs...)

// longSubject is reSubjects, and a few words and lines, n times, with a
// mark every so often: every kind of character and line, at every
// distance from the start and the end.
func longSubject(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(reSubjects[i%len(reSubjects)])
		b.WriteString([]string{" foo12 ", "\n", "foo-bar ab\n", "aab", " é", "x\xff"}[i%6])
		if i%7 == 0 {
			b.WriteString(strconv.Itoa(i))
		}
	}
	return b.String()
}

// TestREReaderSameMatches: a search read through the deadline reader (as
// any search that could cost more than reDirectWork is) finds exactly
// what package regexp finds on the whole string: every match in turn,
// with its groups, as FindAllStringSubmatchIndex, and the first match
// from every position as the direct search.
func TestREReaderSameMatches(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	L.SetContext(ctx) // a context with a Done channel, never done: the reader is used

	subjects := append([]string{longSubject(40), longSubject(300)}, reSubjects...)
	for _, expr := range reLongExprs {
		r, err := compileRegex(expr)
		require.NoError(t, err, expr)
		for _, s := range subjects {
			read := r.matches(L, "test", s)
			read.direct = -1 // every search through the reader
			var got [][]int
			for loc := read.next(); loc != nil; loc = read.next() {
				got = append(got, loc)
			}
			assert.Equal(t, r.rx.FindAllStringSubmatchIndex(s, -1), got, "%q on %d bytes", expr, len(s))

			direct, reader := r.search(L, "test"), r.search(L, "test")
			direct.direct, reader.direct = math.MaxInt, -1
			stride := 1
			if len(s) > 500 {
				stride = 13
			}
			for pos := 0; pos <= len(s); pos += stride {
				want := direct.findAt(s, pos)
				if !assert.Equal(t, want, reader.findAt(s, pos), "%q from %d of %d bytes", expr, pos, len(s)) {
					break
				}
			}
		}
	}
}

// TestRELongSubjectsFromLua: on subjects long enough that every rc.re
// route reads them (400 KB), re:gsub, re:gmatch and re:find give what
// package regexp gives on the whole string, under a handler's kind of
// context.
func TestRELongSubjectsFromLua(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := longSubject(32000)
	require.Greater(t, len(s), 400_000)
	require.NoError(t, e.L.DoString(`
function count(expr, s)
  local n = 0
  for _ in rc.re.compile(expr):gmatch(s) do n = n + 1 end
  return n
end
function replace(expr, s) return (rc.re.compile(expr):gsub(s, "<%0>")) end
function find(expr, s, init) return rc.re.compile(expr):find(s, init) end`))
	call := func(fn string, args ...lua.LValue) []lua.LValue {
		t.Helper()
		top := e.L.GetTop()
		e.L.SetContext(ctx)
		defer e.L.RemoveContext()
		require.NoError(t, e.L.CallByParam(lua.P{Fn: e.L.GetGlobal(fn), NRet: lua.MultRet, Protect: true}, args...))
		out := make([]lua.LValue, e.L.GetTop()-top)
		for i := range out {
			out[i] = e.L.Get(top + 1 + i)
		}
		e.L.SetTop(top)
		return out
	}
	for _, expr := range []string{`\b\w+\b`, `(?m)^\w+`, `\w+$`, `(?m)$`, `foo\d*`, `\Bo`, `(?i)FOO\s+(\w+)`, `é\B`, `\d+(?:-\d+)?\b`} {
		r, err := compileRegex(expr)
		require.NoError(t, err)
		require.Greater(t, r.step*len(s), reDirectWork, "%q reads the subject", expr)
		rx := regexp.MustCompile(expr)
		ls := lua.LString(s)
		assert.Equal(t, lua.LNumber(len(rx.FindAllStringIndex(s, -1))), call("count", lua.LString(expr), ls)[0], "gmatch %q", expr)
		assert.Equal(t, rx.ReplaceAllString(s, "<${0}>"), call("replace", lua.LString(expr), ls)[0].String(), "gsub %q", expr)
		for _, init := range []int{1, 2, 1000, len(s) / 2, len(s) - 3} {
			got := call("find", lua.LString(expr), ls, lua.LNumber(init))
			direct := r.search(e.L, "test")
			direct.direct = math.MaxInt
			if want := direct.findAt(s, init-1); want == nil {
				assert.Equal(t, []lua.LValue{lua.LNil}, got, "find %q from %d", expr, init)
			} else {
				assert.Equal(t, []lua.LValue{lua.LNumber(want[0] + 1), lua.LNumber(want[1])}, got[:2], "find %q from %d", expr, init)
			}
		}
	}
}

// TestRECompileBounds: rc.re.compile refuses a program that would make one
// character of a search cost more than a few milliseconds, naming the
// bound, before compiling it (a program of 3 million instructions, which
// the parser accepts, took a second to compile); the report's expression
// (50,000 instructions) is accepted.
func TestRECompileBounds(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	for src, want := range map[string]string{
		`rc.re.compile(string.rep("[a-z]{1000}", 101))`: "expression too large: it compiles to about 101002 instructions (at most 100000)",
		`rc.re.compile(string.rep("\\pL{1000}", 3000))`: "expression too large: it compiles to about 3000002 instructions (at most 100000)",
		`rc.re.compile(string.rep("(a)", 1200))`:        "expression too large: 1200 groups in about 3602 instructions (instructions times groups at most 4000000)",
	} {
		msg := runChunk(t, e.L, "big.lua", src)
		assert.Contains(t, msg, "big.lua:1: rc.re.compile: bad expression ", src)
		assert.Contains(t, msg, want, src)
	}
	assert.Empty(t, runChunk(t, e.L, "ok.lua", `rc.re.compile(string.rep("[a-z]{1000}", 50) .. "Z")
rc.re.compile(string.rep("(a)", 1000))
rc.re.compile(string.rep("a", 65536))`))
}

// TestREProgSize: progSize counts what syntax.Compile makes, a little
// more at most, so the bounds hold for the real program.
func TestREProgSize(t *testing.T) {
	t.Parallel()
	for _, expr := range append(reLongExprs, `a{3,}`, `(a*){2,4}`, `(?:a*){10}`, `(?:(a*)b?){5,}`, `(?:(?:a{2}){3}){4}`,
		`x{0}`, `(?:|a)*`, reBig(50), strings.Repeat("(a)", 1000), `(?i)\bdeploy\s+([\w-]+)\s+to\s+(\w+)`) {
		tree, err := syntax.Parse(expr, syntax.Perl)
		require.NoError(t, err)
		prog, err := syntax.Compile(tree.Simplify())
		require.NoError(t, err)
		got, real := progInsts(tree), len(prog.Inst)
		assert.GreaterOrEqual(t, got, real, expr)
		assert.LessOrEqual(t, got, real+real/2+2, expr)
	}
}
