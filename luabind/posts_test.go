package luabind

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// stepClock is a clock tests move by hand.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) get() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stepClock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

func TestPostLimitWindow(t *testing.T) {
	t.Parallel()
	clk := &stepClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	p := NewPostLimit(3, time.Minute, clk.get)
	for i := range 3 {
		_, ok, _ := p.take(1)
		require.True(t, ok, "post %d", i)
		clk.add(10 * time.Second)
	}
	wait, ok, log := p.take(1)
	assert.False(t, ok)
	assert.True(t, log, "the first refusal is logged")
	assert.Equal(t, 30*time.Second, wait, "until the oldest of the window is a minute old")
	_, _, log = p.take(1)
	assert.False(t, log, "once per window")
	clk.add(30 * time.Second)
	_, ok, _ = p.take(1)
	assert.True(t, ok, "the oldest left the window")
	_, ok, _ = p.take(1)
	assert.False(t, ok, "the next two are still in it")
	clk.add(time.Hour)
	for range 3 {
		_, ok, _ = p.take(1)
		assert.True(t, ok)
	}
	clk.add(-time.Hour) // a clock stepped back: the posts just taken still count
	_, ok, _ = p.take(1)
	assert.False(t, ok, "posts taken 'in the future' are in the window")
	clk.add(time.Hour + time.Minute)
	_, ok, _ = p.take(1)
	assert.True(t, ok)
}

// TestPostLimitClockBackWait: after a clock stepped back, posts taken
// before and after the step are out of order; a refusal's wait is still
// positive and the posts older than the window no longer count.
func TestPostLimitClockBackWait(t *testing.T) {
	t.Parallel()
	clk := &stepClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	p := NewPostLimit(2, time.Minute, clk.get)
	_, ok, _ := p.take(1) // 9:00:00
	require.True(t, ok)
	clk.add(-50 * time.Second)
	_, ok, _ = p.take(1) // 8:59:10, after the step
	require.True(t, ok)
	clk.add(65 * time.Second) // 9:00:15: the 8:59:10 post left the window, the 9:00:00 one did not
	_, ok, _ = p.take(1)
	require.True(t, ok, "a post older than the window does not count, wherever it is in the list")
	wait, ok, _ := p.take(1)
	assert.False(t, ok)
	assert.Equal(t, 45*time.Second, wait, "until the 9:00:00 post is a minute old")
	for range 50 {
		clk.add(-7 * time.Second)
		if wait, ok, _ = p.take(1); !ok {
			assert.Positive(t, wait, "a refusal's wait is never negative or zero")
		}
	}
}

// TestPostLimitEveryRoute: past the limit every route that posts a
// message is refused with nil, err (error_type "limit") before the
// server: rc.chat.post_message, msg:reply, rc.post of chat.postMessage
// and of chat.sendMessage in any case; rc.post of another endpoint is
// not counted; one refusal is logged.
func TestPostLimitEveryRoute(t *testing.T) {
	t.Parallel()
	clk := &stepClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	f := newFake()
	L := lua.NewState()
	defer L.Close()
	logs := &syncBuffer{}
	m := f.module()
	m.Logger = zerolog.New(logs)
	m.Posts = NewPostLimit(2, time.Minute, clk.get)
	m.Open(L, nil)
	require.NoError(t, L.DoString(`
for i = 1, 5 do assert(rc.post("subscriptions.read", { rid = "R" })) end -- not posts
assert(rc.chat.post_message { room_id = "R", text = "1" })
assert(rc.post("chat.sendMessage", { message = { rid = "R", msg = "2" } }))
results = {}
function try(name, f)
  local v, err = f()
  results[#results + 1] = { name = name, ok = v ~= nil, type = err and err.error_type, message = err and err.message }
end
try("post_message", function() return rc.chat.post_message { room_id = "R", text = "3" } end)
try("Chat.PostMessage", function() return rc.post("Chat.PostMessage", { roomId = "R", text = "4" }) end)
try("chat.sendMessage", function() return rc.post("chat.sendMessage", { message = { rid = "R", msg = "5" } }) end)
try("/chat.postMessage", function() return rc.post("/chat.postMessage", { roomId = "R", text = "7" }) end)
try("chat.postMessage/", function() return rc.post("chat.postMessage/", { roomId = "R", text = "8" }) end)
try("commands.run", function() return rc.post("commands.run", { command = "me", params = "waves", roomId = "R" }) end)
try("method.call sendMessage", function()
  return rc.post("method.call/sendMessage", { message = rc.json.encode { msg = "method", method = "sendMessage", id = "1", params = { { rid = "R", msg = "9" } } } })
end)
try("method.call sendMessage, METHOD beside", function()
  return rc.post("method.call/x", { message = '{"msg":"method","method":"sendMessage","METHOD":"nothing","id":"3","params":[{"rid":"R","msg":"10"}]}' })
end)
assert(rc.post("method.call/getRoomRoles", { message = rc.json.encode { msg = "method", method = "getRoomRoles", id = "2", params = { "R" } } }))
`))
	args, err := EventArgs(L, "message", "created", []byte(`{"_id":"M","rid":"R","msg":"!ping","u":{"_id":"U","username":"u"}}`))
	require.NoError(t, err)
	L.SetGlobal("msg", args[0])
	require.NoError(t, L.DoString(`try("msg:reply", function() return msg:reply("6") end)`))
	results := L.GetGlobal("results").(*lua.LTable)
	require.Equal(t, 9, results.Len())
	for i := 1; i <= 9; i++ {
		r := results.RawGetInt(i).(*lua.LTable)
		assert.Equal(t, lua.LFalse, r.RawGetString("ok"), r.RawGetString("name").String())
		assert.Equal(t, "limit", r.RawGetString("type").String())
		assert.Contains(t, r.RawGetString("message").String(), "refused: the script posted 2 messages in the last 1m0s (the post limit)")
	}
	posts := 0
	for _, c := range f.calls {
		if c.Method == "chat.postMessage" || (c.Method == "post" && strings.EqualFold(c.Endpoint, "chat.sendMessage")) || strings.EqualFold(c.Endpoint, "chat.postMessage") {
			posts++
		}
	}
	assert.Equal(t, 2, posts, "the refused posts never reached the server")
	assert.Equal(t, 1, strings.Count(strings.Join(logs.lines(), "\n"), "post limit reached"), "one refusal logged")
}

// TestPostLimitCountsEveryTarget: rc.post of chat.postMessage to an array
// of rooms (channel or roomId) posts one message per room, so it takes as
// many from the limit, all or none: a call over the room left is refused
// whole, one over the whole limit is refused saying so.
func TestPostLimitCountsEveryTarget(t *testing.T) {
	t.Parallel()
	clk := &stepClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	f := newFake()
	L := lua.NewState()
	defer L.Close()
	m := f.module()
	m.Posts = NewPostLimit(5, time.Minute, clk.get)
	m.Open(L, nil)
	require.NoError(t, L.DoString(`
local many = {}
for i = 1, 50 do many[i] = "#general" end
local v, err = rc.post("chat.postMessage", { channel = many, text = "flood" })
assert(v == nil and err.error_type == "limit", "50 rooms at once")
assert(err.message:find("would post 50 messages (one per room), more than the post limit of 5", 1, true), err.message)
assert(rc.post("chat.postMessage", { channel = { "#a", "#b" }, text = "two" }))
assert(rc.post("chat.postMessage", { roomId = { "A", "B" }, text = "two more" }))
v, err = rc.post("Chat.PostMessage", { channel = { "#a", "#b" }, text = "over by one" })
assert(v == nil and err.error_type == "limit", "4 taken, 2 more refused")
assert(err.message:find("the next is allowed in 1m0s", 1, true), err.message)
assert(rc.post("chat.postMessage", { channel = "#a", text = "the fifth" }), "the refused call took nothing")
v, err = rc.chat.post_message { room_id = "R", text = "sixth" }
assert(v == nil and err.error_type == "limit")
`))
	posts := 0
	for _, c := range f.calls {
		if strings.EqualFold(c.Endpoint, "chat.postMessage") {
			posts++
		}
	}
	assert.Equal(t, 3, posts, "only the three allowed calls reached the server")
}

func TestPostCount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		endpoint, body string
		want           int
	}{
		{"chat.postMessage", `{"channel":"#a","text":"x"}`, 1},
		{"chat.postMessage", `{"channel":["#a","#b","#c"]}`, 3},
		{"/CHAT.postmessage/", `{"roomId":["A","B"]}`, 2},
		{"chat.postMessage", `{"channel":[],"roomId":"A"}`, 1}, // an empty array is taken: no post, counted as one
		{"chat.postMessage", `{"channel":"#a","roomId":["A","B","C"]}`, 1},
		{"chat.postMessage", `{"channel":"","roomId":["A","B","C"]}`, 3},
		{"chat.postMessage", `{"channel":"#a","channel":["#a","#b"]}`, 2}, // the last of a repeated key, as JSON.parse
		{"chat.postMessage", `{"Channel":["#a","#b"]}`, 1},
		{"chat.sendMessage", `{"message":{"rid":"A","msg":"x"}}`, 1},
		{"commands.run", `{"command":"me"}`, 1},
		{"subscriptions.read", `{"rid":"A"}`, 0},
		// The routes a trial found uncounted: an omnichannel visitor's
		// message, a file message by method or by its REST confirmation.
		{"livechat/message", `{"token":"v","rid":"A","msg":"x"}`, 1},
		{"method.call/sendFileMessage", `{"message":"{\"msg\":\"method\",\"method\":\"sendFileMessage\",\"params\":[\"A\"]}"}`, 1},
		{"rooms.mediaConfirm/A/F", `{"msg":"x"}`, 1},
		{"rooms.info", `{}`, 0},
	} {
		assert.Equal(t, tc.want, postCount(tc.endpoint, []byte(tc.body)), "%s %s", tc.endpoint, tc.body)
	}
}
