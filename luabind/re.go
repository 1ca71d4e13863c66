package luabind

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// rc.re: regular expressions of Go's regexp package (RE2 syntax), which
// match in time linear in the subject, whatever the expression: unlike a
// Lua pattern, no expression can make a handler hang. Positions are byte
// offsets, 1-based as in Lua's string functions.

// maxExprBytes bounds an expression rc.re.compile accepts.
const maxExprBytes = 64 << 10

// regex is a compiled rc.re expression.
type regex struct {
	src string
	rx  *regexp.Regexp
	// cont finds the matches of rx from a position inside a subject, when
	// rx looks behind its position (^, \A, \b, \B): `\A(?s:.)(?s:.*?)(rx)`
	// run from one character before the position, so that character is
	// the context those assertions see. Nil when rx looks at nothing
	// before its match: it then runs on the rest of the subject.
	cont *regexp.Regexp
	ncap int // rx's groups
}

// compileRegex compiles expr; the error is RE2's reason.
func compileRegex(expr string) (*regex, error) {
	if len(expr) > maxExprBytes {
		return nil, fmt.Errorf("expression longer than %d bytes", maxExprBytes)
	}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, reason(err)
	}
	rx, err := regexp.Compile(expr)
	if err != nil {
		return nil, reason(err)
	}
	r := &regex{src: expr, rx: rx, ncap: rx.NumSubexp()}
	if looksBehind(tree) {
		anyChar := func() *syntax.Regexp { return &syntax.Regexp{Op: syntax.OpAnyChar} }
		wrapped := &syntax.Regexp{Op: syntax.OpConcat, Sub: []*syntax.Regexp{
			{Op: syntax.OpBeginText},
			anyChar(),
			{Op: syntax.OpStar, Flags: syntax.NonGreedy, Sub: []*syntax.Regexp{anyChar()}},
			{Op: syntax.OpCapture, Cap: 1, Sub: []*syntax.Regexp{tree}},
		}}
		r.cont, err = regexp.Compile(wrapped.String())
		if err != nil || r.cont.NumSubexp() != r.ncap+1 {
			return nil, fmt.Errorf("cannot search this expression from a position (%v)", err)
		}
	}
	return r, nil
}

// reason is the text of a compile error: RE2's code and the part of the
// expression at fault.
func reason(err error) error {
	var se *syntax.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s: `%s`", se.Code, clip(se.Expr))
	}
	return err
}

// looksBehind reports whether t has an assertion about what precedes a
// position: the start of the text or of a line, a word boundary.
func looksBehind(t *syntax.Regexp) bool {
	switch t.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range t.Sub {
		if looksBehind(sub) {
			return true
		}
	}
	return false
}

// findAt returns the leftmost match of r in s that starts at pos or later,
// as regexp's FindStringSubmatchIndex (pairs of byte offsets into s, -1
// for a group that took no part), or nil.
func (r *regex) findAt(s string, pos int) []int {
	if pos == 0 {
		return r.rx.FindStringSubmatchIndex(s)
	}
	base, rx, skip := pos, r.rx, 0
	if r.cont != nil {
		_, w := utf8.DecodeLastRuneInString(s[:pos])
		base, rx, skip = pos-w, r.cont, 2
	}
	loc := rx.FindStringSubmatchIndex(s[base:])
	if loc == nil {
		return nil
	}
	loc = loc[skip:]
	for i, v := range loc {
		if v >= 0 {
			loc[i] = v + base
		}
	}
	return loc
}

// matches iterates over the successive matches of r in s as regexp's
// FindAll functions find them: no overlap, and no empty match right after
// a previous match.
type matches struct {
	r       *regex
	s       string
	pos     int // where the next search starts; past len(s) once done
	prevEnd int // where the previous match ended; -1 before the first
}

func (r *regex) matches(s string) *matches { return &matches{r: r, s: s, prevEnd: -1} }

// next returns the next match (as findAt), or nil once there is none.
func (m *matches) next() []int {
	for m.pos <= len(m.s) {
		loc := m.r.findAt(m.s, m.pos)
		if loc == nil {
			m.pos = len(m.s) + 1
			return nil
		}
		accept := true
		if loc[1] == m.pos { // an empty match at pos
			accept = loc[0] != m.prevEnd
			if _, w := utf8.DecodeRuneInString(m.s[m.pos:]); w > 0 {
				m.pos += w
			} else {
				m.pos = len(m.s) + 1
			}
		} else {
			m.pos = loc[1]
		}
		m.prevEnd = loc[1]
		if accept {
			return loc
		}
	}
	return nil
}

// group is group i (0: the whole match) of the match loc in s: its text,
// or false when it took no part in the match.
func group(s string, loc []int, i int) lua.LValue {
	if loc[2*i] < 0 {
		return lua.LFalse
	}
	return lua.LString(s[loc[2*i]:loc[2*i+1]])
}

// captures are the values a match gives a script: its groups, or the whole
// match when the expression has none.
func (r *regex) captures(s string, loc []int) []lua.LValue {
	if r.ncap == 0 {
		return []lua.LValue{group(s, loc, 0)}
	}
	out := make([]lua.LValue, r.ncap)
	for i := range out {
		out[i] = group(s, loc, i+1)
	}
	return out
}

// label is how trigger labels show r: rc.re("...").
func (r *regex) label() string { return fmt.Sprintf("rc.re(%q)", clip(r.src)) }

// match gives hear and respond the captures of the first match in text.
func (r *regex) match(_ *lua.LState, text string) ([]lua.LValue, bool) {
	loc := r.rx.FindStringSubmatchIndex(text)
	if loc == nil {
		return nil, false
	}
	return r.captures(text, loc), true
}

// reTable is rc.re, with the metatable of its objects.
func (b *binding) reTable(L *lua.LState) *lua.LTable {
	methods := namespace(L, "re",
		field{"match", reMatch},
		field{"find", reFind},
		field{"gmatch", reGmatch},
		field{"gsub", reGsub},
		field{"source", reSource},
	)
	b.reMeta = L.CreateTable(0, 3)
	b.reMeta.RawSetString("__index", methods)
	b.reMeta.RawSetString("__name", lua.LString("rc.re"))
	b.reMeta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		if r := regexOf(L.Get(1)); r != nil {
			L.Push(lua.LString(r.label()))
		} else {
			L.Push(lua.LString("rc.re"))
		}
		return 1
	}))
	return namespace(L, "rc.re", field{"compile", b.reCompile})
}

// regexOf returns v's expression, or nil when v is no rc.re object.
func regexOf(v lua.LValue) *regex {
	if ud, ok := v.(*lua.LUserData); ok {
		r, _ := ud.Value.(*regex)
		return r
	}
	return nil
}

// reCompile is
//
//	rc.re.compile(expr) -> re
//
// It raises, with the caller's file:line, for an expression RE2 refuses,
// giving RE2's reason.
func (b *binding) reCompile(L *lua.LState) int {
	const fn = "rc.re.compile"
	expr := checkArgString(L, 1, fn)
	r, err := compileRegex(expr)
	if err != nil {
		L.RaiseError("%s: bad expression %q: %v", fn, clip(expr), err)
	}
	ud := L.NewUserData()
	ud.Value = r
	ud.Metatable = b.reMeta
	L.Push(ud)
	return 1
}

// checkRegex returns argument 1 of method fn ("re:match"), an rc.re object.
func checkRegex(L *lua.LState, fn string) *regex {
	r := regexOf(L.Get(1))
	if r == nil {
		argError(L, 1, fn, fmt.Sprintf("an rc.re object expected (call it as %s(...)), got %s", fn, typeName(L.Get(1))))
	}
	return r
}

// subjectAndStart returns the subject (argument 2) and the byte offset
// where a search starts: argument 3, Lua's init (1-based, negative from
// the end, clamped to the subject).
func subjectAndStart(L *lua.LState, fn string) (string, int) {
	s := checkSubject(L, fn)
	init := 1
	if v := L.Get(3); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok {
			argError(L, 3, fn, "number expected, got "+typeName(v))
		}
		init = int(n)
	}
	if init < 0 {
		init = len(s) + init + 1
	}
	return s, min(max(init-1, 0), len(s))
}

// checkSubject returns argument 2, the string to search.
func checkSubject(L *lua.LState, fn string) string {
	switch v := L.Get(2).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	}
	argError(L, 2, fn, "string expected, got "+typeName(L.Get(2)))
	return ""
}

// pushAll pushes vs and returns how many.
func pushAll(L *lua.LState, vs []lua.LValue) int {
	for _, v := range vs {
		L.Push(v)
	}
	return len(vs)
}

// reMatch is
//
//	re:match(s [, init]) -> captures... | nil
//
// The groups of the first match (false for a group that took no part), or
// the whole match when the expression has no group.
func reMatch(L *lua.LState) int {
	r := checkRegex(L, "re:match")
	s, pos := subjectAndStart(L, "re:match")
	loc := r.findAt(s, pos)
	if loc == nil {
		L.Push(lua.LNil)
		return 1
	}
	return pushAll(L, r.captures(s, loc))
}

// reFind is
//
//	re:find(s [, init]) -> start, end, groups... | nil
//
// start and end are the 1-based, inclusive byte positions of the first
// match, followed by its groups as in re:match (none without groups).
func reFind(L *lua.LState) int {
	r := checkRegex(L, "re:find")
	s, pos := subjectAndStart(L, "re:find")
	loc := r.findAt(s, pos)
	if loc == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(loc[0] + 1))
	L.Push(lua.LNumber(loc[1]))
	n := 2
	for i := 1; i <= r.ncap; i++ {
		L.Push(group(s, loc, i))
		n++
	}
	return n
}

// reGmatch is
//
//	re:gmatch(s) -> iterator
//
// Each call of the iterator returns the next match's values as in
// re:match, then nothing. Matches do not overlap, and an empty match right
// after a match is skipped (Go's FindAll rules).
func reGmatch(L *lua.LState) int {
	r := checkRegex(L, "re:gmatch")
	s := checkSubject(L, "re:gmatch")
	it := r.matches(s)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if loc := it.next(); loc != nil {
			return pushAll(L, r.captures(s, loc))
		}
		return 0
	}))
	return 1
}

// reGsub is
//
//	re:gsub(s, repl [, n]) -> string, count
//
// Replaces the first n matches (all by default) as string.gsub does: repl
// is a string, where %0 is the match and %1-%9 its groups (the match, for
// %1, when there is no group) and %% a %; or a table, indexed by the first
// group (or the match); or a function, called with the values re:match
// gives. A table or function giving false or nil keeps the match. count is
// the number of matches. The result is at most 16 MiB.
func reGsub(L *lua.LState) int {
	const fn = "re:gsub"
	r := checkRegex(L, fn)
	s := checkSubject(L, fn)
	repl := L.Get(3)
	switch v := repl.(type) {
	case lua.LNumber:
		repl = lua.LString(v.String())
	case lua.LString, *lua.LTable, *lua.LFunction:
	default:
		argError(L, 3, fn, "string, table or function expected, got "+typeName(repl))
	}
	n := -1
	if v := L.Get(4); v != lua.LNil {
		f, ok := v.(lua.LNumber)
		if !ok {
			argError(L, 4, fn, "number expected, got "+typeName(v))
		}
		n = max(int(f), 0)
	}
	size := newBudget(L, fn, "result")
	var out strings.Builder
	last, count := 0, 0
	for it := r.matches(s); count != n; {
		loc := it.next()
		if loc == nil {
			break
		}
		count++
		piece, keep := r.replacement(L, s, loc, repl, size)
		if keep {
			piece = s[loc[0]:loc[1]]
		}
		size.add(loc[0] - last + len(piece))
		out.WriteString(s[last:loc[0]])
		out.WriteString(piece)
		last = loc[1]
	}
	size.add(len(s) - last)
	out.WriteString(s[last:])
	L.Push(lua.LString(out.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// replacement is what re:gsub puts for the match loc of s; keep reports
// that the match stays.
func (r *regex) replacement(L *lua.LState, s string, loc []int, repl lua.LValue, size *budget) (piece string, keep bool) {
	var v lua.LValue
	switch rp := repl.(type) {
	case lua.LString:
		if !strings.Contains(string(rp), "%") {
			return string(rp), false
		}
		var b strings.Builder
		for k := 0; k < len(rp); k++ {
			c := rp[k]
			if c != '%' || k+1 == len(rp) {
				b.WriteByte(c)
				continue
			}
			k++
			d := rp[k]
			if d < '0' || d > '9' {
				b.WriteByte(d)
				continue
			}
			i := int(d - '0')
			if i == 1 && r.ncap == 0 {
				i = 0
			}
			if i > r.ncap {
				L.RaiseError("re:gsub: invalid capture index %%%d in the replacement (the expression has %d groups)", i, r.ncap)
			}
			if loc[2*i] >= 0 {
				size.check(b.Len() + loc[2*i+1] - loc[2*i])
				b.WriteString(s[loc[2*i]:loc[2*i+1]])
			}
		}
		return b.String(), false
	case *lua.LTable:
		v = L.GetTable(rp, r.captures(s, loc)[0])
	case *lua.LFunction:
		L.Push(rp)
		L.Call(pushAll(L, r.captures(s, loc)), 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case lua.LString:
		return string(v), false
	case lua.LNumber:
		return v.String(), false
	case *lua.LNilType, lua.LBool:
		if lua.LVIsFalse(v) {
			return "", true
		}
	}
	L.RaiseError("re:gsub: invalid replacement value (a %s)", v.Type())
	return "", true
}

// reSource is
//
//	re:source() -> expr
func reSource(L *lua.LState) int {
	L.Push(lua.LString(checkRegex(L, "re:source").src))
	return 1
}
