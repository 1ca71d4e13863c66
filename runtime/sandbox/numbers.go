package sandbox

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Strings become numbers as in Lua 5.1 (luaO_str2d, strtod underneath),
// in arithmetic and in tonumber without a base: decimal with an optional
// fraction and exponent, hexadecimal after 0x, surrounded by any white
// space. gopher-lua reads arithmetic's strings with Go's base-prefix
// rules instead ("010" + 0 is 8, "0b11" + 0 is 3, "1_000" + 0 is 1000)
// and tonumber's as integers unless they hold a dot (tonumber("1e2") and
// tonumber("12\r") are nil).
//
// gopher-lua looks for a string's arithmetic metamethod before it
// converts the string itself, so the string metatable's __add ... __unm
// (installNumbers) do the conversion: both operands numbers, or strings
// that read as numbers, give the result; otherwise the other operand's
// metamethod runs, as in Lua 5.1, or the operation raises gopher-lua's
// error. The library's number arguments take such strings too
// (numericArgs), and string.format's (checkNumber).

// NumberText writes n as text: a whole number (below 2^63) as an
// integer, every digit kept (2^53 is "9007199254740992", as gopher-lua
// and Lua 5.3 write it, where Lua 5.1 wrote "9.007199254741e+15"), any
// other as Lua 5.1 does (its LUAI_NUMFFMT, "%.14g", and glibc's inf,
// -inf, nan, -nan): 0.1 + 0.2 is "0.3" and 100 / 3 "33.333333333333",
// where gopher-lua writes the shortest exact form ("0.30000000000000004").
func NumberText(n lua.LNumber) string {
	f := float64(n)
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		if f == 0 && math.Signbit(f) {
			return "-0" // as Lua 5.1 writes it
		}
		return strconv.FormatInt(int64(f), 10)
	}
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		if math.Signbit(f) {
			return "-nan"
		}
		return "nan"
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// concatKey is the registry field holding a state's concat function.
const concatKey = "rclua.sandbox.concat"

// concatFunction returns L's (concat): its arguments concatenated as Lua
// 5.1's luaV_concat does, right to left, runs of strings and numbers
// joined at once (a number as NumberText writes it), a value of any other
// kind through its (or its neighbour's) __concat, given the values as
// they are, or gopher-lua's error. A result longer than MaxStringBytes
// raises before it is built, as the library's string builders do.
func concatFunction(L *lua.LState) *lua.LFunction {
	reg := L.G.Registry
	if fn, ok := reg.RawGetString(concatKey).(*lua.LFunction); ok {
		return fn
	}
	fn := L.NewFunction(concat)
	reg.RawSetString(concatKey, fn)
	return fn
}

// concatText is v's text in a concatenation (v textual).
func concatText(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return NumberText(n)
	}
	return lua.LVAsString(v)
}

// textual reports whether v concatenates as text: a string or a number.
func textual(v lua.LValue) bool {
	switch v.(type) {
	case lua.LString, lua.LNumber:
		return true
	}
	return false
}

func concat(L *lua.LState) int {
	i := L.GetTop()
	rhs := L.Get(i)
	for i--; i >= 1; {
		lhs := L.Get(i)
		if textual(lhs) && textual(rhs) {
			j := i // the run of strings and numbers ending at lhs
			for j > 1 && textual(L.Get(j-1)) {
				j--
			}
			var b strings.Builder
			for k := j; k <= i+1; k++ {
				v := rhs
				if k <= i {
					v = L.Get(k)
				}
				t := concatText(v)
				checkSize(L, "concatenation (..)", b.Len()+len(t)) // before the bytes are copied: s .. s of 16 MiB builds nothing
				b.WriteString(t)
			}
			rhs, i = lua.LString(b.String()), j-1
			continue
		}
		tm := L.GetMetaField(lhs, "__concat")
		if tm == lua.LNil {
			tm = L.GetMetaField(rhs, "__concat")
		}
		if _, ok := tm.(*lua.LFunction); !ok {
			L.RaiseError("cannot perform concat operation between %v and %v", lhs.Type(), rhs.Type())
		}
		L.Push(tm)
		L.Push(lhs)
		L.Push(rhs)
		L.Call(2, 1)
		rhs = L.Get(-1)
		L.Pop(1)
		i--
	}
	L.Push(rhs)
	return 1
}

// luaNumber reads s as Lua 5.1 reads a numeric string.
func luaNumber(s string) (float64, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	if s == "" || strings.ContainsRune(s, '_') {
		return 0, false
	}
	body := strings.TrimLeft(s, "+-")
	if len(s)-len(body) > 1 {
		return 0, false
	}
	if len(body) > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X') {
		if len(body) == 2 {
			return 0, false
		}
		// strtod reads hexadecimal, with a fraction and a binary
		// exponent too; Go wants the exponent.
		if !strings.ContainsAny(body, "pP") {
			s += "p0"
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil || isRange(err)
	}
	if len(body) > 0 && (body[0] == 'i' || body[0] == 'I' || body[0] == 'n' || body[0] == 'N') {
		// inf, infinity and nan, as glibc's strtod reads them.
		switch strings.ToLower(body) {
		case "inf", "infinity", "nan":
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil || isRange(err)
}

// isRange reports a value out of float64's range: ParseFloat's ±Inf or
// 0, which strtod gives too.
func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// arithValue is v as an arithmetic operand: a number, or a string that
// reads as one.
func arithValue(v lua.LValue) (float64, bool) {
	if x, ok := v.(lua.LNumber); ok {
		return float64(x), true
	}
	n, ok := numericString(v)
	return float64(n), ok
}

// numericString is v's number when v is a string that reads as one.
func numericString(v lua.LValue) (lua.LNumber, bool) {
	s, ok := v.(lua.LString)
	if !ok {
		return 0, false
	}
	f, ok := luaNumber(string(s))
	return lua.LNumber(f), ok
}

// modulo is a % b as gopher-lua's VM computes it for numbers (the sign of
// b, math.Mod's rounding), so that "5" % x is 5 % x.
func modulo(a, b float64) float64 {
	v := math.Mod(a, b)
	if b > 0 && v < 0 || b < 0 && v > 0 {
		v += b
	}
	return v
}

// toNumber is tonumber(v [, base]) as Lua 5.1's: without a base, or with
// 10, a string reads as in arithmetic (luaNumber); another base, 2 to 36,
// reads an integer in it (strtoul: white space around, a sign, 0x before
// a base-16 one), a number as its text; any other base is an error.
func toNumber(L *lua.LState) int {
	v := L.CheckAny(1)
	base := 10
	if b := L.Get(2); b != lua.LNil {
		base = int(L.CheckNumber(2))
		if base < 2 || base > 36 {
			L.ArgError(2, "base out of range")
		}
	}
	if base == 10 {
		switch x := v.(type) {
		case lua.LNumber:
			L.Push(x)
			return 1
		case lua.LString:
			if f, ok := luaNumber(string(x)); ok {
				L.Push(lua.LNumber(f))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}
	var s string
	switch x := v.(type) {
	case lua.LNumber:
		s = x.String()
	case lua.LString:
		s = string(x)
	default:
		L.Push(lua.LNil)
		return 1
	}
	if n, ok := parseBase(s, base); ok {
		L.Push(lua.LNumber(n))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// parseBase reads s as strtoul does in base (2 to 36), all of it but
// white space; a minus sign negates (C's unsigned wrap is not kept).
func parseBase(s string, base int) (float64, bool) {
	s = strings.Trim(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if base == 16 && len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		s = s[2:]
	}
	if s == "" {
		return 0, false
	}
	var n float64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'z':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = int(c-'A') + 10
		default:
			return 0, false
		}
		if d >= base {
			return 0, false
		}
		n = n*float64(base) + float64(d)
	}
	if neg {
		n = -n
	}
	return n, true
}

// checkNumber is argument i as a number: a number, or a string that
// reads as one as in arithmetic (L.CheckNumber reads "010" as octal 8).
func checkNumber(L *lua.LState, i int) lua.LNumber {
	if n, ok := numericString(L.Get(i)); ok {
		return n
	}
	return L.CheckNumber(i)
}

// numericArgs are the library functions whose arguments at these
// positions are numbers (all of them: none listed; -2: the 2nd when
// there are 3, table.insert's position), as Lua 5.1's
// luaL_checknumber and luaL_checkinteger take them: a string that reads
// as a number too. gopher-lua's refused one where it wanted an integer
// (s:sub(1, n) with n from a pattern's capture) and read "010" as octal
// 8 where it wanted a number (math.floor("010")).
var numericArgs = []struct {
	lib, name string
	positions []int
}{
	{"string", "byte", []int{2, 3}}, {"string", "char", nil}, {"string", "find", []int{3}}, {"string", "match", []int{3}},
	{"string", "gsub", []int{4}}, {"string", "rep", []int{2}}, {"string", "sub", []int{2, 3}},
	{"table", "concat", []int{3, 4}}, {"table", "insert", []int{-2}}, {"table", "remove", []int{2}},
	{"", "select", []int{1}}, {"", "unpack", []int{2, 3}}, {"", "error", []int{2}},
	{"os", "date", []int{2}}, {"os", "difftime", []int{1, 2}},
	{"math", "abs", nil}, {"math", "acos", nil}, {"math", "asin", nil}, {"math", "atan", nil},
	{"math", "atan2", nil}, {"math", "ceil", nil}, {"math", "cos", nil}, {"math", "cosh", nil},
	{"math", "deg", nil}, {"math", "exp", nil}, {"math", "floor", nil}, {"math", "fmod", nil},
	{"math", "frexp", nil}, {"math", "ldexp", nil}, {"math", "log", nil}, {"math", "log10", nil},
	{"math", "max", nil}, {"math", "min", nil}, {"math", "modf", nil}, {"math", "pow", nil},
	{"math", "rad", nil}, {"math", "sin", nil}, {"math", "sinh", nil}, {"math", "sqrt", nil},
	{"math", "tan", nil}, {"math", "tanh", nil},
}

// stringArgs are the library functions whose arguments at these
// positions are strings, as Lua 5.1's luaL_checklstring takes them: a
// number too, written as tostring writes it (string.len(0.1 + 0.2) is 3;
// gopher-lua's read 0.30000000000000004).
var stringArgs = []struct {
	lib, name string
	positions []int
}{
	{"string", "byte", []int{1}}, {"string", "find", []int{1, 2}}, {"string", "format", []int{1}},
	{"string", "gmatch", []int{1, 2}}, {"string", "gsub", []int{1, 2, 3}}, {"string", "len", []int{1}},
	{"string", "lower", []int{1}}, {"string", "match", []int{1, 2}}, {"string", "rep", []int{1, 3}},
	{"string", "reverse", []int{1}}, {"string", "sub", []int{1}}, {"string", "upper", []int{1}},
	{"table", "concat", []int{2}},
}

// installNumericArgs wraps numericArgs' functions (as L has them, so it
// runs after the other replacements) to convert those arguments first,
// and stringArgs' likewise.
func installNumericArgs(L *lua.LState) {
	for _, f := range stringArgs {
		wrapArgs(L, f.lib, f.name, func(L *lua.LState) {
			for _, i := range f.positions {
				if n, ok := L.Get(i).(lua.LNumber); ok {
					L.Replace(i, lua.LString(NumberText(n)))
				}
			}
		})
	}
	for _, f := range numericArgs {
		wrapArgs(L, f.lib, f.name, func(L *lua.LState) {
			convert := func(i int) {
				if n, ok := numericString(L.Get(i)); ok {
					L.Replace(i, n)
				}
			}
			if f.positions == nil {
				for i := 1; i <= L.GetTop(); i++ {
					convert(i)
				}
			}
			for _, i := range f.positions {
				switch {
				case i == -2 && L.GetTop() == 3: // table.insert(t, pos, v); insert(t, v) stores v as it is
					convert(2)
				case i > 0 && i <= L.GetTop():
					convert(i)
				}
			}
		})
	}
}

// wrapArgs replaces lib.name (a Go function of L, lib "" for a global)
// with one that calls convert on its arguments first.
func wrapArgs(L *lua.LState, lib, name string, convert func(*lua.LState)) {
	tb := L.G.Global
	if lib != "" {
		t, ok := L.GetGlobal(lib).(*lua.LTable)
		if !ok {
			return
		}
		tb = t
	}
	orig, ok := tb.RawGetString(name).(*lua.LFunction)
	if !ok || !orig.IsG {
		return
	}
	fn := orig.GFunction
	tb.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
		convert(L)
		return fn(L)
	}))
}

// installNumbers replaces tonumber (toNumber) and gives the string
// metatable its arithmetic metamethods.
func installNumbers(L *lua.LState) {
	L.SetGlobal("tonumber", L.NewFunction(toNumber))
	mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable)
	if !ok {
		return
	}
	for _, op := range []struct {
		event, name string
		fn          func(a, b float64) float64
	}{
		{"__add", "add", func(a, b float64) float64 { return a + b }},
		{"__sub", "sub", func(a, b float64) float64 { return a - b }},
		{"__mul", "mul", func(a, b float64) float64 { return a * b }},
		{"__div", "div", func(a, b float64) float64 { return a / b }},
		{"__mod", "mod", modulo},
		{"__pow", "pow", math.Pow},
	} {
		mt.RawSetString(op.event, L.NewFunction(func(L *lua.LState) int {
			a, b := L.Get(1), L.Get(2)
			x, okA := arithValue(a)
			y, okB := arithValue(b)
			if okA && okB {
				L.Push(lua.LNumber(op.fn(x, y)))
				return 1
			}
			// Lua 5.1 tries the first operand's metamethod, then the
			// second's; a string's, in Lua, is none.
			for _, v := range []lua.LValue{a, b} {
				if _, isStr := v.(lua.LString); isStr {
					continue
				}
				if tm, ok := L.GetMetaField(v, op.event).(*lua.LFunction); ok {
					L.Push(tm)
					L.Push(a)
					L.Push(b)
					L.Call(2, 1)
					return 1
				}
			}
			L.RaiseError("cannot perform %s operation between %s and %s", op.name, a.Type(), b.Type())
			return 0
		}))
	}
	mt.RawSetString("__unm", L.NewFunction(func(L *lua.LState) int {
		a := L.Get(1)
		x, ok := arithValue(a)
		if !ok {
			L.RaiseError("cannot perform unm operation on %s", a.Type())
		}
		L.Push(lua.LNumber(-x))
		return 1
	}))
}
