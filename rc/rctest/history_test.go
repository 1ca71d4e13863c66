package rctest

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChatSyncMessages: the lastUpdate mode returns the room's messages
// changed strictly after it, newest first, with "deleted" empty; the
// errors carry the documented codes; a private room needs membership.
func TestChatSyncMessages(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s := startServer(t, WithClock(clock.Now))
	c := botClient(t, s)
	one, err := s.PostMessage(AliceUsername, RandomRoomID, "one")
	require.NoError(t, err)
	clock.Add(time.Second)
	two, err := s.PostMessage(BobUsername, RandomRoomID, "two")
	require.NoError(t, err)
	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/api/v1/chat.syncMessages?" + v.Encode()
	}

	r := c.get(q("roomId", RandomRoomID, "lastUpdate", one.TS.Add(-time.Millisecond).Format(timeLayout)))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	body := r.json(t)
	res := body["result"].(map[string]any)
	updated := res["updated"].([]any)
	require.Len(t, updated, 2)
	assert.Equal(t, two.ID, updated[0].(map[string]any)["_id"], "newest first")
	assert.Equal(t, one.ID, updated[1].(map[string]any)["_id"])
	assert.Empty(t, res["deleted"])

	r = c.get(q("roomId", RandomRoomID, "lastUpdate", one.TS.Format(timeLayout)))
	assert.Len(t, r.json(t)["result"].(map[string]any)["updated"], 1, "strictly after lastUpdate")

	for name, tc := range map[string]struct {
		path, errorType string
	}{
		"no roomId":     {q("lastUpdate", "2024-01-01T00:00:00.000Z"), "error-invalid-params"},
		"no lastUpdate": {q("roomId", RandomRoomID), "error-param-required"},
		"cursor mode":   {q("roomId", RandomRoomID, "type", "UPDATED", "next", "0"), "rctest-cursor-mode-not-served"},
		"bad date":      {q("roomId", RandomRoomID, "lastUpdate", "soon"), "error-lastUpdate-param-invalid"},
		"not a member":  {q("roomId", OpsRoomID, "lastUpdate", "2024-01-01T00:00:00.000Z"), "error-not-allowed"},
	} {
		r := c.as(AliceUserID, AliceToken).get(tc.path)
		assert.Equal(t, http.StatusBadRequest, r.status, name)
		assert.Equal(t, tc.errorType, r.json(t)["errorType"], name)
	}
}
