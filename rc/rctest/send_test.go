package rctest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chat.sendMessage posts in one room by id, with the client's _id when it
// chooses one, in a thread with tmid; its failures post and log nothing.
func TestChatSendMessage(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	r := bot.post("/api/v1/chat.sendMessage", map[string]any{"message": map[string]any{"rid": RandomRoomID, "msg": "hello"}})
	require.Equal(t, 200, r.status, "body %s", r.body)
	got := r.json(t)["message"].(map[string]any)
	last := lastMessage(t, s, RandomRoomID)
	assert.Equal(t, last.ID, got["_id"])
	assert.Equal(t, "hello", last.Text)
	assert.Equal(t, BotUsername, last.Username)
	assert.NotContains(t, got, "groupable", "sendMessage keeps what the client sent; only chat.postMessage sets it")

	r = bot.post("/api/v1/chat.sendMessage", map[string]any{"message": map[string]any{"rid": RandomRoomID, "msg": "mine", "_id": "myOwnMessageId001", "tmid": last.ID}, "previewUrls": []any{}})
	require.Equal(t, 200, r.status, "body %s", r.body)
	reply := lastMessage(t, s, RandomRoomID)
	assert.Equal(t, "myOwnMessageId001", reply.ID, "the client's _id")
	assert.Equal(t, last.ID, reply.ThreadID)

	before := len(s.Messages(RandomRoomID))
	for _, body := range []map[string]any{
		{},
		{"message": "text"},
		{"message": map[string]any{"rid": RandomRoomID, "msg": "x"}, "channel": "#random"},
		{"message": map[string]any{"msg": "no rid"}},
		{"message": map[string]any{"rid": RandomRoomID, "msg": "x", "t": "uj"}},
		{"message": map[string]any{"rid": "noSuchRoom", "msg": "x"}},
		{"message": map[string]any{"rid": RandomRoomID, "msg": "again", "_id": "myOwnMessageId001"}},
		{"message": map[string]any{"rid": RandomRoomID, "msg": "x", "tmid": "noSuchMessage"}},
	} {
		r := bot.post("/api/v1/chat.sendMessage", body)
		assert.Equal(t, 400, r.status, "%v: %s", body, r.body)
		assert.Equal(t, false, r.json(t)["success"])
	}
	assert.Len(t, s.Messages(RandomRoomID), before, "no failure posts")
	acts := s.Actions(0)
	require.Len(t, acts, 2, "only the two sent messages are logged")
	assert.Equal(t, Action{Seq: 2, Kind: ActionPost, UserID: BotUserID, RoomID: RandomRoomID, MessageID: "myOwnMessageId001", Text: "mine", ThreadID: last.ID}, acts[1])
}
