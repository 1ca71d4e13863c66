package rctest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The real router (RC-8x parseBodyParams) parses form-urlencoded bodies on
// every POST route, not only login: curl's -d and --data-urlencode send
// that, and --dev prints such a curl line.
func TestFormEncodedBodies(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	t.Run("chat.postMessage channel", func(t *testing.T) {
		s := startServer(t)
		alice := newClient(t, s.URL, AliceUserID, AliceToken)
		before, _ := s.Subscription(BotUsername, GeneralRoomID)
		r := alice.do("POST", "/api/v1/chat.postMessage", "channel=%23general&text=hello+%40rclua.bot", "Content-Type", form)
		require.Equal(t, 200, r.status, "body %s", r.body)
		m := r.json(t)
		assert.Equal(t, true, m["success"])
		assert.Equal(t, "#general", m["channel"])
		msgs := s.Messages(GeneralRoomID)
		last := msgs[len(msgs)-1]
		assert.Equal(t, "hello @rclua.bot", last.Text)
		assert.Equal(t, AliceUsername, last.Username)
		after, _ := s.Subscription(BotUsername, GeneralRoomID)
		assert.Equal(t, before.UserMentions+1, after.UserMentions, "the form-posted mention counts")
	})
	t.Run("chat.postMessage roomId", func(t *testing.T) {
		s := startServer(t)
		r := botClient(t, s).do("POST", "/api/v1/chat.postMessage", "roomId="+RandomRoomID+"&text=a%26b%3Dc", "Content-Type", form+"; charset=UTF-8")
		require.Equal(t, 200, r.status, "body %s", r.body)
		msgs := s.Messages(RandomRoomID)
		assert.Equal(t, "a&b=c", msgs[len(msgs)-1].Text)
	})
	t.Run("chat.postMessage without target", func(t *testing.T) {
		s := startServer(t)
		r := botClient(t, s).do("POST", "/api/v1/chat.postMessage", "text=hi", "Content-Type", form)
		assert.Equal(t, 400, r.status, "the form is validated like JSON: body %s", r.body)
	})
	t.Run("subscriptions.read roomId", func(t *testing.T) {
		s := startServer(t)
		r := botClient(t, s).do("POST", "/api/v1/subscriptions.read", "roomId=GENERAL", "Content-Type", form)
		require.Equal(t, 200, r.status, "body %s", r.body)
		after, _ := s.Subscription(BotUsername, GeneralRoomID)
		assert.Zero(t, after.Unread)
		assert.Zero(t, after.UserMentions)
	})
	t.Run("subscriptions.unread roomId", func(t *testing.T) {
		s := startServer(t)
		c := botClient(t, s)
		require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": RandomRoomID}).status)
		r := c.do("POST", "/api/v1/subscriptions.unread", "roomId="+RandomRoomID, "Content-Type", form)
		require.Equal(t, 200, r.status, "body %s", r.body)
		after, _ := s.Subscription(BotUsername, RandomRoomID)
		assert.True(t, after.Alert, "marked unread")
	})
}

// TestBodyWithoutJSONType: a JSON body sent without Content-Type
// application/json (curl -d without -H) is no JSON to the real router: the
// route finds none of its parameters, as the server's validation does.
func TestBodyWithoutJSONType(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	body := `{"roomId":"` + RandomRoomID + `","text":"hi"}`
	before := len(s.Messages(RandomRoomID))
	for _, ct := range []string{"", "text/plain", "multipart/form-data; boundary=x", "APPLICATION/JSON"} {
		r := c.do("POST", "/api/v1/chat.postMessage", body, "Content-Type", ct)
		assert.Equal(t, 400, r.status, "Content-Type %q: body %s", ct, r.body)
	}
	assert.Len(t, s.Messages(RandomRoomID), before, "nothing posted")
	r := c.do("POST", "/api/v1/chat.postMessage", body, "Content-Type", "application/json; charset=utf-8")
	assert.Equal(t, 200, r.status, "body %s", r.body)
	r = c.post("/api/v1/chat.postMessage", map[string]any{"channel": "", "roomId": RandomRoomID, "text": "empty channel"})
	assert.Equal(t, 200, r.status, "an empty channel gives way to roomId (channel || roomId): body %s", r.body)
	assert.Equal(t, "empty channel", s.Messages(RandomRoomID)[len(s.Messages(RandomRoomID))-1].Text)
}

// TestAliceToken: alice has a fixed demo personal access token from the
// start, like the bot.
func TestAliceToken(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := newClient(t, s.URL, AliceUserID, AliceToken).get("/api/v1/me")
	require.Equal(t, 200, r.status, "body %s", r.body)
	m := r.json(t)
	assert.Equal(t, AliceUserID, m["_id"])
	assert.Equal(t, AliceUsername, m["username"])
	assert.Equal(t, 401, newClient(t, s.URL, BotUserID, AliceToken).get("/api/v1/me").status, "the token is alice's only")
}
