package luabind

import (
	"fmt"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// timeTable is rc.time: the server's timestamps to and from Unix seconds,
// the numbers os.time gives. Neither reads a clock.
func (b *binding) timeTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.time",
		field{"parse", b.timeParse},
		field{"format", timeFormat},
	)
}

// timeParse is
//
//	rc.time.parse(t) -> seconds | nil, err
//
// t is a time as the server writes it: an ISO-8601 string with a zone
// ("2024-07-02T18:07:35.267Z", "2024-07-02T20:07:35+02:00"), or the
// realtime API's {["$date"] = milliseconds}. seconds are Unix seconds
// with the milliseconds as a fraction: comparable with os.time(). A
// string that is no such time gives nil, err (error_type "time").
func (b *binding) timeParse(L *lua.LState) int {
	const fn = "rc.time.parse"
	var t time.Time
	switch v := L.Get(1).(type) {
	case lua.LString:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, string(v)); err != nil || !validOffset(string(v)) || !inDateRange(float64(t.UnixMilli())) {
			L.Push(lua.LNil)
			L.Push(b.errorTable(L, &timeError{fmt.Sprintf("%s: not an ISO-8601 time with a zone (2024-07-02T18:07:35.267Z): %q", fn, clip(string(v)))}))
			return 2
		}
	case *lua.LTable:
		ms, ok := v.RawGetString("$date").(lua.LNumber)
		if !ok || !inDateRange(float64(ms)) {
			argError(L, 1, fn, `time string or {["$date"] = milliseconds} expected, got a table without a number $date in range`)
		}
		L.Push(lua.LNumber(float64(ms) / 1000))
		return 1
	default:
		argError(L, 1, fn, "time string or {[\"$date\"] = milliseconds} expected, got "+typeName(v))
	}
	L.Push(lua.LNumber(float64(t.UnixMilli()) / 1000))
	return 1
}

// validOffset reports whether s, which time.Parse took as RFC 3339, ends
// in Z or an offset of at most 23:59, as ISO-8601 and the server's
// JavaScript Date allow (time.Parse also takes +24:00 and +05:60).
func validOffset(s string) bool {
	if len(s) < 6 || s[len(s)-1] == 'Z' {
		return true
	}
	off := s[len(s)-5:] // hh:mm after the sign
	hourOK := off[0] < '2' || off[0] == '2' && off[1] <= '3'
	return hourOK && off[3] <= '5'
}

// The times rc.time takes, in Unix milliseconds: the years 0001 to 9999,
// as far as ISO-8601's four-digit year goes.
const (
	minDateMillis = -62135596800000
	maxDateMillis = 253402300799999
)

// inDateRange reports whether ms is a time rc.time takes.
func inDateRange(ms float64) bool { return ms >= minDateMillis && ms <= maxDateMillis }

// timeFormat is
//
//	rc.time.format(seconds) -> "2024-07-02T18:07:35.267Z"
//
// the server's form of a time (UTC, milliseconds), e.g. for
// chat.syncMessages' lastUpdate: rc.time.format(os.time() - 3600).
func timeFormat(L *lua.LState) int {
	const fn = "rc.time.format"
	n, ok := L.Get(1).(lua.LNumber)
	if !ok {
		argError(L, 1, fn, "seconds expected (a number, as os.time() gives), got "+typeName(L.Get(1)))
	}
	ms := math.Round(float64(n) * 1000)
	if !inDateRange(ms) {
		argError(L, 1, fn, fmt.Sprintf("seconds out of range (years 0001 to 9999), got %v", n))
	}
	L.Push(lua.LString(time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00")))
	return 1
}

// timeError is rc.time.parse's err: error_type "time".
type timeError struct{ msg string }

func (e *timeError) Error() string { return e.msg }

// ErrorType is err.error_type (errorTable).
func (e *timeError) ErrorType() string { return "time" }
