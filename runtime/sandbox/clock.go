package sandbox

import (
	"fmt"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// installClock makes os.time, os.date and os.clock of L read now instead
// of the real clock (see Options.Clock). date is the state's os.date
// (already capped): it formats, given a time; installClock only chooses
// the time and the zone.
func installClock(L *lua.LState, os *lua.LTable, now func() time.Time, date *lua.LFunction) {
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
	os.RawSetString("date", L.NewFunction(func(L *lua.LState) int {
		format := "%c"
		if L.GetTop() >= 1 {
			format = L.CheckString(1)
		}
		t := now()
		if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
			t = time.Unix(L.CheckInt64(2), 0).In(t.Location())
		}
		utc := strings.HasPrefix(format, "!")
		format = strings.TrimLeft(format, "!")
		if utc {
			t = t.UTC()
		}
		// gopher-lua's os.date formats in the process's zone, or in UTC
		// with "!": the wall clock of t is formatted as UTC.
		_, offset := t.Zone()
		L.SetTop(0)
		L.Push(date)
		L.Push(lua.LString("!" + format))
		L.Push(lua.LNumber(t.Unix() + int64(offset)))
		L.Call(2, 1)
		return 1
	}))
	os.RawSetString("clock", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(now().Sub(start).Seconds()))
		return 1
	}))
}

// parseInt reads a date table's numeric string field ("09").
func parseInt(s string) (int, error) {
	var n int
	_, err := fmt.Sscan(strings.TrimSpace(s), &n)
	return n, err
}
