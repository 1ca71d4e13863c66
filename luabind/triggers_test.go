package luabind

import (
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// recordingHost is a Host that keeps what it is given and refuses with err
// when set; stops[i] counts the calls of trigger i's stop.
type recordingHost struct {
	got   []Trigger
	stops []int
	err   error
}

func (h *recordingHost) Register(t Trigger) (func(), error) {
	if h.err != nil {
		return nil, h.err
	}
	i := len(h.got)
	h.got = append(h.got, t)
	h.stops = append(h.stops, 0)
	return func() { h.stops[i]++ }, nil
}

var _ Host = (*recordingHost)(nil)

func TestTriggersReachTheHost(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	h := &recordingHost{}
	(&Module{}).Open(L, h)
	require.Empty(t, runChunk(t, L, "t.lua", `local f = function() end
rc.on("subscription", f)
rc.every("5m", f)
rc.every(90, f)
rc.cron("CRON_TZ=Europe/Berlin 0 9 * * 1-5", f)
rc.every("1d12h", f)`))
	require.Len(t, h.got, 5)
	assert.Equal(t, 36*time.Hour, h.got[4].Interval, "days, as rc.store's ttl and t.advance read them")
	assert.Equal(t, Trigger{Kind: On, Event: "subscription", Fn: h.got[0].Fn, Where: "t.lua:2"}, h.got[0])
	assert.Equal(t, "on subscription (t.lua:2)", h.got[0].Label())
	assert.Equal(t, 5*time.Minute, h.got[1].Interval)
	assert.Equal(t, "every 5m0s (t.lua:3)", h.got[1].Label())
	assert.Equal(t, 90*time.Second, h.got[2].Interval, "a number is seconds")
	assert.Equal(t, Cron, h.got[3].Kind)
	assert.Equal(t, `cron "CRON_TZ=Europe/Berlin 0 9 * * 1-5" (t.lua:5)`, h.got[3].Label())
	require.NotNil(t, h.got[3].Schedule)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	sunday := time.Date(2026, 11, 29, 12, 0, 0, 0, berlin)
	assert.Equal(t, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin), h.got[3].Schedule.Next(sunday).In(berlin), "the parsed schedule, in its zone")
	for _, tr := range h.got {
		assert.Same(t, h.got[0].Fn, tr.Fn, "the script's own function")
	}
}

func TestTriggerArgumentErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ code, want string }{
		{`rc.on("reaction", function() end)`, `bad argument #1 to rc.on (unknown event "reaction" (known: "subscription", "message"))`},
		{`rc.on(1, function() end)`, "bad argument #1 to rc.on (string expected, got number)"},
		{`rc.on("subscription", 1)`, "bad argument #2 to rc.on (function expected, got number)"},
		{`rc.every("5 minutes", function() end)`, `bad argument #1 to rc.every (bad interval "5 minutes": want a duration such as "90s", "5m", "1h30m", "2d" or a number of seconds (10, not "10"))`},
		{`rc.every("500ms", function() end)`, "bad argument #1 to rc.every (interval 500ms is below the minimum of 1s)"},
		{`rc.every(-1, function() end)`, "bad argument #1 to rc.every (interval -1s is below the minimum of 1s)"},
		{`rc.every(rc.json.null, function() end)`, "bad argument #1 to rc.every (interval expected (a duration string such as \"5m\" or seconds), got rc.json.null)"},
		{`rc.every("1m")`, "bad argument #2 to rc.every (function expected, got nil)"},
		{`rc.every(0/0, function() end)`, "bad argument #1 to rc.every (interval of NaN seconds is out of range: at most 100 years)"},
		{`rc.every("36501d", function() end)`, `bad argument #1 to rc.every (interval "36501d" is out of range: at most 100 years)`},
		{`rc.cron("61 * * * *", function() end)`, `bad argument #1 to rc.cron (bad cron spec "61 * * * *":`},
		{`rc.cron("0 9 * * 1-5", "f")`, "bad argument #2 to rc.cron (function expected, got string)"},
	} {
		L := lua.NewState()
		h := &recordingHost{}
		(&Module{}).Open(L, h)
		msg := runChunk(t, L, "bad.lua", "\n"+tc.code)
		assert.Contains(t, msg, "bad.lua:2: "+tc.want, tc.code)
		assert.Empty(t, h.got, "%s: nothing registered", tc.code)
		L.Close()
	}
}

func TestTriggerMinInterval(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	h := &recordingHost{}
	(&Module{MinInterval: time.Millisecond}).Open(L, h)
	require.Empty(t, runChunk(t, L, "fast.lua", `rc.every("5ms", function() end)`))
	require.Len(t, h.got, 1)
	assert.Equal(t, 5*time.Millisecond, h.got[0].Interval)
	assert.Contains(t, runChunk(t, L, "fast.lua", `rc.every("1us", function() end)`), "below the minimum of 1ms")
}

func TestTriggerHostRefusal(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	(&Module{}).Open(L, &recordingHost{err: errors.New("triggers can only be registered while the script loads (at top level)")})
	assert.Equal(t, "late.lua:1: rc.cron: triggers can only be registered while the script loads (at top level)",
		runChunk(t, L, "late.lua", `rc.cron("@hourly", function() end)`))

	L2 := lua.NewState()
	defer L2.Close()
	(&Module{}).Open(L2, nil)
	assert.Equal(t, "nohost.lua:1: rc.every: no host runs triggers here", runChunk(t, L2, "nohost.lua", `rc.every("1m", print)`))
}

func TestEventArgs(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"subscription", "message"}, EventKinds())
	kinds := EventKinds()
	kinds[0] = "changed"
	assert.Equal(t, []string{"subscription", "message"}, EventKinds(), "the caller's copy")

	L := lua.NewState()
	defer L.Close()
	raw := []byte(`{"_id":"s1","rid":"GENERAL","unread":2,"fname":null}`)
	args, err := EventArgs(L, "subscription", "updated", raw)
	require.NoError(t, err)
	require.Len(t, args, 2)
	assert.Equal(t, lua.LString("updated"), args[0])
	sub := args[1].(*lua.LTable)
	assert.Equal(t, lua.LNumber(2), sub.RawGetString("unread"))
	again, err := EventArgs(L, "subscription", "updated", raw)
	require.NoError(t, err)
	assert.NotSame(t, sub, again[1], "each handler gets its own table")

	_, err = EventArgs(L, "reaction", "inserted", raw)
	assert.ErrorIs(t, err, ErrUnknownEvent)
	_, err = EventArgs(L, "subscription", "updated", []byte(`{"_id":`))
	assert.ErrorContains(t, err, "subscription event: json: unexpected end of input")
}

func TestOfflineModule(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	Offline(zerolog.Nop()).Open(L, &recordingHost{})
	require.Empty(t, runChunk(t, L, "check.lua", `
local calls = {
  function() return rc.subscriptions.get() end,
  function() return rc.subscriptions.get_one("GENERAL") end,
  function() return rc.subscriptions.read("GENERAL") end,
  function() return rc.subscriptions.unread("GENERAL") end,
  function() return rc.subscriptions.unread{first_unread_message = "m1"} end,
  function() return rc.chat.post_message{channel = "#general", text = "x"} end,
  function() return rc.users.info{username = "alice"} end,
  function() return rc.chat.react{message_id = "m1", emoji = "eyes"} end,
  function() return rc.chat.update{room_id = "r1", message_id = "m1", text = "x"} end,
  function() return rc.chat.delete{room_id = "r1", message_id = "m1"} end,
  function() return rc.rooms.info{room_name = "general"} end,
  function() return rc.me() end,
  function() return rc.get("channels.list") end,
  function() return rc.post("chat.react", {emoji = "x"}) end,
}
for i, call in ipairs(calls) do
  local v, err = call()
  assert(v == nil, "call " .. i .. " returned a value")
  assert(err and err.status == 0 and tostring(err) == "no network in check mode", "call " .. i .. ": " .. tostring(err))
end`))
}
