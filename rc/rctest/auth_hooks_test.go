package rctest

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExpireSessions: the bot's login sessions end (401 from then on), its
// personal access token and other users' sessions keep working, and a new
// login works again.
func TestExpireSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	sess1 := c.login(BotUsername, BotPassword)
	sess2 := c.login(BotUsername, BotPassword)
	alice := c.login(AliceUsername, AlicePassword)
	for _, cl := range []*tclient{sess1, sess2, alice, c} {
		assert.Equal(t, http.StatusOK, cl.get("/api/v1/me").status, "before")
	}

	assert.Equal(t, 2, s.ExpireSessions(BotUsername), "both bot sessions end")
	for _, cl := range []*tclient{sess1, sess2} {
		r := cl.get("/api/v1/me")
		assert.Equal(t, http.StatusUnauthorized, r.status, "an expired session is refused")
		assert.JSONEq(t, unauthorizedJSON, string(r.body))
	}
	assert.Equal(t, http.StatusOK, c.get("/api/v1/me").status, "the personal access token is kept")
	assert.Equal(t, http.StatusOK, alice.get("/api/v1/me").status, "other users' sessions are kept")
	assert.Equal(t, http.StatusOK, c.login(BotUsername, BotPassword).get("/api/v1/me").status, "a new login works")
	assert.Zero(t, s.ExpireSessions("nobody"), "an unknown user has no sessions")
}
