package sandbox

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// installClock makes os.time, os.date and os.clock of L read now instead
// of the real clock (see Options.Clock), in now's zone.
func installClock(L *lua.LState, os *lua.LTable, now func() time.Time) {
	start := now()
	os.RawSetString("time", L.NewFunction(osTime(now)))
	os.RawSetString("date", capDate(L, zonedDate(now)))
	os.RawSetString("clock", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(now().Sub(start).Seconds()))
		return 1
	}))
}

// osTime is os.time reading now, a date table in now's zone: the
// daemon's (time.Now) and the tests' (a fake clock) alike, so that a
// script meets the same os.time in both (gopher-lua's took a table
// without day, which Lua 5.1 refuses).
func osTime(now func() time.Time) lua.LGFunction {
	return func(L *lua.LState) int {
		tb, ok := L.Get(1).(*lua.LTable)
		if !ok {
			if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
				L.TypeError(1, lua.LTTable)
			}
			L.Push(lua.LNumber(now().Unix()))
			return 1
		}
		field := func(name string, def int) int {
			switch v := tb.RawGetString(name).(type) {
			case lua.LNumber:
				return int(v)
			case lua.LString:
				if n, err := parseInt(string(v)); err == nil {
					return n
				}
			}
			if def < 0 {
				L.RaiseError("os.time: field '%s' missing in date table", name)
			}
			return def
		}
		t := time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1),
			field("hour", 12), field("min", 0), field("sec", 0), 0, now().Location())
		L.Push(lua.LNumber(t.Unix()))
		return 1
	}
}

// zonedDate is os.date reading the time from now, in now's zone ("!":
// UTC): "*t" gives the date table, any other format is strftime's in the
// C locale, as Lua 5.1 on glibc (gopher-lua's printed %a as "mon", %x as
// the time, %c in another form, left %e, %j, %D, %T, %U... as written and
// gave "*t" a yday of 0).
func zonedDate(now func() time.Time) lua.LGFunction {
	return func(L *lua.LState) int {
		format := "%c" // nil is the default, as in Lua
		if v := L.Get(1); v != lua.LNil {
			if n, ok := v.(lua.LNumber); ok {
				format = n.String() // a number is its text, as luaL_optstring takes it
			} else {
				format = L.CheckString(1)
			}
		}
		t := now()
		if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
			sec := float64(checkNumber(L, 2))
			if math.IsNaN(sec) || math.Abs(sec) >= 1<<63 {
				L.Push(lua.LNil) // no time_t: C's localtime fails, and os.date gives nil
				return 1
			}
			t = time.Unix(int64(sec), 0).In(t.Location())
		}
		if strings.HasPrefix(format, "!") {
			format, t = format[1:], t.In(gmt)
		}
		if y := int64(t.Year()) - 1900; y > math.MaxInt32 || y < math.MinInt32 {
			L.Push(lua.LNil) // a year C's struct tm cannot hold
			return 1
		}
		if format == "*t" {
			tb := L.CreateTable(0, 9)
			for _, f := range []struct {
				k string
				v int
			}{{"year", t.Year()}, {"month", int(t.Month())}, {"day", t.Day()}, {"hour", t.Hour()},
				{"min", t.Minute()}, {"sec", t.Second()}, {"wday", int(t.Weekday()) + 1}, {"yday", t.YearDay()}} {
				tb.RawSetString(f.k, lua.LNumber(f.v))
			}
			tb.RawSetString("isdst", lua.LBool(t.IsDST()))
			L.Push(tb)
			return 1
		}
		L.Push(lua.LString(strftime(format, t)))
		return 1
	}
}

// gmt is the zone of os.date's "!": UTC, which glibc calls GMT (%Z).
var gmt = time.FixedZone("GMT", 0)

// strftime formats t as C's strftime does in the C locale, with glibc's
// extensions (%k, %l, %P, %s); os.date hands it each conversion alone,
// so an unknown one is written as it is, and a lone % at the end stays.
func strftime(format string, t time.Time) string {
	var b []byte
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b = append(b, format[i])
			continue
		}
		i++
		b = appendConversion(b, format[i], t)
	}
	return string(b)
}

// appendConversion appends t's conversion c (the letter after %).
func appendConversion(b []byte, c byte, t time.Time) []byte {
	num := func(n, width int, pad byte) []byte {
		s := strconv.Itoa(n)
		for len(s) < width {
			s = string(pad) + s
		}
		return append(b, s...)
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	yday := t.YearDay() - 1 // 0-based, as tm_yday
	wday := int(t.Weekday())
	isoYear, isoWeek := t.ISOWeek()
	switch c {
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'b', 'h':
		return append(b, t.Month().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 'c':
		return append(b, strftime("%a %b %e %H:%M:%S %Y", t)...)
	case 'C':
		return num(floorDiv(t.Year(), 100), 2, '0')
	case 'd':
		return num(t.Day(), 2, '0')
	case 'D', 'x':
		return append(b, strftime("%m/%d/%y", t)...)
	case 'e':
		return num(t.Day(), 2, ' ')
	case 'F':
		return append(b, strftime("%Y-%m-%d", t)...)
	case 'g':
		return num(((isoYear%100)+100)%100, 2, '0')
	case 'G':
		return num(isoYear, 0, '0')
	case 'H':
		return num(t.Hour(), 2, '0')
	case 'I':
		return num(hour12, 2, '0')
	case 'j':
		return num(yday+1, 3, '0')
	case 'k':
		return num(t.Hour(), 2, ' ')
	case 'l':
		return num(hour12, 2, ' ')
	case 'm':
		return num(int(t.Month()), 2, '0')
	case 'M':
		return num(t.Minute(), 2, '0')
	case 'n':
		return append(b, '\n')
	case 'p':
		if t.Hour() < 12 {
			return append(b, "AM"...)
		}
		return append(b, "PM"...)
	case 'P':
		if t.Hour() < 12 {
			return append(b, "am"...)
		}
		return append(b, "pm"...)
	case 'r':
		return append(b, strftime("%I:%M:%S %p", t)...)
	case 'R':
		return append(b, strftime("%H:%M", t)...)
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	case 'S':
		return num(t.Second(), 2, '0')
	case 't':
		return append(b, '\t')
	case 'T', 'X':
		return append(b, strftime("%H:%M:%S", t)...)
	case 'u':
		return num((wday+6)%7+1, 0, '0')
	case 'U':
		return num((yday+7-wday)/7, 2, '0')
	case 'V':
		return num(isoWeek, 2, '0')
	case 'w':
		return num(wday, 0, '0')
	case 'W':
		return num((yday+7-(wday+6)%7)/7, 2, '0')
	case 'y':
		return num(((t.Year()%100)+100)%100, 2, '0')
	case 'Y':
		return num(t.Year(), 0, '0')
	case 'z':
		return append(b, t.Format("-0700")...)
	case 'Z':
		return append(b, t.Format("MST")...)
	case '%':
		return append(b, '%')
	}
	return append(b, '%', c)
}

// floorDiv is a / b rounded down.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parseInt reads a date table's numeric string field ("09").
func parseInt(s string) (int, error) {
	var n int
	_, err := fmt.Sscan(strings.TrimSpace(s), &n)
	return n, err
}
