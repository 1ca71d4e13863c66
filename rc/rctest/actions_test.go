package rctest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The action log holds what requests did, whichever spelling they used,
// and nothing for failed requests or the helpers.
func TestActions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	alice := newClient(t, s.URL, AliceUserID, AliceToken)
	ok := func(r response) {
		t.Helper()
		require.Equal(t, 200, r.status, "body %s", r.body)
	}
	m, err := s.PostMessage(AliceUsername, GeneralRoomID, "from the helper")
	require.NoError(t, err)
	assert.Empty(t, s.Actions(0), "a helper logs nothing")

	ok(bot.post("/api/v1/chat.postMessage", map[string]any{"channel": "#general", "text": "a"}))
	ok(bot.do("POST", "/api/v1/chat.postMessage", "roomId="+RandomRoomID+"&text=b", "Content-Type", "application/x-www-form-urlencoded"))
	ok(bot.post("/api/v1/chat.postMessage", map[string]any{"channel": []any{"@" + AliceUsername, "#general"}, "text": "c", "tmid": ""}))
	ok(bot.post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "emoji": "eyes"}))
	ok(bot.post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "reaction": ":eyes:"}))
	ok(bot.post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "emoji": "eyes", "shouldReact": false}))
	ok(bot.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID}))
	ok(bot.post("/api/v1/subscriptions.read", map[string]any{"roomId": RandomRoomID, "readThreads": true}))
	ok(bot.post("/api/v1/subscriptions.unread", map[string]any{"roomId": GeneralRoomID}))
	ok(bot.post("/api/v1/subscriptions.unread", map[string]any{"firstUnreadMessage": map[string]any{"_id": m.ID}}))
	ok(alice.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID}))

	// Failed requests: none logged.
	for _, f := range []struct {
		endpoint string
		body     map[string]any
	}{
		{"chat.postMessage", map[string]any{"channel": "#nowhere", "text": "x"}},
		{"chat.postMessage", map[string]any{"text": "no target"}},
		{"chat.react", map[string]any{"messageId": "nope", "emoji": "eyes"}},
		{"chat.react", map[string]any{"messageId": m.ID, "emoji": "not-an-emoji"}},
		{"subscriptions.read", map[string]any{"rid": NoSubRoomID}},
		{"subscriptions.read", map[string]any{"rid": GeneralRoomID, "roomId": GeneralRoomID}},
		{"subscriptions.unread", map[string]any{"roomId": EmptyRoomID}},
	} {
		r := bot.post("/api/v1/"+f.endpoint, f.body)
		require.NotEqual(t, 200, r.status, "%s %v: %s", f.endpoint, f.body, r.body)
	}
	assert.NotEqual(t, 200, bot.as(BotUserID, "wrong").post("/api/v1/chat.postMessage", map[string]any{"channel": "#general", "text": "x"}).status)

	got := s.Actions(0)
	msgs := func(room string) MessageInfo { return lastMessage(t, s, room) }
	dm := msgs(DMAliceRoomID)
	require.Len(t, got, 12)
	for i := range got {
		assert.Equal(t, uint64(i+1), got[i].Seq)
		got[i].Seq = 0
		if got[i].Kind == ActionPost {
			assert.NotEmpty(t, got[i].MessageID)
			got[i].MessageID = ""
		}
	}
	assert.Equal(t, []Action{
		{Kind: ActionPost, UserID: BotUserID, RoomID: GeneralRoomID, Text: "a"},
		{Kind: ActionPost, UserID: BotUserID, RoomID: RandomRoomID, Text: "b"},
		{Kind: ActionPost, UserID: BotUserID, RoomID: dm.RoomID, Text: "c"},
		{Kind: ActionPost, UserID: BotUserID, RoomID: GeneralRoomID, Text: "c"},
		{Kind: ActionReact, UserID: BotUserID, RoomID: GeneralRoomID, MessageID: m.ID, Emoji: ":eyes:"},
		{Kind: ActionUnreact, UserID: BotUserID, RoomID: GeneralRoomID, MessageID: m.ID, Emoji: ":eyes:"},
		{Kind: ActionReact, UserID: BotUserID, RoomID: GeneralRoomID, MessageID: m.ID, Emoji: ":eyes:"}, // false on a message without reactions adds
		{Kind: ActionRead, UserID: BotUserID, RoomID: GeneralRoomID},
		{Kind: ActionRead, UserID: BotUserID, RoomID: RandomRoomID, ReadThreads: true},
		{Kind: ActionUnread, UserID: BotUserID, RoomID: GeneralRoomID},
		{Kind: ActionUnread, UserID: BotUserID, MessageID: m.ID},
		{Kind: ActionRead, UserID: AliceUserID, RoomID: GeneralRoomID},
	}, got)
	assert.Equal(t, got[11:], func() []Action {
		a := s.Actions(11)
		a[0].Seq = 0
		return a
	}(), "Actions(after) starts after it")
	assert.Empty(t, s.Actions(12))
}

// The log keeps the latest actions when it is full, numbered on.
func TestActionsKeepTheLatest(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.mu.Lock()
	for range 2*maxActionLog + 5 {
		s.logAction(Action{Kind: ActionRead})
	}
	s.mu.Unlock()
	all := s.Actions(0)
	require.GreaterOrEqual(t, len(all), maxActionLog)
	assert.Equal(t, uint64(2*maxActionLog+5), all[len(all)-1].Seq)
	assert.Equal(t, all[len(all)-3:], s.Actions(2*maxActionLog+2))
}
