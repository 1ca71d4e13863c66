package rctest

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lastMessage returns the newest message of room.
func lastMessage(t *testing.T, s *Server, room string) MessageInfo {
	t.Helper()
	msgs := s.Messages(room)
	require.NotEmpty(t, msgs, "messages of %s", room)
	return msgs[len(msgs)-1]
}

// messageByID returns the message id of room; ok is false when it is gone.
func messageByID(s *Server, room, id string) (MessageInfo, bool) {
	for _, m := range s.Messages(room) {
		if m.ID == id {
			return m, true
		}
	}
	return MessageInfo{}, false
}

// wantBody requires status and exactly body.
func wantBody(t *testing.T, r response, status int, body string) {
	t.Helper()
	assert.Equal(t, status, r.status, "status of %s", r.body)
	assert.JSONEq(t, body, string(r.body))
}

func TestChatReact(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	m, err := s.PostMessage(AliceUsername, GeneralRoomID, "ship it")
	require.NoError(t, err)
	reactions := func() map[string][]string {
		got, ok := messageByID(s, GeneralRoomID, m.ID)
		require.True(t, ok)
		return got.Reactions
	}
	react := func(body map[string]any) {
		t.Helper()
		wantBody(t, bot.post("/api/v1/chat.react", body), 200, `{"success":true}`)
	}

	react(map[string]any{"messageId": m.ID, "emoji": "thumbsup"})
	assert.Equal(t, map[string][]string{":thumbsup:": {BotUsername}}, reactions(), "no shouldReact toggles: on")
	react(map[string]any{"messageId": m.ID, "emoji": ":thumbsup:"})
	assert.Empty(t, reactions(), "toggled off; with colons the same emoji")
	react(map[string]any{"messageId": m.ID, "emoji": "eyes", "shouldReact": true})
	react(map[string]any{"messageId": m.ID, "emoji": "eyes", "shouldReact": true})
	assert.Equal(t, map[string][]string{":eyes:": {BotUsername}}, reactions(), "shouldReact true twice: once")
	react(map[string]any{"messageId": m.ID, "reaction": "tada", "shouldReact": "true"})
	assert.Equal(t, map[string][]string{":eyes:": {BotUsername}, ":tada:": {BotUsername}}, reactions(), "the reaction key; a coerced boolean")
	react(map[string]any{"messageId": m.ID, "emoji": "tada", "shouldReact": false})
	react(map[string]any{"messageId": m.ID, "emoji": "rocket", "shouldReact": false})
	assert.Equal(t, map[string][]string{":eyes:": {BotUsername}}, reactions(), "shouldReact false removes, or does nothing")
	react(map[string]any{"messageId": m.ID, "emoji": "eyes", "shouldReact": nil})
	assert.Empty(t, reactions(), "null toggles")
	react(map[string]any{"messageId": m.ID, "emoji": "rocket", "shouldReact": false})
	assert.Equal(t, map[string][]string{":rocket:": {BotUsername}}, reactions(),
		"the real server's quirk: shouldReact false on a message without any reaction adds it")

	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "emoji": "no_such_emoji"}), 400,
		`{"success":false,"error":"Invalid emoji provided. [error-not-allowed]","errorType":"error-not-allowed","details":{"method":"setReaction"}}`)
	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "emoji": ""}), 400,
		`{"success":false,"error":"The required \"emoji\" param is missing. [error-emoji-param-not-provided]","errorType":"error-emoji-param-not-provided"}`)
	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"messageId": "nope", "emoji": "eyes"}), 400,
		`{"success":false,"error":"The provided \"messageId\" does not match any existing message. [error-message-not-found]","errorType":"error-message-not-found"}`)
	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"emoji": "eyes"}), 400,
		`{"success":false,"error":"must have required property 'messageId'\n must have required property 'reaction'\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}`)
	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"messageId": "", "emoji": "eyes"}), 400,
		`{"success":false,"error":"must NOT have fewer than 1 characters\n must have required property 'reaction'\n must match exactly one schema in oneOf [invalid-params]","errorType":"invalid-params"}`)

	// A DM between alice and bob: the bot may not see it.
	alice := bot.as(AliceUserID, AliceToken)
	r := alice.post("/api/v1/chat.postMessage", map[string]any{"channel": "@bob", "text": "psst"})
	require.Equal(t, 200, r.status, "%s", r.body)
	dm := r.json(t)["message"].(map[string]any)["_id"].(string)
	wantBody(t, bot.post("/api/v1/chat.react", map[string]any{"messageId": dm, "emoji": "eyes"}), 400,
		`{"success":false,"error":"Not Authorized [not-authorized]","errorType":"not-authorized","details":{"method":"setReaction"}}`)
	assert.Equal(t, 401, bot.as("", "").post("/api/v1/chat.react", map[string]any{"messageId": m.ID, "emoji": "eyes"}).status)
}

func TestChatUpdate(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	bot := botClient(t, s)
	own := bot.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": "draft"})
	require.Equal(t, 200, own.status)
	id := own.json(t)["message"].(map[string]any)["_id"].(string)

	clk.Add(time.Minute)
	r := bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": id, "text": "final, cc @alice"})
	require.Equal(t, 200, r.status, "%s", r.body)
	body := r.json(t)
	assert.Len(t, body, 2, "{message, success}")
	msg := body["message"].(map[string]any)
	assert.Equal(t, "final, cc @alice", msg["msg"])
	assert.Equal(t, clk.Now().Format(timeLayout), msg["editedAt"])
	assert.Equal(t, map[string]any{"_id": BotUserID, "username": BotUsername, "name": BotName}, msg["editedBy"])
	assert.Equal(t, clk.Now().Format(timeLayout), msg["_updatedAt"])
	require.Len(t, msg["mentions"], 1, "mentions parsed again")
	assert.Equal(t, AliceUserID, msg["mentions"].([]any)[0].(map[string]any)["_id"])
	stored, ok := messageByID(s, GeneralRoomID, id)
	require.True(t, ok)
	assert.Equal(t, "final, cc @alice", stored.Text)
	assert.Equal(t, clk.Now(), stored.EditedAt)

	clk.Add(time.Minute)
	r = bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": id, "text": "final, cc @alice"})
	require.Equal(t, 200, r.status)
	assert.Equal(t, clk.Now().Add(-time.Minute).Format(timeLayout), r.json(t)["message"].(map[string]any)["editedAt"],
		"the same text changes nothing")

	alices, err := s.PostMessage(AliceUsername, GeneralRoomID, "mine")
	require.NoError(t, err)
	wantBody(t, bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": alices.ID, "text": "hacked"}), 400,
		`{"success":false,"error":"Message editing not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed","details":{"method":"updateMessage","action":"Message_editing"}}`)
	admin := bot.login(AdminUsername, AdminPassword)
	r = admin.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": alices.ID, "text": "moderated"})
	require.Equal(t, 200, r.status, "an admin edits anyone's message: %s", r.body)

	wantBody(t, bot.post("/api/v1/chat.update", map[string]any{"roomId": RandomRoomID, "msgId": id, "text": "x"}), 400,
		`{"success":false,"error":"The room id provided does not match where the message is from."}`)
	wantBody(t, bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": "nope", "text": "x"}), 400,
		`{"success":false,"error":"No message found with the id of \"nope\"."}`)
	wantBody(t, bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": id}), 400,
		`{"success":false,"errorType":"invalid-params","error":"must have required property 'text'"}`)
	wantBody(t, bot.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": id, "text": "x", "tmid": "y"}), 400,
		`{"success":false,"errorType":"invalid-params","error":"must NOT have additional properties"}`)
}

func TestChatDelete(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	bot := botClient(t, s)
	r := bot.post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "oops"})
	require.Equal(t, 200, r.status)
	id := r.json(t)["message"].(map[string]any)["_id"].(string)

	clk.Add(time.Second)
	r = bot.post("/api/v1/chat.delete", map[string]any{"roomId": RandomRoomID, "msgId": id})
	wantBody(t, r, 200, `{"_id":"`+id+`","ts":"`+strconv.FormatInt(clk.Now().UnixMilli(), 10)+`",`+
		`"message":{"_id":"`+id+`","rid":"`+RandomRoomID+`","u":{"_id":"`+BotUserID+`","username":"`+BotUsername+`","name":"`+BotName+`"}},"success":true}`)
	_, ok := messageByID(s, RandomRoomID, id)
	assert.False(t, ok, "deleted")
	wantBody(t, bot.post("/api/v1/chat.delete", map[string]any{"roomId": RandomRoomID, "msgId": id}), 400,
		`{"success":false,"error":"No message found with the id of \"`+id+`\"."}`)

	alices := lastMessage(t, s, RandomRoomID)
	require.Equal(t, AliceUsername, alices.Username)
	wantBody(t, bot.post("/api/v1/chat.delete", map[string]any{"roomId": RandomRoomID, "msgId": alices.ID}), 400,
		`{"success":false,"error":"Not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed"}`)
	wantBody(t, bot.post("/api/v1/chat.delete", map[string]any{"roomId": GeneralRoomID, "msgId": alices.ID}), 400,
		`{"success":false,"error":"The room id provided does not match where the message is from."}`)
	wantBody(t, bot.post("/api/v1/chat.delete", map[string]any{"roomId": RandomRoomID, "msgId": alices.ID, "asUser": true}), 400,
		`{"success":false,"error":"Unauthorized. You must have the permission \"force-delete-message\" to delete other's message as them."}`)
	wantBody(t, bot.post("/api/v1/chat.delete", map[string]any{"msgId": alices.ID}), 400,
		`{"success":false,"error":"must have required property 'roomId' [invalid-params]","errorType":"invalid-params"}`)
	_, ok = messageByID(s, RandomRoomID, alices.ID)
	assert.True(t, ok, "still there")

	// The seeded thread in #general: the bot's message with one reply.
	var root, reply MessageInfo
	for _, m := range s.Messages(GeneralRoomID) {
		if m.ThreadID != "" {
			reply = m
		}
	}
	root, ok = messageByID(s, GeneralRoomID, reply.ThreadID)
	require.True(t, ok)
	require.Equal(t, BotUsername, root.Username)
	r = bot.post("/api/v1/chat.delete", map[string]any{"roomId": GeneralRoomID, "msgId": root.ID})
	require.Equal(t, 200, r.status, "%s", r.body)
	kept, ok := messageByID(s, GeneralRoomID, root.ID)
	require.True(t, ok, "a thread's first message with replies stays as a marker")
	assert.Equal(t, "rm", kept.Type)
	assert.Empty(t, kept.Text)

	admin := bot.login(AdminUsername, AdminPassword)
	r = admin.post("/api/v1/chat.delete", map[string]any{"roomId": GeneralRoomID, "msgId": reply.ID})
	require.Equal(t, 200, r.status, "an admin deletes anyone's message: %s", r.body)
	_, ok = messageByID(s, GeneralRoomID, reply.ID)
	assert.False(t, ok)
	r = admin.post("/api/v1/chat.delete", map[string]any{"roomId": GeneralRoomID, "msgId": root.ID})
	require.Equal(t, 200, r.status, "%s", r.body)
	_, ok = messageByID(s, GeneralRoomID, root.ID)
	assert.False(t, ok, "without its last reply the marker goes too")
}

func TestRoomsInfo(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	info := func(query string) map[string]any {
		t.Helper()
		r := bot.get("/api/v1/rooms.info?" + query)
		require.Equal(t, 200, r.status, "%s: %s", query, r.body)
		return r.json(t)
	}

	g := info("roomId=" + GeneralRoomID)
	assert.Len(t, g, 2, "{room, success}")
	room := g["room"].(map[string]any)
	assert.Equal(t, GeneralRoomID, room["_id"])
	assert.Equal(t, "c", room["t"])
	assert.Equal(t, "general", room["name"])
	assert.Equal(t, true, room["default"])
	assert.Equal(t, float64(6), room["usersCount"])
	assert.Equal(t, float64(len(s.Messages(GeneralRoomID))), room["msgs"])
	assert.Equal(t, AdminUserID, room["u"].(map[string]any)["_id"], "the owner")
	assert.NotEmpty(t, room["lm"])

	ops := info("roomName=ops")["room"].(map[string]any)
	assert.Equal(t, OpsRoomID, ops["_id"])
	assert.Equal(t, "p", ops["t"])
	assert.Equal(t, OpsRoomID, info("roomId=" + OpsRoomID + "&roomName=general")["room"].(map[string]any)["_id"], "roomId wins")

	dm := info("roomId=" + DMAliceRoomID)["room"].(map[string]any)
	assert.Equal(t, "d", dm["t"])
	assert.NotContains(t, dm, "name")
	assert.ElementsMatch(t, []any{AliceUserID, BotUserID}, dm["uids"])
	assert.ElementsMatch(t, []any{AliceUsername, BotUsername}, dm["usernames"])

	disc := info("roomId=" + DiscussionRoomID)
	assert.Equal(t, GeneralRoomID, disc["room"].(map[string]any)["prid"])
	assert.Equal(t, map[string]any{"_id": GeneralRoomID, "name": "general", "fname": "general", "t": "c"}, disc["parent"])

	assert.Equal(t, NoSubRoomID, info("roomName=nosub")["room"].(map[string]any)["_id"], "a public channel without the bot")

	notFound := `{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]","errorType":"error-room-not-found"}`
	wantBody(t, bot.get("/api/v1/rooms.info?roomName=nope"), 400, notFound)
	wantBody(t, bot.get("/api/v1/rooms.info?roomId=&roomName=general"), 400, notFound)
	wantBody(t, bot.get("/api/v1/rooms.info?roomName=%23general"), 400, notFound)
	missing := `{"success":false,"error":"The parameter \"roomId\" or \"roomName\" is required [error-roomid-param-not-provided]","errorType":"error-roomid-param-not-provided"}`
	wantBody(t, bot.get("/api/v1/rooms.info"), 400, missing)
	wantBody(t, bot.get("/api/v1/rooms.info?roomId=&roomName="), 400, missing)

	alice := bot.as(AliceUserID, AliceToken)
	wantBody(t, alice.get("/api/v1/rooms.info?roomId="+OpsRoomID), 400,
		`{"success":false,"error":"not-allowed","errorType":"Not Allowed"}`)
	assert.Equal(t, 401, bot.as("", "").get("/api/v1/rooms.info?roomId="+GeneralRoomID).status)
}
