package luabind

import (
	"errors"
	"fmt"
	"io"
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
//
// Linear, but a search costs up to the size of the compiled program times
// the characters it reads (every position of the subject can start a
// thread through the whole program), and one call of package regexp
// cannot be interrupted: [a-z]{1000} fifty times on 60,000 characters is
// 14 s. So a search that could cost more than reDirectWork reads its
// subject through a reader that looks at the state's context every
// reCheckWork of work (the same engine, so the same results), and the
// program, which bounds what one character costs, is capped at compile
// time.

// maxExprBytes bounds an expression rc.re.compile accepts.
const maxExprBytes = 64 << 10

// maxProgInsts bounds the instructions an expression compiles to (as
// progSize counts them), and maxProgInstGroups its instructions times its
// groups: each thread of the matcher carries its groups' positions, which
// it copies as it passes a group. Together they bound the work of one
// step of the matcher (one character) to a few milliseconds (4 ms for
// \pL{1000} 99 times), the most a search read through the reader can run
// past the deadline.
const (
	maxProgInsts      = 100_000
	maxProgInstGroups = 4_000_000
)

// Work is counted in matcher steps: one instruction for one character,
// plus one per 16 groups it carries (stepWork).
const (
	// reDirectWork is the most work a search may cost (at worst) to run
	// in one call of package regexp on the string, with all its
	// shortcuts: 1-12 ms (an instruction step costs 5 ns, up to 45 for
	// a class as large as \pL). A chat message with an ordinary
	// expression is far below it (5,000 bytes times 50).
	reDirectWork = 1 << 18
	// reCheckWork is the work between two looks at the deadline.
	reCheckWork = 1 << 16
)

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
	// step and contStep are the work of one step of rx and of cont.
	step, contStep int
	// prefix is a literal every match of rx starts with, when rx looks
	// at nothing before its match ("" otherwise): a search read through
	// the reader starts at its first occurrence, as package regexp's own
	// search skips to it.
	prefix string
}

// stepWork is the work of one step of a program of ninst instructions
// with ngroups groups.
func stepWork(ninst, ngroups int) int { return ninst + ninst*ngroups/16 }

// compileRegex compiles expr; the error is RE2's reason, or which bound
// the program passes.
func compileRegex(expr string) (*regex, error) {
	if len(expr) > maxExprBytes {
		return nil, fmt.Errorf("expression longer than %d bytes", maxExprBytes)
	}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, reason(err)
	}
	// Before compiling: a program the parser accepts can have 3 million
	// instructions, which take a second to compile.
	ninst, ngroups := progInsts(tree), tree.MaxCap()
	if ninst > maxProgInsts {
		return nil, fmt.Errorf("expression too large: it compiles to about %d instructions (at most %d)", ninst, maxProgInsts)
	}
	if ninst*ngroups > maxProgInstGroups {
		return nil, fmt.Errorf("expression too large: %d groups in about %d instructions (instructions times groups at most %d)", ngroups, ninst, maxProgInstGroups)
	}
	rx, err := regexp.Compile(expr)
	if err != nil {
		return nil, reason(err)
	}
	r := &regex{src: expr, rx: rx, ncap: rx.NumSubexp(), step: stepWork(ninst, ngroups)}
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
		r.contStep = stepWork(progInsts(wrapped), ngroups+1)
	} else {
		r.prefix, _ = rx.LiteralPrefix()
	}
	return r, nil
}

// progSize is about how many instructions syntax.Compile makes of t once
// simplified (a little more, never less, for the expressions of the
// tests), counted without compiling: one for a character, class or
// assertion, two more for a group, one more for an alternative or a
// repetition, and a repetition x{n,m} compiles to m copies of x (n and a
// loop when unbounded). The parser bounds the total to about 3 million.
func progSize(t *syntax.Regexp) int {
	n := 0
	switch t.Op {
	case syntax.OpLiteral:
		n = max(len(t.Rune), 1)
	case syntax.OpCapture, syntax.OpStar:
		n = 2 + progSize(t.Sub[0])
	case syntax.OpPlus, syntax.OpQuest:
		n = 1 + progSize(t.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		for _, sub := range t.Sub {
			n += progSize(sub)
		}
		if t.Op == syntax.OpAlternate {
			n += len(t.Sub) - 1
		}
		n = max(n, 1)
	case syntax.OpRepeat:
		body := progSize(t.Sub[0])
		if t.Max == -1 {
			n = max(t.Min, 1)*body + 2
		} else {
			n = max(t.Max*body+t.Max-t.Min, 1)
		}
	default:
		n = 1
	}
	return n
}

// progInsts is progSize of a whole program: t's, and the fail and match
// instructions.
func progInsts(t *syntax.Regexp) int { return progSize(t) + 2 }

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

// search is the searches of one rc.re call (a method, an iterator's
// step, a trigger's match) in L: it counts their work, and looks at L's
// context as they go.
type search struct {
	L  *lua.LState
	r  *regex
	fn string // the function, for errors: "re:match"; "" for a trigger's pattern
	// direct is the most work one search runs in one call of package
	// regexp (reDirectWork; the tests lower it to read every subject).
	direct int
	work   int // work since the context was last looked at
}

func (r *regex) search(L *lua.LState, fn string) search {
	return search{L: L, r: r, fn: fn, direct: reDirectWork}
}

// findAt returns the leftmost match of r in s that starts at pos or later,
// as regexp's FindStringSubmatchIndex (pairs of byte offsets into s, -1
// for a group that took no part), or nil. It raises, with the context's
// error, once the context is done.
func (se *search) findAt(s string, pos int) []int {
	r := se.r
	if pos == 0 {
		return se.find(r.rx, r.step, s)
	}
	base, rx, step, skip := pos, r.rx, r.step, 0
	if r.cont != nil {
		_, w := utf8.DecodeLastRuneInString(s[:pos])
		base, rx, step, skip = pos-w, r.cont, r.contStep, 2
	}
	loc := se.find(rx, step, s[base:])
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

// find is rx.FindStringSubmatchIndex(s), where a step of rx is step work.
// When the search could cost more than se.direct, it reads s through a
// deadlineReader instead: package regexp runs the same matcher on a
// reader (without its shortcuts), so the match is the same, as the tests
// check.
func (se *search) find(rx *regexp.Regexp, step int, s string) []int {
	work := step * (len(s) + 1)
	if work <= se.direct {
		se.work += work
		if se.work > reCheckWork {
			se.work = 0
			se.check()
		}
		return rx.FindStringSubmatchIndex(s)
	}
	se.work = 0
	start := 0
	if rx == se.r.rx && se.r.prefix != "" {
		// Every match starts with the prefix, and rx looks at nothing
		// before its match: the search may start at the prefix.
		if start = strings.Index(s, se.r.prefix); start < 0 {
			return nil
		}
	}
	loc := se.read(rx, step, s[start:])
	for i, v := range loc {
		if v >= 0 {
			loc[i] = v + start
		}
	}
	return loc
}

// read is rx.FindReaderSubmatchIndex of s through a deadlineReader.
func (se *search) read(rx *regexp.Regexp, step int, s string) (loc []int) {
	ctx := se.L.Context()
	if ctx == nil || ctx.Done() == nil { // no deadline to look at
		return rx.FindStringSubmatchIndex(s)
	}
	rd := &deadlineReader{s: s, every: max(reCheckWork/step, 1), err: ctx.Err}
	rd.left = rd.every
	defer func() {
		if v := recover(); v != nil {
			if st, ok := v.(readerStop); ok && st.rd == rd {
				se.raise(st.err)
			}
			panic(v)
		}
	}()
	return rx.FindReaderSubmatchIndex(rd)
}

// check raises once the context is done.
func (se *search) check() {
	if ctx := se.L.Context(); ctx != nil && ctx.Err() != nil {
		se.raise(ctx.Err())
	}
}

// raise raises err as "<fn>: <err>", or for a trigger's pattern as a Lua
// pattern's matcher does: "pattern rc.re(...): <err>".
func (se *search) raise(err error) {
	if se.fn == "" {
		se.L.RaiseError("pattern %s: %v", se.r.label(), err)
	}
	se.L.RaiseError("%s: %v", se.fn, err)
}

// deadlineReader reads s a character at a time, as package regexp reads
// a string (an invalid byte is utf8.RuneError of width 1), and looks at
// err every `every` characters: once it is not nil, it panics with a
// readerStop, which its search recovers.
type deadlineReader struct {
	s     string
	i     int
	left  int // characters until the next look
	every int
	err   func() error
}

// readerStop is what a deadlineReader panics with.
type readerStop struct {
	rd  *deadlineReader
	err error
}

func (rd *deadlineReader) ReadRune() (rune, int, error) {
	if rd.i >= len(rd.s) {
		return 0, 0, io.EOF
	}
	if rd.left--; rd.left <= 0 {
		rd.left = rd.every
		if err := rd.err(); err != nil {
			panic(readerStop{rd, err})
		}
	}
	if c := rd.s[rd.i]; c < utf8.RuneSelf {
		rd.i++
		return rune(c), 1, nil
	}
	c, w := utf8.DecodeRuneInString(rd.s[rd.i:])
	rd.i += w
	return c, w, nil
}

// matches iterates over the successive matches of r in s as regexp's
// FindAll functions find them: no overlap, and no empty match right after
// a previous match.
type matches struct {
	search
	s       string
	pos     int // where the next search starts; past len(s) once done
	prevEnd int // where the previous match ended; -1 before the first
}

func (r *regex) matches(L *lua.LState, fn, s string) *matches {
	return &matches{search: r.search(L, fn), s: s, prevEnd: -1}
}

// next returns the next match (as findAt), or nil once there is none.
func (m *matches) next() []int {
	for m.pos <= len(m.s) {
		loc := m.findAt(m.s, m.pos)
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
func (r *regex) match(L *lua.LState, text string) ([]lua.LValue, bool) {
	se := r.search(L, "")
	loc := se.findAt(text, 0)
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
	se := r.search(L, "re:match")
	loc := se.findAt(s, pos)
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
	se := r.search(L, "re:find")
	loc := se.findAt(s, pos)
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
	it := r.matches(L, "re:gmatch", s)
	L.Push(L.NewFunction(func(L *lua.LState) int {
		it.L = L // the state calling it, whose context is the call's
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
	for it := r.matches(L, fn, s); count != n; {
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
