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
