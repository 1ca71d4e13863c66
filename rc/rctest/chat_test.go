package rctest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChatPostMessageTargets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		body        map[string]any
		wantRID     string
		wantChannel string
	}{
		{"roomId", map[string]any{"roomId": GeneralRoomID, "text": "hi"}, GeneralRoomID, GeneralRoomID},
		{"#channel", map[string]any{"channel": "#general", "text": "hi"}, GeneralRoomID, "#general"},
		{"#private group", map[string]any{"channel": "#ops", "text": "hi"}, OpsRoomID, "#ops"},
		{"channel room id", map[string]any{"channel": RandomRoomID, "text": "hi"}, RandomRoomID, RandomRoomID},
		{"@user existing dm", map[string]any{"channel": "@alice", "text": "hi"}, DMAliceRoomID, "@alice"},
		{"@user new dm", map[string]any{"channel": "@carol", "text": "hi"}, BotUserID + CarolUserID, "@carol"},
		{"array", map[string]any{"channel": []any{"#random", "#general"}, "text": "hi"}, RandomRoomID, "#random"}, // the first target's answer
		{"thread reply", map[string]any{"roomId": GeneralRoomID, "text": "in thread", "tmid": ""}, GeneralRoomID, GeneralRoomID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			s := startServer(t, WithClock(clk.Now))
			c := botClient(t, s)
			if _, ok := tc.body["tmid"]; ok {
				tc.body["tmid"] = s.Messages(GeneralRoomID)[0].ID
			}
			clk.Add(time.Second)
			r := c.post("/api/v1/chat.postMessage", tc.body)
			require.Equal(t, 200, r.status, "body %s", r.body)
			m := r.json(t)
			assert.Len(t, m, 4, "{ts, channel, message, success}")
			assert.Equal(t, true, m["success"])
			assert.Equal(t, float64(clk.Now().UnixMilli()), m["ts"], "ts is epoch ms")
			assert.Equal(t, tc.wantChannel, m["channel"])
			msg := m["message"].(map[string]any)
			assert.Equal(t, tc.wantRID, msg["rid"])
			assert.Equal(t, tc.body["text"], msg["msg"])
			assert.Equal(t, clk.Now().Format(timeLayout), msg["ts"])
			assert.Equal(t, BotUserID, msg["u"].(map[string]any)["_id"])
			assert.Len(t, msg["_id"], 17)
			if tmid, ok := tc.body["tmid"]; ok {
				assert.Equal(t, tmid, msg["tmid"])
			}
			stored := s.Messages(tc.wantRID)
			require.NotEmpty(t, stored)
			assert.Equal(t, msg["_id"], stored[len(stored)-1].ID)
			assert.Equal(t, BotUsername, stored[len(stored)-1].Username)
			if tc.name == "array" {
				others := s.Messages(GeneralRoomID)
				assert.Equal(t, "hi", others[len(others)-1].Text, "every target gets the message")
			}
		})
	}
}

func TestChatPostMessageNewDMCreatesSubscriptions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	rid := BotUserID + CarolUserID
	_, ok := s.Subscription(CarolUsername, rid)
	require.False(t, ok)
	r := c.post("/api/v1/chat.postMessage", map[string]any{"channel": "@carol", "text": "hello carol"})
	require.Equal(t, 200, r.status, "body %s", r.body)
	carol, ok := s.Subscription(CarolUsername, rid)
	require.True(t, ok)
	assert.Equal(t, "d", carol.RoomType)
	assert.Equal(t, BotUsername, carol.Name)
	assert.Equal(t, 1, carol.Unread, "every DM message counts in unread")
	assert.Zero(t, carol.UserMentions, "a plain DM message is no mention")
	assert.True(t, carol.Alert)
	bot, ok := s.Subscription(BotUsername, rid)
	require.True(t, ok)
	assert.Equal(t, CarolUsername, bot.Name)
	assert.Zero(t, bot.Unread)
	// The bot sees the new subscription in subscriptions.get.
	assert.Contains(t, subsByRoom(t, getSubs(t, c, "")), rid)
}

// TestChatPostMessageUpdatesOtherMembers: a message through the route,
// into a room every member has read, under the default Unread_Count: each
// member's exact counters, alert, open and _updatedAt, and the sender's.
func TestChatPostMessageUpdatesOtherMembers(t *testing.T) {
	t.Parallel()
	members := []string{BotUsername, BobUsername, CarolUsername, AdminUsername, RocketCatUsername}
	type counts struct{ unread, user, group int }
	cases := []struct {
		name string
		text string
		want map[string]counts // members not listed: all zero
	}{
		{"plain", "hello everyone", nil},
		{"@bot", "@" + BotUsername + ", please help", map[string]counts{BotUsername: {1, 1, 0}}},
		{"@bob and @carol", "@bob @carol: look", map[string]counts{BobUsername: {1, 1, 0}, CarolUsername: {1, 1, 0}}},
		{"@all", "@all deploy now", map[string]counts{BotUsername: {1, 0, 1}, BobUsername: {1, 0, 1},
			CarolUsername: {1, 0, 1}, AdminUsername: {1, 0, 1}, RocketCatUsername: {1, 0, 1}}},
		{"@here", "ping @here", map[string]counts{BotUsername: {1, 0, 1}, BobUsername: {1, 0, 1},
			CarolUsername: {1, 0, 1}, AdminUsername: {1, 0, 1}, RocketCatUsername: {1, 0, 1}}},
		{"a user mention has priority over @all", "@bob and @all", map[string]counts{BobUsername: {1, 1, 0}}},
		{"email is not a mention", "mail bob@rclua.test", nil},
		{"after a comma", "hey,@bob", nil},
		{"in parentheses", "(@bob) said so", nil},
		{"after >", ">@bob", nil},
		{"a trailing dot is part of the name", "thanks @bob.", nil},
		{"@all with a dot", "deploy @all.", nil},
		{"case", "@BOB look", nil},
		{"another server's user", "@bob@matrix.org @carol:matrix.org", nil},
		{"after a newline and a no-break space", "look\n@bob and\u00a0@carol!", map[string]counts{BobUsername: {1, 1, 0}, CarolUsername: {1, 1, 0}}},
		{"punctuation after the name", "@bob, @carol?", map[string]counts{BobUsername: {1, 1, 0}, CarolUsername: {1, 1, 0}}},
		{"unknown user", "@nobody hi", nil},
		{"own mention", "@alice note to self", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			s := startServer(t, WithClock(clk.Now))
			bot := botClient(t, s)
			for _, u := range append(members, AliceUsername) {
				r := bot.as(s.CreateToken(u)).post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID, "readThreads": true})
				require.Equal(t, 200, r.status, "%s reads general: %s", u, r.body)
			}
			alice := bot.as(s.CreateToken(AliceUsername))
			clk.Add(time.Second)
			r := alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": tc.text})
			require.Equal(t, 200, r.status, "body %s", r.body)
			for _, u := range members {
				after, _ := s.Subscription(u, GeneralRoomID)
				w := tc.want[u]
				assert.Equal(t, w, counts{after.Unread, after.UserMentions, after.GroupMentions}, "%s unread, userMentions, groupMentions", u)
				assert.True(t, after.Alert, "%s alert: every message sets it", u)
				assert.True(t, after.Open, "%s open", u)
				assert.Equal(t, clk.Now(), after.UpdatedAt, "%s _updatedAt: alert was not set yet", u)
			}
			sender, _ := s.Subscription(AliceUsername, GeneralRoomID)
			assert.Equal(t, counts{}, counts{sender.Unread, sender.UserMentions, sender.GroupMentions}, "the sender's counters")
			assert.False(t, sender.Alert, "the sender's own message marks the room read for the sender")
			assert.Equal(t, clk.Now(), sender.LS, "the sender's ls")
			assert.Equal(t, clk.Now(), sender.UpdatedAt, "the sender's _updatedAt")
		})
	}
	t.Run("mentions in the message", func(t *testing.T) {
		t.Parallel()
		s := startServer(t)
		alice := botClient(t, s).as(s.CreateToken(AliceUsername))
		r := alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": "@bob and @all"})
		require.Equal(t, 200, r.status)
		mentions := r.json(t)["message"].(map[string]any)["mentions"].([]any)
		require.Len(t, mentions, 2)
		assert.Equal(t, BobUserID, mentions[0].(map[string]any)["_id"])
		assert.Equal(t, "all", mentions[1].(map[string]any)["_id"])
	})
}

func TestChatPostMessageThreadReply(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := botClient(t, s).as(s.CreateToken(AliceUsername))
	root, err := s.PostMessage(BobUsername, RandomRoomID, "thread root")
	require.NoError(t, err)
	r := alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "reply @" + BotUsername, "tmid": root.ID})
	require.Equal(t, 200, r.status, "body %s", r.body)
	sub, _ := s.Subscription(BotUsername, RandomRoomID)
	assert.Equal(t, []string{root.ID}, sub.ThreadUnread)
	assert.Equal(t, []string{root.ID}, sub.ThreadUser)
	assert.Empty(t, sub.ThreadGroup)
	msgs := s.Messages(RandomRoomID)
	assert.Equal(t, root.ID, msgs[len(msgs)-1].ThreadID)

	r = alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "x", "tmid": "nope"})
	assert.Equal(t, 400, r.status)
	assert.Equal(t, false, r.json(t)["success"])
}

func TestChatPostMessageFields(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithBotRoles("bot"))
	c := botClient(t, s)
	body := map[string]any{
		"roomId": GeneralRoomID, "text": "report", "alias": "Reporter", "emoji": ":robot:", "avatar": "https://x.test/a.png",
		"attachments": []any{map[string]any{"title": "Build", "color": "#00ff00", "fields": []any{map[string]any{"short": true, "title": "status", "value": "ok"}}}},
		"parseUrls":   false,
	}
	r := c.post("/api/v1/chat.postMessage", body)
	require.Equal(t, 200, r.status, "body %s", r.body)
	msg := r.json(t)["message"].(map[string]any)
	assert.Equal(t, "Reporter", msg["alias"])
	assert.Equal(t, ":robot:", msg["emoji"])
	assert.Equal(t, "https://x.test/a.png", msg["avatar"])
	assert.Equal(t, body["attachments"], msg["attachments"])
	assert.NotContains(t, msg, "bot", "bot comes from integrations and apps, never from the sender's roles")
	assert.Equal(t, false, msg["groupable"], "processWebhookMessage's default")
	msgs := s.Messages(GeneralRoomID)
	assert.Equal(t, "Reporter", msgs[len(msgs)-1].Alias)
}

func TestChatPostMessageErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	cases := []struct {
		name       string
		body       any
		wantStatus int
		wantBody   string
	}{
		{"no target", map[string]any{"text": "x"}, 400,
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'roomId'\nmust have required property 'channel'\nmust match a schema in anyOf"}`},
		{"an empty array of targets", map[string]any{"channel": []any{}, "text": "x"}, 400, `{"success":false,"error":"unknown-error"}`},
		{"unknown #channel", map[string]any{"channel": "#nope", "text": "x"}, 400,
			`{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}`},
		{"unknown @user", map[string]any{"channel": "@nobody", "text": "x"}, 400,
			`{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}`},
		{"unknown roomId", map[string]any{"roomId": "nope", "text": "x"}, 400,
			`{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}`},
		{"alias without bot role", map[string]any{"roomId": GeneralRoomID, "text": "x", "alias": "someone"}, 400,
			`{"success":false,"error":"Not enough permission [error-not-allowed]","errorType":"error-not-allowed"}`},
		{"avatar without bot role", map[string]any{"roomId": GeneralRoomID, "text": "x", "avatar": "http://a"}, 400,
			`{"success":false,"error":"Not enough permission [error-not-allowed]","errorType":"error-not-allowed"}`},
		{"too long", map[string]any{"roomId": GeneralRoomID, "text": strings.Repeat("a", 5001)}, 400,
			`{"success":false,"error":"Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]","errorType":"error-message-size-exceeded"}`},
		{"attachments not array", map[string]any{"roomId": GeneralRoomID, "attachments": "x"}, 400,
			`{"success":false,"errorType":"invalid-params","error":"must be array"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/api/v1/chat.postMessage", tc.body)
			assert.Equal(t, tc.wantStatus, r.status)
			assert.JSONEq(t, tc.wantBody, string(r.body))
		})
	}
	t.Run("private group not a member", func(t *testing.T) {
		carol := c.as(s.CreateToken(CarolUsername))
		r := carol.post("/api/v1/chat.postMessage", map[string]any{"channel": "#ops", "text": "x"})
		assert.Equal(t, 400, r.status)
		assert.JSONEq(t, `{"success":false,"error":"error-not-allowed"}`, string(r.body))
	})
	t.Run("public channel not a member joins", func(t *testing.T) {
		r := c.post("/api/v1/chat.postMessage", map[string]any{"roomId": NoSubRoomID, "text": "joining"})
		require.Equal(t, 200, r.status, "body %s", r.body)
		_, ok := s.Subscription(BotUsername, NoSubRoomID)
		assert.True(t, ok)
	})
}

func TestChatPostMessageTextEscaping(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	for _, text := range []string{
		`quote " backslash \ slash /`,
		"line\nbreak\r\ttab \x01 control",
		"unicode: héllo 👋 <b>&</b>",
	} {
		r := c.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": text})
		require.Equal(t, 200, r.status, "text %q", text)
		assert.Equal(t, text, r.json(t)["message"].(map[string]any)["msg"], "text %q round-trips", text)
		assert.NotContains(t, string(r.body), `\u003c`, "no HTML escaping")
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	t.Parallel()
	got := string(appendString(nil, "bad \xff byte \x02"))
	assert.Equal(t, `"bad \ufffd byte \u0002"`, got)
	assert.True(t, json.Valid([]byte(got)))
}

func TestAppendValue(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 7, 2, 18, 7, 35, 267e6, time.UTC)
	o := obj{
		{"nil", nil}, {"s", "x"}, {"b", true}, {"i", 3}, {"i64", int64(-4)}, {"t", jsTime(at)},
		{"raw", json.RawMessage(`[{"a":1}]`)}, {"ss", []string{"a", "b"}}, {"o", obj{{"k", "v"}}},
		{"os", []obj{{{"k", 1}}, {}}},
	}
	assert.Equal(t, `{"nil":null,"s":"x","b":true,"i":3,"i64":-4,"t":"2024-07-02T18:07:35.267Z",`+
		`"raw":[{"a":1}],"ss":["a","b"],"o":{"k":"v"},"os":[{"k":1},{}]}`, string(o.bytes()))
	assert.Panics(t, func() { appendValue(nil, 1.5) }, "an unsupported type is a bug, not a silent null")
}
