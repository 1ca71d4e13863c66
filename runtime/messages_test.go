package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime/source"
)

// Message events through the real host: a test source stands in for the
// realtime source (which will emit the same events), feeding messages as
// rctest stored them; the scripts' replies and reactions go to rctest
// through the real client.

// msgHost is a host whose scripts know the bot and call rctest, fed by a
// test source of message events.
type msgHost struct {
	*testHost
	s   *rctest.Server
	src *testSource
}

func startMsgHost(t *testing.T, s *rctest.Server, files map[string]string) *msgHost {
	t.Helper()
	src := newTestSource(source.KindMessage)
	m := luabind.FromClient(botClient(t, s), zerolog.Nop())
	m.Bot = rc.UserRef{ID: rctest.BotUserID, Username: rctest.BotUsername}
	th := startHostDeps(t, Config{}, Deps{Module: m, Sources: []source.Source{src}}, files)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the message source runs")
	return &msgHost{testHost: th, s: s, src: src}
}

// userClient is a client acting as username on s.
func userClient(t *testing.T, s *rctest.Server, username string) *rc.Client {
	t.Helper()
	uid, token := s.CreateToken(username)
	c, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	return c
}

// say posts text as c (in room, "@user" for a DM, or in the thread
// tmid) and delivers the stored message as a new message event; it
// returns the message.
func (mh *msgHost) say(c *rc.Client, room, tmid, text string) *rc.Message {
	mh.t.Helper()
	pm := &rc.PostMessage{RoomID: room, Text: text, ThreadID: tmid}
	if strings.HasPrefix(room, "@") {
		pm.RoomID, pm.Channel = "", room
	}
	m, err := c.Chat.PostMessage(context.Background(), pm)
	require.NoError(mh.t, err)
	mh.deliver(source.ActionCreated, m)
	return m
}

func (mh *msgHost) deliver(action string, m *rc.Message) {
	mh.t.Helper()
	require.True(mh.t, mh.src.send(source.Event{Kind: source.KindMessage, Action: action, ID: m.ID, Raw: m.Raw}), "event delivered")
}

// botReplies returns the bot's messages in room (texts and thread ids),
// oldest first.
func botReplies(s *rctest.Server, room string) []rctest.MessageInfo {
	var out []rctest.MessageInfo
	for _, m := range s.Messages(room) {
		if m.Username == rctest.BotUsername {
			out = append(out, m)
		}
	}
	return out
}

// waitReplies waits until the bot has n messages in room and returns them.
func (mh *msgHost) waitReplies(room string, n int) []rctest.MessageInfo {
	mh.t.Helper()
	mh.logs.eventually(mh.t, waitFor, func() bool { return len(botReplies(mh.s, room)) >= n }, "the bot's replies")
	return botReplies(mh.s, room)
}

func TestExamplePing(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	content, err := os.ReadFile(filepath.Join(examplesDir, "ping.lua"))
	require.NoError(t, err)
	mh := startMsgHost(t, s, map[string]string{"ping.lua": string(content)})
	st, _ := mh.status("ping")
	require.Equal(t, StateRunning, st.State, "loads: %s", st.LastError)
	alice, bob := userClient(t, s, rctest.AliceUsername), userClient(t, s, rctest.BobUsername)
	room := rctest.RandomRoomID
	base := len(botReplies(s, room))

	ping := mh.say(alice, room, "", "!ping")
	got := mh.waitReplies(room, base+1)
	assert.Equal(t, "pong", got[base].Text)
	assert.Equal(t, ping.ID, got[base].ThreadID, "pong in a thread started on the !ping")

	mh.say(bob, room, ping.ID, "!ping")
	got = mh.waitReplies(room, base+2)
	assert.Equal(t, "pong", got[base+1].Text)
	assert.Equal(t, ping.ID, got[base+1].ThreadID, "a !ping in a thread: pong in that thread")

	req := mh.say(bob, room, "", "@"+rctest.BotUsername+" deploy staging v1.4.2")
	got = mh.waitReplies(room, base+3)
	assert.Equal(t, "Deploying v1.4.2 to staging, as asked by @bob.", got[base+2].Text)
	assert.Equal(t, req.ID, got[base+2].ThreadID)
	stored, ok := findMessage(s, room, req.ID)
	require.True(t, ok)
	assert.Equal(t, map[string][]string{":rocket:": {rctest.BotUsername}}, stored.Reactions, "the request gets a reaction")

	mh.say(alice, room, "", "@"+rctest.BotUsername+": deploy moon")
	got = mh.waitReplies(room, base+4)
	assert.Equal(t, "Usage: deploy <production|staging> [version]", got[base+3].Text)

	// Not for the script: an edit of the !ping, someone else's mention, a
	// deploy not addressed to the bot, the bot's own !ping. A DM deploy
	// then is a barrier: once answered, the others were handled.
	edited, err := alice.Chat.Update(context.Background(), &rc.UpdateMessage{RoomID: room, MessageID: ping.ID, Text: " !ping "})
	require.NoError(t, err)
	mh.deliver(source.ActionUpdated, edited)
	mh.say(alice, room, "", "@alice deploy staging")
	mh.say(alice, room, "", "deploy staging")
	mh.say(botClient(t, s), room, "", "!ping")
	dm := mh.say(bob, "@"+rctest.BotUsername, "", "deploy production").RoomID
	dmGot := mh.waitReplies(dm, 1)
	assert.Equal(t, "Deploying latest to production, as asked by @bob.", dmGot[0].Text, "a DM is addressed to the bot")
	assert.Len(t, botReplies(s, room), base+5, "only the bot's own !ping was added: %v", botReplies(s, room))
	assert.Equal(t, "!ping", botReplies(s, room)[base+4].Text)
}

// findMessage returns message id of room as rctest stored it.
func findMessage(s *rctest.Server, room, id string) (rctest.MessageInfo, bool) {
	for _, m := range s.Messages(room) {
		if m.ID == id {
			return m, true
		}
	}
	return rctest.MessageInfo{}, false
}

// TestTriggerHandlesStop: a handle stops its trigger from inside its own
// handler and from another one, for events and timers; a timer stopped at
// the top level never ticks. Each stopped trigger is checked against one
// still running, handled after it: once that one has seen the later
// events (or ticks), the stopped one would have too.
func TestTriggerHandlesStop(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	mh := startMsgHost(t, s, map[string]string{"h.lua": `
local na, t1 = 0, 0
local a
a = rc.on("message", function(msg)
  na = na + 1
  rc.log.info("a", {text = msg.msg})
  if na == 2 then a:stop() end
end)
local b = rc.hear(".", function(msg) rc.log.info("b", {text = msg.msg}) end)
rc.hear("^stop b$", function() b:stop(); b:stop() end)
rc.on("message", function(msg) rc.log.info("seen", {text = msg.msg}) end)
local first
first = rc.every(0.01, function()
  t1 = t1 + 1
  rc.log.info("tick1")
  if t1 == 3 then first:stop() end
end)
rc.every(0.01, function() rc.log.info("tick2") end)
local never = rc.every(0.01, function() rc.log.info("tick3") end)
never:stop()
`})
	alice := userClient(t, s, rctest.AliceUsername)
	texts := []string{"one", "two", "stop b", "four", "five"}
	for _, text := range texts {
		mh.say(alice, rctest.RandomRoomID, "", text)
	}
	mh.logs.eventually(t, waitFor, func() bool { return mh.logs.count("seen", "text", "five") == 1 }, "every message seen")
	var a, b []string
	for _, text := range texts {
		if mh.logs.count("a", "text", text) == 1 {
			a = append(a, text)
		}
		if mh.logs.count("b", "text", text) == 1 {
			b = append(b, text)
		}
	}
	assert.Equal(t, []string{"one", "two"}, a, "stopped by itself in its second call")
	assert.Equal(t, []string{"one", "two", "stop b"}, b, "stopped by a later handler of the third message")

	mh.logs.eventually(t, waitFor, func() bool { return mh.logs.count("tick2") >= 10 }, "the running timer ticks on")
	assert.Equal(t, 3, mh.logs.count("tick1"), "stopped in its third tick")
	assert.Zero(t, mh.logs.count("tick3"), "stopped at the top level")
	st, _ := mh.status("h")
	assert.Zero(t, st.Errors, "a second stop is harmless")
}

// TestMessagePatternErrorsFailTheLoad: a bad RE2 expression or Lua pattern
// fails the load (what rclua check reports), with the script's file:line
// and the reason.
func TestMessagePatternErrorsFailTheLoad(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]string{
		`rc.respond(rc.re.compile("deploy (\\w+"), function() end)`: "t.lua:2: rc.re.compile: bad expression \"deploy (\\\\w+\": missing closing ): `deploy (\\w+`",
		`local re = rc.re.compile("a{2,1}")`:                        "t.lua:2: rc.re.compile: bad expression \"a{2,1}\": invalid repeat count: `{2,1}`",
		`rc.hear("%", function() end)`:                              "t.lua:2: bad argument #1 to rc.hear (bad pattern \"%\": malformed pattern (ends with '%'))",
	} {
		err := runSnippet(t, "local x = 1\n"+code, time.Second, false)
		require.Error(t, err, code)
		assert.Equal(t, want, err.Error(), code)
	}
}
