package sandbox

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// shape is a family of sources, from small to hostile as n grows, and
// the limit that stops it (a substring of the refusal).
type shape struct {
	name  string
	limit string
	gen   func(n int) string
}

// nest is open n times, body, then close n times.
func nest(open, body, close string, n int) string {
	return strings.Repeat(open, n) + body + strings.Repeat(close, n)
}

// lines is n lines made by line(i).
func lines(n int, line func(i int) string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(line(i))
		b.WriteByte('\n')
	}
	return b.String()
}

const (
	limitSize  = "exceeds the limit of"
	limitNest  = "too deeply nested"
	limitExpr  = "expression too long"
	limitIf    = "if statement too long"
	limitWork  = "too much to compile in one chunk"
	arithChain = "x = y" // + "+y" repeated
)

// hostileShapes are the shapes of source that crash (deep nesting) or
// stall (quadratic compile work) gopher-lua, each bounded by one limit.
var hostileShapes = []shape{
	// Size: the cheapest shapes per byte to write, the dearest to parse.
	{"size: statements", limitSize, func(n int) string { return lines(n, func(int) string { return "x = y + 1" }) }},
	{"size: string literal", limitSize, func(n int) string { return "local s = \"" + strings.Repeat("a", n) + "\"" }},
	{"size: table of numbers", limitSize, func(n int) string { return "local t = {" + strings.Repeat("1,", n) + "}" }},
	{"size: table of tables", limitSize, func(n int) string { return "local t = {" + strings.Repeat("{},", n) + "}" }},
	{"size: nested blocks", limitSize, func(n int) string {
		return strings.Repeat(nest("do ", "", " end", MaxNesting)+"\n", n)
	}},
	// Nesting: each overflows the Go stack of gopher-lua's compiler.
	{"nesting: not", limitNest, func(n int) string { return "local x = " + strings.Repeat("not ", n) + "1" }},
	{"nesting: minus", limitNest, func(n int) string { return "local x = " + strings.Repeat("- ", n) + "1" }},
	{"nesting: length", limitNest, func(n int) string { return "local x = " + strings.Repeat("#", n) + "'a'" }},
	{"nesting: parentheses", limitNest, func(n int) string { return "local x = " + nest("(", "1", ")", n) }},
	{"nesting: tables", limitNest, func(n int) string { return "local x = " + nest("{", "", "}", n) }},
	{"nesting: calls", limitNest, func(n int) string { return "local x = " + nest("f(", "1", ")", n) }},
	{"nesting: indexes", limitNest, func(n int) string { return "local x = " + nest("t[", "1", "]", n) }},
	{"nesting: functions", limitNest, func(n int) string { return nest("local f = function() ", "", " end", n) }},
	{"nesting: do", limitNest, func(n int) string { return nest("do ", "", " end", n) }},
	{"nesting: if", limitNest, func(n int) string { return nest("if x then ", "", " end", n) }},
	{"nesting: while", limitNest, func(n int) string { return nest("while x do ", "", " end", n) }},
	{"nesting: repeat", limitNest, func(n int) string { return nest("repeat ", "", " until x", n) }},
	// Expression length: each is a tree as deep as it is long, and
	// arithmetic folds again at every level.
	{"expression: plus", limitExpr, func(n int) string { return arithChain + strings.Repeat("+y", n) }},
	{"expression: power", limitExpr, func(n int) string { return arithChain + strings.Repeat("^y", n) }},
	{"expression: and", limitExpr, func(n int) string { return "x = y" + strings.Repeat(" and y", n) }},
	{"expression: comparisons", limitExpr, func(n int) string { return "x = y" + strings.Repeat("==y", n) }},
	{"expression: fields", limitExpr, func(n int) string { return "x = y" + strings.Repeat(".a", n) }},
	{"expression: method calls", limitExpr, func(n int) string { return "y" + strings.Repeat(":m()", n) }},
	{"nesting: parenthesised sums", limitNest, func(n int) string { return "x = " + nest("(y+", "y", ")", n) }},
	{"expression: elseif", limitIf, func(n int) string { return "if x then" + strings.Repeat(" elseif x then", n) + " end" }},
	// Compile work: quadratic in gopher-lua's compiler.
	{"work: distinct globals", limitWork, func(n int) string { return lines(n, func(i int) string { return fmt.Sprintf("g%d = 1", i) }) }},
	{"work: distinct strings", limitWork, func(n int) string {
		return "local t = {" + lines(n, func(i int) string { return fmt.Sprintf("\"s%d\",", i) }) + "}"
	}},
	{"work: late constant", limitWork, func(n int) string {
		return lines(1000, func(i int) string { return fmt.Sprintf("g%d = 1", i) }) + strings.Repeat("g999 = g999\n", n)
	}},
	{"work: arithmetic", limitWork, func(n int) string {
		return lines(n, func(int) string { return arithChain + strings.Repeat("+y", 500) })
	}},
	{"work: elseif chains", limitWork, func(n int) string {
		return lines(n, func(int) string { return "if x then" + strings.Repeat(" elseif x then", 500) + " end" })
	}},
	{"work: gotos", limitWork, func(n int) string {
		return "do\n" + lines(n, func(i int) string { return fmt.Sprintf("goto l%d", i) }) +
			lines(n, func(i int) string { return fmt.Sprintf("::l%d::", i) }) + "end"
	}},
}

// largestAccepted returns the largest n whose source the limits accept
// (by binary search: checkSource is linear), and the source for n.
func largestAccepted(t testing.TB, sh shape) (int, string) {
	t.Helper()
	accepted := func(n int) bool { return checkSource("t.lua", []byte(sh.gen(n))) == nil }
	require.True(t, accepted(1), "%s: n=1 passes", sh.name)
	hi := 2
	for accepted(hi) {
		hi *= 2
		require.Less(t, hi, 1<<30, "%s: no limit stops it", sh.name)
	}
	lo := hi / 2 // accepted(lo), !accepted(hi)
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; accepted(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, sh.gen(lo)
}
