package runtime

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// The functions here replace gopher-lua library functions that build a
// string in one Go call, which neither the deadline (checked only between
// VM instructions) nor anything else can interrupt. Each refuses a result
// larger than maxStringBytes with a Lua error.

// checkSize raises when a string of n bytes would exceed maxStringBytes.
func checkSize(L *lua.LState, fn string, n int) {
	if n > maxStringBytes {
		L.RaiseError("%s: result exceeds the limit of %d bytes", fn, maxStringBytes)
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
			size += len(v.String())
		default:
			L.RaiseError("table.concat: invalid value (%s) at index %d", v.Type(), k)
		}
		if k < j {
			size += len(sep)
		}
		checkSize(L, "table.concat", size)
	}
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		b.WriteString(lua.LVAsString(t.RawGetInt(k)))
		if k < j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// capFormat wraps string.format: like Lua 5.1, a width or precision has at
// most two digits, and the result, estimated from the format and the
// arguments, must stay under the cap.
func capFormat(L *lua.LState, format *lua.LFunction) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		f := L.CheckString(1)
		specs := 0
		for k := 0; k < len(f); k++ {
			if f[k] != '%' {
				continue
			}
			k++
			if k < len(f) && f[k] == '%' {
				continue
			}
			specs++
			for k < len(f) && strings.IndexByte("-+ #0", f[k]) >= 0 {
				k++
			}
			digits := func() {
				n := 0
				for ; k < len(f) && f[k] >= '0' && f[k] <= '9'; k++ {
					n++
				}
				if n > 2 {
					L.RaiseError("string.format: invalid format (width or precision too long)")
				}
			}
			digits()
			if k < len(f) && f[k] == '.' {
				k++
				digits()
			}
		}
		size := len(f) + 100*specs
		for k := 2; k <= L.GetTop(); k++ {
			if s, ok := L.Get(k).(lua.LString); ok {
				size += len(s)
			}
		}
		checkSize(L, "string.format", size)
		return format.GFunction(L)
	})
}

// strGsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1 semantics,
// built in linear time (gopher-lua's copies the whole string per match),
// capped, and checking the deadline between matches.
func strGsub(L *lua.LState) int {
	src := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	anchored := strings.HasPrefix(pat, "^")
	ctx := L.Context()
	bsrc := []byte(src)

	var b strings.Builder
	last, count := 0, 0
	for sp := 0; sp <= len(src) && count != limit; {
		mds, err := pm.Find(pat, bsrc, sp, 1)
		if err != nil {
			L.RaiseError("string.gsub: %s", err.Error())
		}
		if len(mds) == 0 {
			break
		}
		md := mds[0]
		start, end := md.Capture(0), md.Capture(1)
		piece, keep := gsubPiece(L, src, md, repl)
		if keep {
			piece = src[start:end]
		}
		checkSize(L, "string.gsub", b.Len()+start-last+len(piece))
		b.WriteString(src[last:start])
		b.WriteString(piece)
		last = end
		count++
		sp = max(start+1, end)
		if anchored {
			break
		}
		if ctx != nil && count%1024 == 0 && ctx.Err() != nil {
			L.RaiseError("string.gsub: %s", ctx.Err().Error())
		}
	}
	checkSize(L, "string.gsub", b.Len()+len(src)-last)
	b.WriteString(src[last:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// capture returns capture idx (1-based; 0 or a pattern without captures
// means the whole match) as a Lua value.
func capture(L *lua.LState, src string, md *pm.MatchData, idx int) lua.LValue {
	if idx == 0 || (idx == 1 && md.CaptureLength() == 2) {
		return lua.LString(src[md.Capture(0):md.Capture(1)])
	}
	i := 2 * idx
	if i >= md.CaptureLength() {
		L.RaiseError("string.gsub: invalid capture index %%%d", idx)
	}
	if md.IsPosCapture(i) {
		return lua.LNumber(md.Capture(i)) // already 1-based
	}
	return lua.LString(src[md.Capture(i):md.Capture(i+1)])
}

// gsubPiece returns the replacement of one match; keep reports that the
// match stays as it is (the table or function gave false or nil).
func gsubPiece(L *lua.LState, src string, md *pm.MatchData, repl lua.LValue) (piece string, keep bool) {
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
				b.WriteString(lua.LVAsString(capture(L, src, md, int(d-'0'))))
				checkSize(L, "string.gsub", b.Len())
			} else {
				b.WriteByte(d)
			}
		}
		return b.String(), false
	case *lua.LTable:
		v = L.GetTable(r, capture(L, src, md, 1))
	case *lua.LFunction:
		n := max(1, md.CaptureLength()/2-1)
		L.Push(r)
		for k := 1; k <= n; k++ {
			L.Push(capture(L, src, md, k))
		}
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case lua.LString, lua.LNumber:
		return lua.LVAsString(v), false
	case *lua.LNilType, lua.LBool:
		if lua.LVIsFalse(v) {
			return "", true
		}
	}
	L.RaiseError("string.gsub: invalid replacement value (a %s)", v.Type())
	return "", true
}

// contextCoroutines replaces coroutine.resume and coroutine.wrap so that a
// coroutine runs under the context of whoever resumes it. gopher-lua gives
// a coroutine the context current when it was created, so one created at
// load (or in an earlier handler) would fail with "context canceled"
// forever after, and one created without a context would escape every
// deadline.
func contextCoroutines(L *lua.LState, co *lua.LTable) {
	resume, ok1 := co.RawGetString("resume").(*lua.LFunction)
	create, ok2 := co.RawGetString("create").(*lua.LFunction)
	if !ok1 || !ok2 {
		return
	}
	inherit := func(L *lua.LState, th *lua.LState) {
		if ctx := L.Context(); ctx != nil && th.Context() != ctx {
			th.SetContext(ctx)
		}
	}
	co.RawSetString("resume", L.NewFunction(func(L *lua.LState) int {
		if th, ok := L.Get(1).(*lua.LState); ok {
			inherit(L, th)
		}
		return resume.GFunction(L)
	}))
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		L.CheckFunction(1)
		create.GFunction(L)
		th := L.Get(-1)
		L.Push(L.NewClosure(func(L *lua.LState) int {
			th := L.CheckThread(lua.UpvalueIndex(1))
			inherit(L, th)
			L.Insert(th, 1)
			n := resume.GFunction(L)
			if n == 0 || !lua.LVAsBool(L.Get(-n)) {
				L.Error(L.Get(-1), 0)
			}
			return n - 1
		}, th))
		return 1
	}))
}
