package sandbox

import (
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// installClock makes os.time, os.date and os.clock of L read now instead
// of the real clock (see Options.Clock), in now's zone.
func installClock(L *lua.LState, os *lua.LTable, now func() time.Time) {
	start := now()
	os.RawSetString("time", L.NewFunction(func(L *lua.LState) int {
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
	}))
	os.RawSetString("date", capDate(L, zonedDate(now)))
	os.RawSetString("clock", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(now().Sub(start).Seconds()))
		return 1
	}))
}

// rawDate is gopher-lua's os.date, which formats in the process's zone,
// or in UTC with "!", and whose "*t" says isdst = false whatever the zone.
var rawDate = func() lua.LGFunction {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	lua.OpenOs(L)
	return L.GetField(L.GetGlobal("os"), "date").(*lua.LFunction).GFunction
}()

// zonedDate is os.date reading the time from now, in now's zone: the
// wall clock of the time is formatted by gopher-lua's as if in UTC, with
// the zone's own %Z (its abbreviation: "CEST") and %z ("+0200") and "*t"'s
// isdst. With "!" the time is UTC.
func zonedDate(now func() time.Time) lua.LGFunction {
	return func(L *lua.LState) int {
		format := L.OptString(1, "%c") // nil is the default, as in Lua
		t := now()
		if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
			t = time.Unix(L.CheckInt64(2), 0).In(t.Location())
		}
		utc := strings.HasPrefix(format, "!")
		format = strings.TrimLeft(format, "!")
		if utc {
			t = t.UTC()
		} else {
			format = zoneFields(format, t)
		}
		_, offset := t.Zone()
		L.SetTop(0)
		L.Push(lua.LString("!" + format))
		L.Push(lua.LNumber(t.Unix() + int64(offset)))
		n := rawDate(L)
		if format == "*t" && n == 1 {
			if tb, ok := L.Get(-1).(*lua.LTable); ok {
				tb.RawSetString("isdst", lua.LBool(t.IsDST()))
			}
		}
		return n
	}
}

// zoneFields replaces the %Z and %z of a strftime format with t's zone
// abbreviation and offset, and %c (gopher-lua's "02 Jan 06 15:04 MST",
// the default format) with its text in t's zone.
func zoneFields(format string, t time.Time) string {
	if !strings.Contains(format, "%Z") && !strings.Contains(format, "%z") && !strings.Contains(format, "%c") {
		return format
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'Z':
			b.WriteString(strings.ReplaceAll(t.Format("MST"), "%", "%%"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'c':
			b.WriteString(strings.ReplaceAll(t.Format("02 Jan 06 15:04 MST"), "%", "%%"))
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// parseInt reads a date table's numeric string field ("09").
func parseInt(s string) (int, error) {
	var n int
	_, err := fmt.Sscan(strings.TrimSpace(s), &n)
	return n, err
}
