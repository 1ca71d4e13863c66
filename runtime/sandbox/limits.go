package sandbox

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox/luapattern"
)

// The functions here replace gopher-lua library functions that build a
// string in one Go call, which neither the deadline (checked only between
// VM instructions) nor anything else can interrupt. Each refuses a result
// larger than MaxStringBytes with a Lua error.

// checkSize raises when a string of n bytes would exceed MaxStringBytes.
func checkSize(L *lua.LState, fn string, n int) {
	if n > MaxStringBytes {
		L.RaiseError("%s: result exceeds the limit of %d bytes", fn, MaxStringBytes)
	}
}

// tableConcat is table.concat(t [, sep [, i [, j]]]) building the result
// directly (gopher-lua's pushes every element on the value stack, which
// overflows for big tables), capped.
func tableConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := 0
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LString:
			size += len(v)
		case lua.LNumber:
			size += len(NumberText(v))
		default:
			L.RaiseError("table.concat: invalid value (%s) at index %d", v.Type(), k)
		}
		if k < j {
			size += len(sep)
		}
		checkSize(L, "table.concat", size)
		if (k-i)%checkEvery == checkEvery-1 {
			checkContext(L)
		}
	}
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		switch v := t.RawGetInt(k).(type) {
		case lua.LNumber:
			b.WriteString(NumberText(v))
		case lua.LString:
			b.WriteString(string(v))
		}
		if k < j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// installPatterns replaces string.find, string.match, string.gmatch (and
// its old name gfind) and string.gsub with versions built on luapattern, whose matching checks the
// state's context every luapattern.CheckEvery steps: gopher-lua's matcher
// backtracks exponentially on some patterns inside one Go call that the
// deadline (checked between VM instructions) cannot interrupt.
func installPatterns(L *lua.LState, str *lua.LTable) {
	str.RawSetString("find", L.NewFunction(strFind))
	str.RawSetString("match", L.NewFunction(strMatch))
	gmatch := L.NewFunction(strGmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch) // Lua 5.0's name, kept by gopher-lua
	str.RawSetString("gsub", L.NewFunction(strGsub))
}

// patternBudget returns a budget that ends matching once L's context is
// done.
func patternBudget(L *lua.LState) *luapattern.Budget {
	ctx := L.Context()
	if ctx == nil {
		return &luapattern.Budget{}
	}
	return &luapattern.Budget{Check: ctx.Err}
}

// compilePattern compiles pat or raises the Lua error fn: message.
func compilePattern(L *lua.LState, fn, pat string, anchor bool) *luapattern.Pattern {
	p, err := luapattern.Compile(pat, anchor)
	if err != nil {
		L.RaiseError("%s: %s", fn, err.Error())
	}
	return p
}

// patternSpecials are the characters that make a find pattern more than a
// plain substring.
const patternSpecials = "^$*+?.([%-"

// startIndex converts a Lua 5.1 init argument (1-based, negative from the
// end) to a byte offset in [0, n].
func startIndex(init, n int) int {
	if init < 0 {
		init = n + init + 1
	}
	return min(max(init-1, 0), n)
}

// strFind is string.find(s, pattern [, init [, plain]]) as in Lua 5.1.
func strFind(L *lua.LState) int {
	return findAux(L, true)
}

// strMatch is string.match(s, pattern [, init]) as in Lua 5.1.
func strMatch(L *lua.LState) int {
	return findAux(L, false)
}

func findAux(L *lua.LState, find bool) int {
	fn := "string.match"
	if find {
		fn = "string.find"
	}
	s := L.CheckString(1)
	pat := L.CheckString(2)
	init := startIndex(L.OptInt(3, 1), len(s))
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, patternSpecials)) {
		k := strings.Index(s[init:], pat)
		if k < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + k + 1))
		L.Push(lua.LNumber(init + k + len(pat)))
		return 2
	}
	p := compilePattern(L, fn, pat, true)
	m, ok, err := p.Find(patternBudget(L), s, init)
	if err != nil {
		L.RaiseError("%s: %s", fn, err.Error())
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	if find {
		L.Push(lua.LNumber(m.Start + 1))
		L.Push(lua.LNumber(m.End))
		return 2 + pushCaptures(L, s, m, false)
	}
	return pushCaptures(L, s, m, true)
}

// captureValue is capture c of s as a Lua value: a number (1-based) for a
// position capture, else the captured text.
func captureValue(s string, c luapattern.Capture) lua.LValue {
	if c.Position {
		return lua.LNumber(c.Start + 1)
	}
	return lua.LString(s[c.Start:c.End])
}

// pushCaptures pushes m's captures; with whole, a match without captures
// pushes the matched text. It returns the number of values pushed.
func pushCaptures(L *lua.LState, s string, m luapattern.Match, whole bool) int {
	if len(m.Captures) == 0 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(s[m.Start:m.End]))
		return 1
	}
	for _, c := range m.Captures {
		L.Push(captureValue(s, c))
	}
	return len(m.Captures)
}

// strGmatch is string.gmatch(s, pattern) as in Lua 5.1 (a leading '^' is
// an ordinary character). Each call of the iterator searches on from the
// end of the previous match under the caller's deadline.
func strGmatch(L *lua.LState) int {
	s := L.CheckString(1)
	p := compilePattern(L, "string.gmatch", L.CheckString(2), false)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		b := patternBudget(L)
		for ; pos <= len(s); pos++ {
			m, ok, err := p.MatchAt(b, s, pos)
			if err != nil {
				L.RaiseError("string.gmatch: %s", err.Error())
			}
			if ok {
				pos = m.End
				if m.End == m.Start {
					pos++
				}
				return pushCaptures(L, s, m, true)
			}
		}
		return 0
	}))
	return 1
}

// strGsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1 semantics,
// built in linear time (gopher-lua's copies the whole string per match),
// capped, and matching under the deadline.
func strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTNumber, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	if n, ok := repl.(lua.LNumber); ok {
		repl = lua.LString(n.String())
	}
	limit := L.OptInt(4, len(src)+1)
	p := compilePattern(L, "string.gsub", pat, true)
	b := patternBudget(L)

	var out strings.Builder
	last, count := 0, 0
	for sp := 0; count < limit; {
		m, ok, err := p.MatchAt(b, src, sp)
		if err != nil {
			L.RaiseError("string.gsub: %s", err.Error())
		}
		if ok {
			count++
			piece, keep := gsubPiece(L, src, m, repl)
			if keep {
				piece = src[m.Start:m.End]
			}
			checkSize(L, "string.gsub", out.Len()+m.Start-last+len(piece))
			out.WriteString(src[last:m.Start])
			out.WriteString(piece)
			last = m.End
		}
		switch {
		case ok && m.End > sp:
			sp = m.End
		case sp < len(src):
			sp++
		default:
			sp = len(src) + 1
		}
		if sp > len(src) || p.Anchored() {
			break
		}
	}
	checkSize(L, "string.gsub", out.Len()+len(src)-last)
	out.WriteString(src[last:])
	L.Push(lua.LString(out.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// gsubCapture returns capture idx (1-based; 0, or 1 in a pattern without
// captures, means the whole match) as a Lua value.
func gsubCapture(L *lua.LState, src string, m luapattern.Match, idx int) lua.LValue {
	if idx == 0 || (idx == 1 && len(m.Captures) == 0) {
		return lua.LString(src[m.Start:m.End])
	}
	if idx > len(m.Captures) {
		L.RaiseError("string.gsub: invalid capture index")
	}
	return captureValue(src, m.Captures[idx-1])
}

// gsubPiece returns the replacement of one match; keep reports that the
// match stays as it is (the table or function gave false or nil).
func gsubPiece(L *lua.LState, src string, m luapattern.Match, repl lua.LValue) (piece string, keep bool) {
	var v lua.LValue
	switch r := repl.(type) {
	case lua.LString:
		if strings.IndexByte(string(r), '%') < 0 {
			return string(r), false
		}
		var b strings.Builder
		for k := 0; k < len(r); k++ {
			c := r[k]
			if c != '%' || k+1 == len(r) {
				b.WriteByte(c)
				continue
			}
			k++
			if d := r[k]; d >= '0' && d <= '9' {
				b.WriteString(lua.LVAsString(gsubCapture(L, src, m, int(d-'0'))))
				checkSize(L, "string.gsub", b.Len())
			} else {
				b.WriteByte(d)
			}
		}
		return b.String(), false
	case *lua.LTable:
		v = L.GetTable(r, gsubCapture(L, src, m, 1))
	case *lua.LFunction:
		L.Push(r)
		n := 1
		if len(m.Captures) == 0 {
			L.Push(lua.LString(src[m.Start:m.End]))
		} else {
			n = pushCaptures(L, src, m, true)
		}
		L.Call(n, 1)
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
	L.RaiseError("string.gsub: invalid replacement value (a %s)", v.Type())
	return "", true
}
