package rc_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// member returns the raw JSON of body's member name.
func member(t *testing.T, body []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m))
	require.Contains(t, m, name)
	return m[name]
}

// TestTypedUnmarshalJSON decodes the typed objects with encoding/json
// (through Get and Post, as a caller of the generic calls would): their
// UnmarshalJSON fills the typed fields and keeps the whole object in Raw.
func TestTypedUnmarshalJSON(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer(rctest.WithBotRoles("bot"))
	t.Cleanup(s.Close)
	c := newBot(t, s)
	ctx := context.Background()

	t.Run("subscription", func(t *testing.T) {
		q := url.Values{"roomId": {rctest.GeneralRoomID}}
		var out struct {
			Subscription *rc.Subscription `json:"subscription"`
		}
		require.NoError(t, c.Get(ctx, "subscriptions.getOne", q, &out))
		sub := out.Subscription
		require.NotNil(t, sub)
		assert.Equal(t, rctest.GeneralRoomID, sub.RoomID)
		assert.Equal(t, rctest.BotUserID, sub.User.ID)
		assert.Equal(t, "c", sub.Type)
		assert.False(t, sub.UpdatedAt.IsZero())

		raw, err := c.GetRaw(ctx, "subscriptions.getOne", q)
		require.NoError(t, err)
		assert.JSONEq(t, string(member(t, raw, "subscription")), string(sub.Raw), "Raw is the whole object")
		assert.Contains(t, string(sub.Raw), `"emailNotifications":"mentions"`)
		assert.Contains(t, string(sub.Raw), `"_updatedAt"`)
	})

	t.Run("null leaves the value alone", func(t *testing.T) {
		out := struct {
			Subscription rc.Subscription `json:"subscription"`
		}{Subscription: rc.Subscription{ID: "keep"}}
		require.NoError(t, c.Get(ctx, "subscriptions.getOne", url.Values{"roomId": {rctest.NoSubRoomID}}, &out))
		assert.Equal(t, "keep", out.Subscription.ID)
		assert.Nil(t, out.Subscription.Raw, "no Raw for null")
	})

	t.Run("message", func(t *testing.T) {
		var out struct {
			Message *rc.Message `json:"message"`
		}
		body := map[string]any{"roomId": rctest.GeneralRoomID, "text": "typed @alice", "alias": "Typed",
			"attachments": []any{map[string]any{"text": "att", "custom": 7}}}
		require.NoError(t, c.Post(ctx, "chat.postMessage", body, &out))
		m := out.Message
		require.NotNil(t, m)
		assert.Equal(t, rctest.GeneralRoomID, m.RoomID)
		assert.Equal(t, "typed @alice", m.Msg)
		assert.Equal(t, "Typed", m.Alias)
		assert.Equal(t, rctest.BotUsername, m.User.Username)
		assert.False(t, m.TS.IsZero())
		require.Len(t, m.Mentions, 1)
		assert.Equal(t, rctest.AliceUserID, m.Mentions[0].ID)
		var obj map[string]any
		require.NoError(t, json.Unmarshal(m.Raw, &obj))
		assert.Equal(t, m.ID, obj["_id"])
		assert.Equal(t, []any{map[string]any{"text": "att", "custom": 7.0}}, obj["attachments"], "fields without a typed twin")
		assert.Contains(t, obj, "channels")
	})

	t.Run("user", func(t *testing.T) {
		var out struct {
			User *rc.User `json:"user"`
		}
		require.NoError(t, c.Get(ctx, "users.info", url.Values{"username": {rctest.AliceUsername}}, &out))
		u := out.User
		require.NotNil(t, u)
		assert.Equal(t, rctest.AliceUserID, u.ID)
		assert.Equal(t, rctest.AliceUsername, u.Username)
		assert.True(t, u.Active)
		assert.Equal(t, []string{"user"}, u.Roles)
		raw, err := c.GetRaw(ctx, "users.info", url.Values{"username": {rctest.AliceUsername}})
		require.NoError(t, err)
		assert.JSONEq(t, string(member(t, raw, "user")), string(u.Raw))
		assert.Contains(t, string(u.Raw), `"createdAt"`)

		var me rc.User // the whole body of me is the user
		require.NoError(t, c.Get(ctx, "me", nil, &me))
		assert.Equal(t, rctest.BotUserID, me.ID)
		assert.Contains(t, string(me.Raw), `"avatarUrl"`)
		assert.Contains(t, string(me.Raw), `"success":true`)
	})
}
