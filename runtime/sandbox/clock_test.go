package sandbox

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestClockOption: with Options.Clock, os.time, os.date and os.clock read
// it, in its location, through every route (no argument, nil, a date
// table, "*t", "!"), and the real clock is never seen.
func TestClockOption(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 12, 7, 9, 30, 5, 0, berlin) // a Monday, UTC+1
	L := New(Options{Clock: func() time.Time { return now }})
	defer L.Close()
	require.NoError(t, runChunk(context.Background(), L, "clock.lua", []byte(`
now = os.time()
now_nil = os.time(nil)
local_date = os.date("%Y-%m-%d %H:%M:%S")
utc_date = os.date("!%Y-%m-%d %H:%M:%S")
given = os.date("%H:%M", 0)
tm = os.date("*t")
back = os.time(tm)
noon = os.time{year = 2026, month = 12, day = "07"}
clock0 = os.clock()
`), time.Second))
	g := func(name string) lua.LValue { return L.GetGlobal(name) }
	assert.Equal(t, lua.LNumber(now.Unix()), g("now"))
	assert.Equal(t, lua.LNumber(now.Unix()), g("now_nil"))
	assert.Equal(t, lua.LString("2026-12-07 09:30:05"), g("local_date"), "local is the clock's zone")
	assert.Equal(t, lua.LString("2026-12-07 08:30:05"), g("utc_date"))
	assert.Equal(t, lua.LString("01:00"), g("given"), "a given time, in the clock's zone")
	tm := g("tm").(*lua.LTable)
	assert.Equal(t, lua.LNumber(9), tm.RawGetString("hour"))
	assert.Equal(t, lua.LNumber(2), tm.RawGetString("wday"), "Monday")
	assert.Equal(t, lua.LNumber(now.Unix()), g("back"), "os.time reads a date table in the clock's zone")
	assert.Equal(t, lua.LNumber(time.Date(2026, 12, 7, 12, 0, 0, 0, berlin).Unix()), g("noon"), "hour defaults to 12")
	assert.Equal(t, lua.LNumber(0), g("clock0"))

	now = now.Add(90 * time.Minute)
	require.NoError(t, runChunk(context.Background(), L, "later.lua", []byte(`
later, elapsed = os.time(), os.clock()
`), time.Second))
	assert.Equal(t, lua.LNumber(now.Unix()), g("later"))
	assert.Equal(t, lua.LNumber(5400), g("elapsed"), "os.clock follows the clock")

	err = runChunk(context.Background(), L, "bad.lua", []byte("os.time{year = 2026}"), time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.lua:1: os.time: field 'month' missing in date table")
	err = runChunk(context.Background(), L, "long.lua", []byte("os.date(string.rep('%Y', 1000))"), time.Second)
	require.Error(t, err, "the format cap holds with a clock")
	assert.Contains(t, err.Error(), "exceeds the limit")
}

// TestRealClockByDefault: without Options.Clock, os.time is the real time.
func TestRealClockByDefault(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	before := time.Now().Unix()
	require.NoError(t, runChunk(context.Background(), L, "real.lua", []byte("now = os.time()"), time.Second))
	got := int64(L.GetGlobal("now").(lua.LNumber))
	assert.GreaterOrEqual(t, got, before)
	assert.LessOrEqual(t, got, time.Now().Unix())
}

// TestDateZone: os.date gives the zone of the time it formats: its
// abbreviation (%Z) and offset (%z), in summer and in winter, and "*t"'s
// isdst, with a clock (rclua test's zone) as with the real one; "!" is
// UTC, a literal "%%Z" stays one, and %c is the C locale's.
func TestDateZone(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, paris)
	L := New(Options{Clock: func() time.Time { return now }})
	defer L.Close()
	require.NoError(t, runChunk(context.Background(), L, "zone.lua", []byte(`
summer = os.date("%H:%M %Z %z")
summer_dst = os.date("*t").isdst
winter = os.date("%H:%M %Z %z", os.time{year = 2026, month = 1, day = 15, hour = 9})
winter_dst = os.date("*t", os.time{year = 2026, month = 1, day = 15}).isdst
utc = os.date("!%H:%M %Z %z")
utc_dst = os.date("!*t").isdst
literal = os.date("%%Z %%z %%%Z")
default = os.date()
c = os.date("%c", os.time{year = 2026, month = 1, day = 15, hour = 9})
`), time.Second))
	g := func(name string) lua.LValue { return L.GetGlobal(name) }
	assert.Equal(t, lua.LString("09:00 CEST +0200"), g("summer"))
	assert.Equal(t, lua.LTrue, g("summer_dst"))
	assert.Equal(t, lua.LString("09:00 CET +0100"), g("winter"))
	assert.Equal(t, lua.LFalse, g("winter_dst"))
	assert.Equal(t, lua.LString("07:00 GMT +0000"), g("utc"), "glibc's name of UTC")
	assert.Equal(t, lua.LFalse, g("utc_dst"))
	assert.Equal(t, lua.LString("%Z %z %CEST"), g("literal"))
	assert.Equal(t, lua.LString("Wed Jul  1 09:00:00 2026"), g("default"), "the default format, %c, as C's")
	assert.Equal(t, lua.LString("Thu Jan 15 09:00:00 2026"), g("c"))
}

// TestDateFormats: os.date formats as Lua 5.1 on glibc in the C locale
// (testdata/date.lua, checked with lua5.1): every C99 conversion and
// glibc's %k, %l, %P, %s, an unknown one as written, "*t" with its yday
// (gopher-lua printed %a as "mon" and %x as the time, left %e, %j, %D,
// %T, %U... as written, and gave yday 0).
func TestDateFormats(t *testing.T) {
	t.Parallel()
	runAllOK(t, "date.lua")
}
