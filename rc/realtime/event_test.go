package realtime

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// nextChanged returns the next stream event.
func nextChanged(t *testing.T, c *Client) Event {
	t.Helper()
	for {
		ev := next(t, c)
		if ev.Kind == Changed {
			return ev
		}
		require.Contains(t, []Kind{Connected, Ready}, ev.Kind, "unexpected %+v", ev)
	}
}

// TestSubscriptionEventsMatchREST changes the bot's subscriptions through
// REST and the server's helpers and checks that each change gives one
// event whose subscription reads as REST returns it: inserted, updated,
// removed, and nothing for a plain message in a room already alerted.
func TestSubscriptionEventsMatchREST(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := ctx5(t)
	bot := restClient(t, s, rctest.BotUserID, rctest.BotToken)
	alice := restClient(t, s, rctest.AliceUserID, rctest.AliceToken)
	c := dial(t, s)
	_, err := c.SubscribeSubscriptionChanges(ctx)
	require.NoError(t, err)

	expectChange := func(what, action, rid string) *rc.Subscription {
		t.Helper()
		ev := nextChanged(t, c)
		require.True(t, ev.IsSubscriptionChange(), "%s: %+v", what, ev)
		a, sub, err := ev.SubscriptionChange()
		require.NoError(t, err, what)
		require.Equal(t, action, a, what)
		require.Equal(t, rid, sub.RoomID, what)
		if action != "removed" {
			raw, err := bot.Subscriptions.GetOneRaw(ctx, rid)
			require.NoError(t, err)
			var rest struct{ Subscription json.RawMessage }
			require.NoError(t, json.Unmarshal(raw, &rest))
			assert.JSONEq(t, string(rest.Subscription), string(sub.Raw), "%s: as REST returns it", what)
			assert.False(t, sub.UpdatedAt.IsZero(), "%s: dates decoded", what)
		}
		return sub
	}

	require.NoError(t, s.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	expectChange("joined", "inserted", rctest.NoSubRoomID)

	// general is alerted (seed): a plain message changes nothing; a mention does.
	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "plain"})
	require.NoError(t, err)
	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "@" + rctest.BotUsername + " hi"})
	require.NoError(t, err)
	sub := expectChange("mentioned, after a plain message that sent nothing", "updated", rctest.GeneralRoomID)
	assert.Equal(t, 2, sub.UserMentions)

	require.NoError(t, bot.Subscriptions.Read(ctx, rctest.RandomRoomID, nil))
	expectChange("read", "updated", rctest.RandomRoomID)
	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "one"})
	require.NoError(t, err)
	assert.True(t, expectChange("alerted by a plain message", "updated", rctest.RandomRoomID).Alert)
	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "two"})
	require.NoError(t, err)
	require.NoError(t, s.RemoveSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	removed := expectChange("removed, after a second plain message that sent nothing", "removed", rctest.NoSubRoomID)
	assert.NotEmpty(t, removed.ID)
	assert.Equal(t, rctest.BotUserID, removed.User.ID)
}

func TestMessageEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := ctx5(t)
	bot := restClient(t, s, rctest.BotUserID, rctest.BotToken)
	alice := restClient(t, s, rctest.AliceUserID, rctest.AliceToken)
	c := dial(t, s)
	_, err := c.SubscribeMyMessages(ctx)
	require.NoError(t, err)

	expectMsg := func(what string) (*rc.Message, *RoomContext) {
		t.Helper()
		ev := nextChanged(t, c)
		require.True(t, ev.IsMessage(), "%s: %+v", what, ev)
		require.Equal(t, MyMessages, ev.Name)
		m, room, err := ev.Message()
		require.NoError(t, err, what)
		require.NotNil(t, room, "%s: __my_messages__ has a room context", what)
		return m, room
	}

	posted, err := alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "from alice"})
	require.NoError(t, err)
	m, room := expectMsg("alice's")
	assert.Equal(t, posted.ID, m.ID)
	assert.Equal(t, rctest.AliceUsername, m.User.Username)
	assert.True(t, posted.TS.Equal(m.TS), "ts %s, REST %s", m.TS, posted.TS)
	assert.Equal(t, &RoomContext{Participant: true, Type: "c", Name: "general"}, room)
	assert.JSONEq(t, string(posted.Raw), string(m.Raw), "the message as REST returns it")

	_, err = bot.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "from the bot"})
	require.NoError(t, err)
	m, _ = expectMsg("own")
	assert.Equal(t, rctest.BotUserID, m.User.ID, "the bot's own messages come too")

	_, err = s.PostMessage(rctest.AliceUsername, rctest.NoSubRoomID, "in a room the bot is not in")
	require.NoError(t, err)
	_, room = expectMsg("not a participant")
	assert.Equal(t, &RoomContext{Participant: false, Type: "c", Name: "nosub"}, room)

	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "reply", ThreadID: posted.ID})
	require.NoError(t, err)
	m, _ = expectMsg("thread reply")
	assert.Equal(t, posted.ID, m.ThreadID)
	m, _ = expectMsg("thread parent again")
	assert.Equal(t, posted.ID, m.ID)
	assert.Contains(t, string(m.Raw), `"tcount":1`)

	_, err = s.PostMessage(rctest.AliceUsername, rctest.DMAliceRoomID, "dm")
	require.NoError(t, err)
	_, room = expectMsg("dm")
	assert.Equal(t, &RoomContext{Participant: true, Type: "d"}, room)

	// A room's own stream has no room context.
	_, err = c.SubscribeRoomMessages(ctx, rctest.RandomRoomID)
	require.NoError(t, err)
	_, err = s.PostMessage(rctest.BobUsername, rctest.RandomRoomID, "random")
	require.NoError(t, err)
	for range 2 {
		ev := nextChanged(t, c)
		m, room, err := ev.Message()
		require.NoError(t, err)
		assert.Equal(t, "random", m.Msg)
		if ev.Name == rctest.RandomRoomID {
			assert.Nil(t, room)
		}
	}
}

func TestEventDecodeErrors(t *testing.T) {
	t.Parallel()
	_, _, err := (&Event{Kind: Changed, Collection: StreamRoomMessages}).SubscriptionChange()
	assert.ErrorContains(t, err, "not a subscriptions-changed event")
	_, _, err = (&Event{Kind: Ready}).Message()
	assert.ErrorContains(t, err, "not a message event")
	ev := Event{Kind: Changed, Collection: StreamRoomMessages, Name: "r", Args: []json.RawMessage{json.RawMessage(`[1]`)}}
	_, _, err = ev.Message()
	assert.ErrorContains(t, err, "message event")
}

// TestFloodWithSlowConsumer posts 10,000 messages while nobody reads the
// events: the client holds at most the channel's capacity plus one (it
// stops reading the socket), then delivers every message once, in order.
func TestFloodWithSlowConsumer(t *testing.T) {
	t.Parallel()
	const n, buffer = 10000, 64
	s := startServer(t)
	c := dial(t, s, WithEventBuffer(buffer))
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	_, err := c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)

	ids := make([]string, n)
	for i := range ids {
		m, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, fmt.Sprintf("flood %d", i))
		require.NoError(t, err)
		ids[i] = m.ID
	}
	waitFor(t, "the channel to fill", func() bool { return c.Stats().Received >= buffer+1 })
	st := c.Stats()
	assert.Equal(t, int64(buffer+1), st.Received, "read from the socket: the channel's capacity plus the one waiting")
	assert.Equal(t, int64(buffer), st.Delivered)

	seen := make(map[string]bool, n)
	for i := range n {
		ev := nextChanged(t, c)
		m, _, err := ev.Message()
		require.NoError(t, err)
		require.False(t, seen[m.ID], "message %d delivered twice", i)
		seen[m.ID] = true
		require.Equal(t, ids[i], m.ID, "message %d in order", i)
		if i%1000 == 0 {
			st := c.Stats()
			require.LessOrEqual(t, st.Received-int64(i+1), int64(buffer+1), "never more than the capacity plus one ahead of the consumer")
		}
	}
	assert.Len(t, seen, n)
	assert.Equal(t, 1, c.Stats().Connections, "one connection all along")
}

func TestRESTDates(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"ts":{"$date":1707981458547},"u":{"_id":"x"}}`, `{"ts":"2024-02-15T07:17:38.547Z","u":{"_id":"x"}}`},
		{`[{"$date":0},{ "$date" : -1 }]`, `["1970-01-01T00:00:00.000Z","1969-12-31T23:59:59.999Z"]`},
		{`{"a":{"$date":1,"x":2},"b":{"$date":"1"},"c":{"$date":1.5}}`, `{"a":{"$date":1,"x":2},"b":{"$date":"1"},"c":{"$date":1.5}}`},
		{`{"msg":"say \"$date\": {\"$date\":1}"}`, `{"msg":"say \"$date\": {\"$date\":1}"}`},
		{`{"x":{"$date":1},"y":[{"$date":2}]}`, `{"x":"1970-01-01T00:00:00.001Z","y":["1970-01-01T00:00:00.002Z"]}`},
		{`{"$date`, `{"$date`},
		{`no dates`, `no dates`},
	} {
		assert.Equal(t, tc.want, string(RESTDates([]byte(tc.in))), "in %s", tc.in)
	}
	plain := []byte(`{"a":1}`)
	assert.Same(t, &plain[0], &RESTDates(plain)[0], "no copy without dates")
}
