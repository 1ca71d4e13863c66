package rc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// TestRoomsGet: rooms.get lists the bot's rooms; with updatedSince only
// those a message (a plain one in an alerted room, a thread reply) went
// to after it, strictly: the rooms a catch-up of messages must read even
// when the bot's subscription did not change (facts §2.7).
func TestRoomsGet(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Millisecond)
		return now
	}
	s := rctest.NewServer(rctest.WithClock(clock))
	defer s.Close()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	ctx := context.Background()
	ids := func(res *rc.RoomsResult) []string {
		var out []string
		for _, r := range res.Update {
			out = append(out, r.ID)
		}
		return out
	}

	all, err := c.Rooms.Get(ctx, time.Time{})
	require.NoError(t, err)
	assert.Contains(t, ids(all), rctest.RandomRoomID)
	assert.NotContains(t, ids(all), rctest.NoSubRoomID, "a room the bot is not in is not listed")

	// The bot is alerted in #random: a plain message changes its
	// subscription no more, but the room changes.
	_, err = s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "first")
	require.NoError(t, err)
	before, ok := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	require.True(t, ok)
	since := clock()
	plain, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "second, plain")
	require.NoError(t, err)
	after, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	require.Equal(t, before.UpdatedAt, after.UpdatedAt, "the alerted subscription is not touched (§2.7)")

	res, err := c.Rooms.Get(ctx, since)
	require.NoError(t, err)
	assert.Equal(t, []string{rctest.RandomRoomID}, ids(res), "the room a message went to, only it")
	assert.Empty(t, res.Remove)
	require.Len(t, res.Update, 1)
	assert.True(t, res.Update[0].UpdatedAt.After(since))
	assert.Contains(t, string(res.Update[0].Raw), `"_id":"`+rctest.RandomRoomID+`"`)

	res, err = c.Rooms.Get(ctx, res.Update[0].UpdatedAt)
	require.NoError(t, err)
	assert.Empty(t, ids(res), "strictly after: the room's own _updatedAt is not after itself")

	// A thread reply changes the room too.
	alice, err := rc.New(s.URL, rc.WithToken(rctest.AliceUserID, rctest.AliceToken))
	require.NoError(t, err)
	since = clock()
	_, err = alice.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "in the thread", ThreadID: plain.ID})
	require.NoError(t, err)
	res, err = c.Rooms.Get(ctx, since)
	require.NoError(t, err)
	assert.Equal(t, []string{rctest.RandomRoomID}, ids(res), "a thread reply")

	_, err = c.GetRaw(ctx, "rooms.get", map[string][]string{"updatedSince": {"not a date"}})
	var re *rc.Error
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "error-updatedSince-param-invalid", re.Type)
}
