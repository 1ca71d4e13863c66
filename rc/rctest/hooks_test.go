package rctest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDateHeaderIsTheServerClock: the Date header comes from the server's
// clock (WithClock), the one _updatedAt is written with, so that a client
// can compare the two.
func TestDateHeaderIsTheServerClock(t *testing.T) {
	t.Parallel()
	ahead := time.Now().Add(72 * time.Hour)
	s := startServer(t, WithClock(func() time.Time { return ahead }))
	r := botClient(t, s).get("/api/v1/subscriptions.get")
	require.Equal(t, 200, r.status)
	date, err := http.ParseTime(r.header.Get("Date"))
	require.NoError(t, err, "a Date header: %q", r.header.Get("Date"))
	assert.WithinDuration(t, ahead, date, time.Second, "the server's own clock, not the host's")
}

func TestSetSubscriptionUpdatedAt(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	future := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Millisecond)
	require.NoError(t, s.SetSubscriptionUpdatedAt(BotUsername, RandomRoomID, future))
	st, ok := s.Subscription(BotUsername, RandomRoomID)
	require.True(t, ok)
	assert.Equal(t, future, st.UpdatedAt)
	c := botClient(t, s)
	since := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	subs := subsByRoom(t, getSubs(t, c, since))
	assert.Len(t, subs, 1, "only the future-dated subscription is newer than an hour from now")
	assert.Contains(t, subs, RandomRoomID)

	assert.ErrorContains(t, s.SetSubscriptionUpdatedAt(BotUsername, NoSubRoomID, future), "no subscription")
	assert.ErrorContains(t, s.SetSubscriptionUpdatedAt("nobody", RandomRoomID, future), "unknown user")
}

func TestTouchSubscriptions(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithSubscriptions(50))
	c := botClient(t, s)
	before := subsByRoom(t, getSubs(t, c, ""))
	since := time.Now().Add(-time.Second).UTC()
	ids, err := s.TouchSubscriptions(BotUsername)
	require.NoError(t, err)
	assert.Len(t, ids, len(before), "every subscription of the bot")
	changed := subsByRoom(t, getSubs(t, c, since.Format("2006-01-02T15:04:05.000Z")))
	assert.Len(t, changed, len(before), "all changed after since")
	for rid, sub := range changed {
		assert.Equal(t, before[rid]["unread"].(float64)+1, sub["unread"], "%s: one more unread", rid)
		assert.Equal(t, true, sub["alert"], rid)
	}
	_, err = s.TouchSubscriptions("nobody")
	assert.ErrorContains(t, err, "unknown user")
}
