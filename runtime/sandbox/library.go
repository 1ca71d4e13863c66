package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The functions here replace gopher-lua library functions whose work or
// output a deadline or the string cap does not bound, or that panic with
// Go text on odd arguments. Each keeps Lua 5.1's behaviour for ordinary
// arguments.

const (
	// checkEvery is how many steps (comparisons, format specs) a long
	// library loop takes between looks at the state's context.
	checkEvery = 1024
	// maxArrayGap bounds how far past the end of a table's array part
	// rawset and table.insert may write one integer key: gopher-lua fills
	// the gap with nils in one Go call (t[6e7] = 1 allocates 1 GiB).
	maxArrayGap = MaxStringBytes / 16
)

// checkContext raises the context's error ("context deadline exceeded")
// once L's context is done, as the VM does between instructions.
func checkContext(L *lua.LState) {
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
		L.RaiseError("%s", ctx.Err().Error())
	}
}

// installLibrary replaces string.format, string.rep, string.upper,
// string.lower, table.sort, table.insert and rawset (each present) with
// the bounded versions below, and assert with one that takes an error
// object. None holds per-state data (installRandom's do).
func installLibrary(L *lua.LState) {
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		str.RawSetString("format", L.NewFunction(strFormat))
		str.RawSetString("rep", L.NewFunction(strRep))
		str.RawSetString("char", L.NewFunction(strChar))
		str.RawSetString("upper", L.NewFunction(func(L *lua.LState) int { return asciiCase(L, 'a', 'z', 'A'-'a') }))
		str.RawSetString("lower", L.NewFunction(func(L *lua.LState) int { return asciiCase(L, 'A', 'Z', 'a'-'A') }))
	}
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("sort", L.NewFunction(tableSort))
		tab.RawSetString("insert", L.NewFunction(tableInsert))
		tab.RawSetString("remove", L.NewFunction(tableRemove))
	}
	if m, ok := L.GetGlobal("math").(*lua.LTable); ok {
		m.RawSetString("huge", lua.LNumber(math.Inf(1))) // gopher-lua's is math.MaxFloat64
	}
	if _, ok := L.GetGlobal("error").(*lua.LFunction); ok {
		L.SetGlobal("error", L.NewFunction(raise))
	}
	if orig, ok := L.GetGlobal("tostring").(*lua.LFunction); ok && orig.IsG {
		str := orig.GFunction
		L.SetGlobal("tostring", L.NewFunction(func(L *lua.LState) int {
			if n, ok := L.Get(1).(lua.LNumber); ok {
				L.Push(lua.LString(NumberText(n)))
				return 1
			}
			return str(L)
		}))
	}
	if orig, ok := L.GetGlobal("setmetatable").(*lua.LFunction); ok && orig.IsG {
		set := orig.GFunction
		// Lua 5.1's takes a table only; gopher-lua's set the metatable of
		// every string (or number, boolean, function) of the state:
		// setmetatable("", {}) broke s:upper() everywhere after it.
		L.SetGlobal("setmetatable", L.NewFunction(func(L *lua.LState) int {
			L.CheckTable(1)
			return set(L)
		}))
	}
	if _, ok := L.GetGlobal("rawset").(*lua.LFunction); ok {
		L.SetGlobal("rawset", L.NewFunction(rawSet))
	}
	if _, ok := L.GetGlobal("assert").(*lua.LFunction); ok {
		L.SetGlobal("assert", L.NewFunction(assertValue))
	}
}

// assertValue is assert(v [, message]) returning all its arguments when v
// is true, raising "assertion failed!" or the string (or number) message
// with the caller's position as Lua 5.1 does, and any other message as it
// is (Lua 5.2's rule, where gopher-lua and Lua 5.1 raise "bad argument #2
// to assert (string expected, got table)"): so assert(rc.chat.post_message
// {...}) raises the call's err table, whose tostring is its message, and
// the script's file:line is added where the error is reported.
func assertValue(L *lua.LState) int {
	L.CheckAny(1)
	if lua.LVAsBool(L.Get(1)) {
		return L.GetTop()
	}
	switch msg := L.Get(2).(type) {
	case *lua.LNilType:
		L.RaiseError("assertion failed!")
	case lua.LString, lua.LNumber:
		L.RaiseError("%s", lua.LVAsString(msg))
	default:
		L.Error(msg, 0)
	}
	return 0
}

// strRep is string.rep(s, n [, sep]) refusing results above
// MaxStringBytes. n is truncated as Lua 5.1 does; NaN, infinities and
// counts below 1 give "" or the limit error, never a Go panic.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := math.Trunc(float64(L.CheckNumber(2)))
	sep := L.OptString(3, "")
	if !(n >= 1) || len(s)+len(sep) == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	total := 0.0 // each term only when non-zero: 0 * Inf is NaN
	if len(s) > 0 {
		total += float64(len(s)) * n
	}
	if len(sep) > 0 {
		total += float64(len(sep)) * (n - 1)
	}
	if total > MaxStringBytes {
		L.RaiseError("string.rep: result of %.0f bytes exceeds the limit of %d bytes", total, MaxStringBytes)
	}
	count := int(n)
	if sep == "" {
		L.Push(lua.LString(strings.Repeat(s, count)))
		return 1
	}
	var b strings.Builder
	b.Grow(int(total))
	for i := 0; i < count; i++ {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(s)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// asciiCase is string.upper or string.lower as in Lua 5.1's C locale:
// bytes from lo to hi shift by delta, every other byte stays. gopher-lua's
// Unicode mapping turns each invalid UTF-8 byte into three bytes.
func asciiCase(L *lua.LState, lo, hi byte, delta int) int {
	s := L.CheckString(1)
	b := []byte(s)
	for i, c := range b {
		if c >= lo && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	L.Push(lua.LString(b))
	return 1
}

// formatSpec is one conversion of a string.format format.
type formatSpec struct {
	flags      string
	width      int // -1: none
	precision  int // -1: none
	verb       byte
	start, end int // the spec in the format, '%' included
}

// has reports whether the spec has flag c.
func (sp formatSpec) has(c byte) bool { return strings.IndexByte(sp.flags, c) >= 0 }

// goFormat is the spec as a Go fmt format with verb, without the flags in
// drop.
func (sp formatSpec) goFormat(verb byte, drop string) string {
	var b strings.Builder
	b.WriteByte('%')
	for i := 0; i < len(sp.flags); i++ {
		if strings.IndexByte(drop, sp.flags[i]) < 0 {
			b.WriteByte(sp.flags[i])
		}
	}
	if sp.width >= 0 {
		b.WriteString(strconv.Itoa(sp.width))
	}
	if sp.precision >= 0 {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(sp.precision))
	}
	b.WriteByte(verb)
	return b.String()
}

// pad pads s with spaces to the spec's width, on the left unless the spec
// has '-'.
func (sp formatSpec) pad(s string) string {
	if len(s) >= sp.width {
		return s
	}
	fill := strings.Repeat(" ", sp.width-len(s))
	if sp.has('-') {
		return s + fill
	}
	return fill + s
}

// parseSpec reads the conversion of f starting after its '%' at k, with
// Lua 5.1's rules: at most five flags of "-+ #0", a width and a precision
// of at most two digits.
func parseSpec(L *lua.LState, f string, k int) formatSpec {
	sp := formatSpec{width: -1, precision: -1, start: k - 1}
	p := k
	for p < len(f) && strings.IndexByte("-+ #0", f[p]) >= 0 {
		p++
	}
	if p-k > 5 {
		L.RaiseError("invalid format (repeated flags)")
	}
	sp.flags = f[k:p]
	digits := func() int {
		n, v := 0, 0
		for ; p < len(f) && f[p] >= '0' && f[p] <= '9'; p++ {
			if n == 2 {
				L.RaiseError("invalid format (width or precision too long)")
			}
			v = v*10 + int(f[p]-'0')
			n++
		}
		if n == 0 {
			return -1
		}
		return v
	}
	sp.width = digits()
	if p < len(f) && f[p] == '.' {
		p++
		sp.precision = max(digits(), 0)
	}
	if p < len(f) {
		sp.verb = f[p]
		p++
	}
	sp.end = p
	return sp
}

// strFormat is string.format(fmt, ...) with Lua 5.1's conversions (c d i
// o u x X e E f g G q s and %%), built spec by spec so that the result is
// counted exactly against MaxStringBytes as it grows, and checking the
// deadline every checkEvery specs. Unlike Lua 5.1, %s takes any value
// through tostring (gopher-lua's did too).
func strFormat(L *lua.LState) int {
	f := L.CheckString(1)
	var b strings.Builder
	write := func(s string) {
		checkSize(L, "string.format", b.Len()+len(s))
		b.WriteString(s)
	}
	arg, specs := 1, 0
	for k := 0; k < len(f); {
		if f[k] != '%' {
			e := strings.IndexByte(f[k:], '%')
			if e < 0 {
				e = len(f) - k
			}
			write(f[k : k+e])
			k += e
			continue
		}
		if k+1 < len(f) && f[k+1] == '%' {
			write("%")
			k += 2
			continue
		}
		arg++
		if arg > L.GetTop() {
			L.ArgError(arg, "no value")
		}
		sp := parseSpec(L, f, k+1)
		k = sp.end
		if specs++; specs%checkEvery == 0 {
			checkContext(L)
		}
		formatOne(L, sp, arg, write)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// formatOne formats argument arg by spec sp and writes the result.
func formatOne(L *lua.LState, sp formatSpec, arg int, write func(string)) {
	switch sp.verb {
	case 'c':
		c := toInt64(checkNumber(L, arg))
		if c != int64(int32(c)) {
			c = 0 // C's (int) cast of an out-of-range value: INT_MIN, byte 0
		}
		write(sp.pad(string([]byte{byte(c)})))
	case 'd', 'i':
		v := toInt64(checkNumber(L, arg))
		if v == 0 && sp.precision == 0 { // no digits; C keeps the sign, Go does not
			sign := ""
			if sp.has('+') {
				sign = "+"
			} else if sp.has(' ') {
				sign = " "
			}
			write(sp.pad(sign))
			return
		}
		write(fmt.Sprintf(sp.goFormat('d', ""), v))
	case 'o', 'u', 'x', 'X':
		v := toUint64(checkNumber(L, arg))
		if v == 0 && sp.precision == 0 { // no digits, but C's %#o writes its 0
			zero := ""
			if sp.verb == 'o' && sp.has('#') {
				zero = "0"
			}
			write(sp.pad(zero))
			return
		}
		drop := "+ " // C ignores signs for unsigned conversions
		if v == 0 {
			drop += "#" // and writes 0, not 0x0
		}
		verb := sp.verb
		if verb == 'u' {
			verb = 'd'
		}
		if (verb == 'x' || verb == 'X') && sp.has('#') && v != 0 {
			// C counts the 0x in the width, Go's zero padding does not.
			digits := sp
			digits.width = -1
			d := fmt.Sprintf(digits.goFormat(verb, "+ #0-"), v)
			if sp.has('0') && !sp.has('-') && sp.precision < 0 && len(d)+2 < sp.width {
				d = strings.Repeat("0", sp.width-2-len(d)) + d
			}
			write(sp.pad("0" + string(verb) + d))
			return
		}
		write(fmt.Sprintf(sp.goFormat(verb, drop), v))
	case 'e', 'E', 'f', 'g', 'G':
		v := float64(checkNumber(L, arg))
		if math.IsInf(v, 0) || math.IsNaN(v) {
			write(sp.pad(nonFinite(sp, v)))
			return
		}
		if sp.precision < 0 {
			sp.precision = 6 // C's default; Go's %g would print the shortest form
		}
		write(fmt.Sprintf(sp.goFormat(sp.verb, ""), v))
	case 'q':
		s := formatString(L, arg, false)
		n := 2
		for i := 0; i < len(s); i++ {
			n += quotedLen(s[i])
		}
		checkSize(L, "string.format", n) // before building it
		write(quote(s, n))
	case 's':
		s := formatString(L, arg, true)
		if sp.precision >= 0 && sp.precision < len(s) {
			s = s[:sp.precision]
		}
		write(sp.pad(s))
	case 0:
		L.RaiseError("invalid format (ends in a conversion)")
	default:
		L.RaiseError("invalid option '%%%c' to 'format'", sp.verb)
	}
}

// formatString is argument arg as a string: a string or a number, or with
// anyValue any value through tostring (__tostring included).
func formatString(L *lua.LState, arg int, anyValue bool) string {
	switch v := L.Get(arg).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return NumberText(v)
	}
	if !anyValue {
		L.TypeError(arg, lua.LTString)
	}
	s, ok := L.ToStringMeta(L.Get(arg)).(lua.LString)
	if !ok {
		L.RaiseError("string.format: '__tostring' must return a string")
	}
	return string(s)
}

// quotedLen is the length of byte c in a %q result.
func quotedLen(c byte) int {
	switch c {
	case '"', '\\', '\n', '\r':
		return 2
	case 0:
		return 4
	}
	return 1
}

// quote is s as Lua 5.1's %q writes it ("...", with \" \\ \<newline> \r
// and \000 escaped); n is its length.
func quote(s string, n int) string {
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\000`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// nonFinite is an infinity or NaN as C's printf writes it ("inf", "-nan",
// "+INF"), before padding.
func nonFinite(sp formatSpec, v float64) string {
	s := "inf"
	if math.IsNaN(v) {
		s = "nan"
	}
	if sp.verb == 'E' || sp.verb == 'G' {
		s = strings.ToUpper(s)
	}
	switch {
	case math.Signbit(v):
		return "-" + s
	case sp.has('+'):
		return "+" + s
	case sp.has(' '):
		return " " + s
	}
	return s
}

// toInt64 converts n as C's (long) cast does on amd64: NaN and values out
// of range become math.MinInt64.
func toInt64(n lua.LNumber) int64 {
	f := float64(n)
	if math.IsNaN(f) || f >= 1<<63 || f < -(1<<63) {
		return math.MinInt64
	}
	return int64(f)
}

// toUint64 converts n as C's (unsigned long) cast does on amd64: negative
// values wrap, values from 2^64 up become 0, NaN becomes 2^63.
func toUint64(n lua.LNumber) uint64 {
	f := float64(n)
	switch {
	case math.IsNaN(f) || f < -(1<<63):
		return 1 << 63
	case f >= 1<<64:
		return 0
	case f >= 1<<63:
		return uint64(f)
	}
	return uint64(int64(f))
}

// tableSort is table.sort(t [, comp]) as in Lua 5.1: an in-place
// quicksort of t[1..#t] (raw access) with "<" or comp, raising "invalid
// order function for sorting" when comp is inconsistent enough to run off
// the range, and checking the deadline every checkEvery comparisons
// (gopher-lua's sorts in one Go call: 3 million strings ran 12 s past a
// 1.5 s deadline).
func tableSort(L *lua.LState) int {
	s := &sorter{L: L, t: L.CheckTable(1)}
	if L.Get(2) != lua.LNil {
		s.comp = L.CheckFunction(2)
	}
	s.sort(1, s.t.Len())
	return 0
}

// sorter sorts one table.
type sorter struct {
	L     *lua.LState
	t     *lua.LTable
	comp  *lua.LFunction
	steps int
}

func (s *sorter) less(a, b lua.LValue) bool {
	if s.steps++; s.steps%checkEvery == 0 {
		checkContext(s.L)
	}
	if s.comp == nil {
		return s.L.LessThan(a, b)
	}
	s.L.Push(s.comp)
	s.L.Push(a)
	s.L.Push(b)
	s.L.Call(2, 1)
	r := s.L.Get(-1)
	s.L.Pop(1)
	return lua.LVAsBool(r)
}

func (s *sorter) get(i int) lua.LValue { return s.t.RawGetInt(i) }

func (s *sorter) swap(i, j int) {
	a, b := s.get(i), s.get(j)
	s.t.RawSetInt(i, b)
	s.t.RawSetInt(j, a)
}

// lessAt compares t[i] and t[j].
func (s *sorter) lessAt(i, j int) bool { return s.less(s.get(i), s.get(j)) }

// sort sorts t[lo..hi]: median of three as the pivot, partition, recurse
// into the smaller part and loop on the larger (the recursion stays
// logarithmic).
func (s *sorter) sort(lo, hi int) {
	for lo < hi {
		if s.lessAt(hi, lo) {
			s.swap(lo, hi)
		}
		if hi-lo == 1 {
			return
		}
		mid := lo + (hi-lo)/2
		if s.lessAt(mid, lo) {
			s.swap(mid, lo)
		} else if s.lessAt(hi, mid) {
			s.swap(mid, hi)
		}
		if hi-lo == 2 {
			return
		}
		pivot := s.get(mid)
		s.swap(mid, hi-1) // t[lo] <= pivot <= t[hi] stop the scans below
		i, j := lo, hi-1
		for {
			for i++; s.less(s.get(i), pivot); i++ {
				if i >= hi {
					s.L.RaiseError("invalid order function for sorting")
				}
			}
			for j--; s.less(pivot, s.get(j)); j-- {
				if j <= lo {
					s.L.RaiseError("invalid order function for sorting")
				}
			}
			if j < i {
				break
			}
			s.swap(i, j)
		}
		s.swap(hi-1, i)
		if i-lo < hi-i {
			s.sort(lo, i-1)
			lo = i + 1
		} else {
			s.sort(i+1, hi)
			hi = i - 1
		}
	}
}

// checkArrayGap raises when writing integer key k into t would make
// gopher-lua fill more than maxArrayGap slots of its array part at once.
func checkArrayGap(L *lua.LState, fn string, t *lua.LTable, k lua.LValue) {
	n, ok := k.(lua.LNumber)
	if !ok || n < 1 || float64(n) >= float64(lua.MaxArrayIndex) || n != lua.LNumber(math.Trunc(float64(n))) {
		return
	}
	if gap := int(n) - t.Len(); gap > maxArrayGap {
		L.RaiseError("%s: index %d is %d slots past the end of the table (at most %d)", fn, int(n), gap, maxArrayGap)
	}
}

// rawSet is rawset(t, k, v) refusing a far integer key (checkArrayGap).
func rawSet(L *lua.LState) int {
	t := L.CheckTable(1)
	k := L.CheckAny(2)
	v := L.CheckAny(3)
	checkArrayGap(L, "rawset", t, k)
	L.RawSet(t, k, v)
	L.SetTop(1)
	return 1
}

// tableInsert is table.insert(t, [pos,] v) as in gopher-lua, refusing a
// far position (checkArrayGap).
func tableInsert(L *lua.LState) int {
	t := L.CheckTable(1)
	switch L.GetTop() {
	case 2:
		t.Append(L.Get(2))
	case 3:
		pos := L.CheckNumber(2)
		checkArrayGap(L, "table.insert", t, pos)
		t.Insert(int(toInt64(pos)), L.CheckAny(3))
	default:
		L.RaiseError("wrong number of arguments to 'insert'")
	}
	return 0
}

// strChar is string.char(...) as Lua 5.1's: a code outside 0..255 is an
// error ("invalid value"), where gopher-lua kept its low byte
// (string.char(256) was "\0").
func strChar(L *lua.LState) int {
	n := L.GetTop()
	b := make([]byte, n)
	for i := 1; i <= n; i++ {
		c := toInt64(L.CheckNumber(i))
		if c < 0 || c > 255 {
			L.ArgError(i, "invalid value")
		}
		b[i-1] = byte(c)
	}
	L.Push(lua.LString(b))
	return 1
}

// tableRemove is table.remove(t [, pos]) as Lua 5.1's: pos (default #t)
// outside 1..#t removes nothing and returns nothing (gopher-lua's removed
// and returned the last element for 0 and negative positions).
func tableRemove(L *lua.LState) int {
	t := L.CheckTable(1)
	n := t.Len()
	pos := n
	if L.Get(2) != lua.LNil {
		pos = int(toInt64(L.CheckNumber(2)))
	}
	if pos < 1 || pos > n {
		return 0
	}
	L.Push(t.Remove(pos)) // right within 1..#t: the array part holds them all
	return 1
}

// raise is error(v [, level]) as Lua 5.1's: a string or number v gets the
// position of the function level levels up (1, the default: the caller of
// error; 2: its caller; 0: none), "" when that is no Lua function;
// another value is raised as it is. gopher-lua's took level 2 for 1's
// and refused error() without a value.
func raise(L *lua.LState) int {
	v := L.Get(1)
	level := L.OptInt(2, 1)
	if level > 0 {
		switch x := v.(type) {
		case lua.LString:
			L.Error(lua.LString(position(L, level)+string(x)), 0)
		case lua.LNumber:
			L.Error(lua.LString(position(L, level)+NumberText(x)), 0)
		}
	}
	L.Error(v, 0) // level 0, or no string: as it is (error(5, 0) raises the number 5)
	return 0
}

// position is "source:line: " of the function level levels above the
// running Go function, or "" when there is none or it is not Lua's.
func position(L *lua.LState, level int) string {
	d, ok := L.GetStack(level)
	if !ok {
		return ""
	}
	if _, err := L.GetInfo("Sl", d, lua.LNil); err != nil || d.CurrentLine <= 0 {
		return ""
	}
	return fmt.Sprintf("%s:%d: ", d.Source, d.CurrentLine)
}

// installRandom replaces math.random and math.randomseed with versions
// using a generator of the state's own: gopher-lua's use the process-wide
// one (randomseed is a no-op since Go 1.24, and one script's seed would
// reach the others) and panic with Go text on an empty interval.
func installRandom(L *lua.LState, m *lua.LTable) {
	r := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	m.RawSetString("random", L.NewFunction(func(L *lua.LState) int {
		var lo, hi int64
		switch L.GetTop() {
		case 0:
			L.Push(lua.LNumber(r.Float64()))
			return 1
		case 1:
			lo, hi = 1, toInt64(checkNumber(L, 1))
			if lo > hi {
				L.ArgError(1, "interval is empty")
			}
		case 2:
			lo, hi = toInt64(checkNumber(L, 1)), toInt64(checkNumber(L, 2))
			if lo > hi {
				L.ArgError(2, "interval is empty")
			}
		default:
			L.RaiseError("wrong number of arguments")
		}
		span := uint64(hi-lo) + 1 // 0: the whole int64 range
		x := r.Uint64()
		if span != 0 {
			x = r.Uint64N(span)
		}
		L.Push(lua.LNumber(lo + int64(x)))
		return 1
	}))
	m.RawSetString("randomseed", L.NewFunction(func(L *lua.LState) int {
		seed := uint64(toInt64(checkNumber(L, 1)))
		r = rand.New(rand.NewPCG(seed, seed))
		return 0
	}))
}
