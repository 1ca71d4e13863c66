package rc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// TestSyncMessages: chat.syncMessages returns the room's messages changed
// strictly after lastUpdate, each with its raw JSON; a room the user
// cannot read and a missing argument are errors.
func TestSyncMessages(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	ctx := context.Background()

	first, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "one")
	require.NoError(t, err)
	second, err := s.PostMessage(rctest.BobUsername, rctest.RandomRoomID, "two")
	require.NoError(t, err)

	res, err := c.Chat.SyncMessages(ctx, rctest.RandomRoomID, first.TS.Add(-time.Millisecond))
	require.NoError(t, err)
	var ids []string
	for _, m := range res.Updated {
		ids = append(ids, m.ID)
		assert.Contains(t, string(m.Raw), `"_id":"`+m.ID+`"`)
	}
	assert.ElementsMatch(t, []string{first.ID, second.ID}, ids)
	assert.Empty(t, res.Deleted)

	res, err = c.Chat.SyncMessages(ctx, rctest.RandomRoomID, time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, res.Updated, "nothing after an hour from now")

	_, err = c.Chat.SyncMessages(ctx, rctest.NoSubRoomID+"x", time.Now())
	assert.Error(t, err, "an unknown room")
	_, err = c.Chat.SyncMessages(ctx, rctest.RandomRoomID, time.Time{})
	assert.ErrorContains(t, err, "zero lastUpdate")
	_, err = c.Chat.SyncMessages(ctx, "", time.Now())
	assert.ErrorContains(t, err, "empty room id")
}
