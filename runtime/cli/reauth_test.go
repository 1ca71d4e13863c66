package cli

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// keeperClient is a logged-in password client of s whose keeper backs off
// by milliseconds.
func keeperClient(t *testing.T, s *rctest.Server, logs io.Writer) (*rc.Client, *authKeeper) {
	t.Helper()
	creds := credentials{mode: authPassword, user: rctest.BotUsername, password: rctest.BotPassword}
	k := newAuthKeeper(creds, s.URL, zerolog.New(logs))
	k.backoff = rc.Backoff{Min: time.Millisecond, Max: 5 * time.Millisecond}
	c, err := newClient(s.URL, creds, false, k)
	require.NoError(t, err)
	_, err = authenticate(context.Background(), c, creds)
	require.NoError(t, err)
	return c, k
}

// TestAuthKeeperBounded (issue 9, item 9): a server that ends every new
// session at once gets a bounded number of new logins, then the
// credentials are lost with a message naming the variables.
func TestAuthKeeperBounded(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	var logs syncBuffer
	c, k := keeperClient(t, s, &logs)
	s.Fault("me", rctest.Fault{Status: http.StatusUnauthorized})
	ctx := context.Background()
	for range 10 {
		_, err := c.Me(ctx)
		require.ErrorIs(t, err, rc.ErrUnauthorized)
	}
	assert.Equal(t, 1+maxQuickRelogins, endpointCount(s, "login"), "the first login, then a bounded number of new ones")
	lost := k.failed()
	require.Error(t, lost, "the credentials are lost")
	assert.Equal(t, 3, exitCode(lost, io.Discard))
	assert.Contains(t, lost.Error(), "new sessions within")
	assert.Contains(t, lost.Error(), "check RC_USER and RC_PASSWORD")
	assert.NotContains(t, lost.Error()+logs.String(), rctest.BotPassword)
}

// TestAuthKeeperRetriesAnUnreachableServer: a new login that fails for a
// reason retrying can fix (a 5xx) is retried; the credentials are kept.
func TestAuthKeeperRetriesAnUnreachableServer(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	var logs syncBuffer
	c, k := keeperClient(t, s, &logs)
	s.Fault("login", rctest.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	s.ExpireSessions(rctest.BotUsername)
	_, err := c.Me(context.Background())
	require.NoError(t, err, "logged in again on the third attempt")
	assert.Equal(t, 1+3, endpointCount(s, "login"))
	assert.NoError(t, k.failed())
	assert.Contains(t, logs.String(), "cannot log in again; retrying")
	assert.NotContains(t, logs.String(), rctest.BotPassword)
}

// TestAuthKeeperStopsWithTheContext: a new login still failing when the
// request's context ends gives the request up, and the credentials are
// not declared lost (the next request tries again).
func TestAuthKeeperStopsWithTheContext(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c, k := keeperClient(t, s, io.Discard)
	s.Fault("login", rctest.Fault{Status: http.StatusServiceUnavailable})
	s.ExpireSessions(rctest.BotUsername)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Me(ctx)
	assert.ErrorIs(t, err, rc.ErrUnauthorized)
	assert.NoError(t, k.failed(), "a server that cannot be reached loses nothing")
	s.ClearFaults()
	_, err = c.Me(context.Background())
	assert.NoError(t, err, "the next request logs in again")
}

// TestAuthKeeperPermissionDenialIsNotLostCredentials: from server 9.0 a
// permission denial is a 401 too; while "who am I" still succeeds, the
// credentials are kept (no new login, no exit), for a token and a
// password alike, and the request gets its 401.
func TestAuthKeeperPermissionDenialIsNotLostCredentials(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	uid, tok := s.CreateToken(rctest.BotUsername)
	tokenCreds := credentials{mode: authToken, userID: uid, token: tok}
	tk := newAuthKeeper(tokenCreds, s.URL, zerolog.Nop())
	tc, err := newClient(s.URL, tokenCreds, false, tk)
	require.NoError(t, err)
	pc, pk := keeperClient(t, s, io.Discard)

	s.Fault("subscriptions.getOne", rctest.Fault{Status: http.StatusUnauthorized})
	for _, c := range []*rc.Client{tc, pc} {
		_, err := c.Subscriptions.GetOne(context.Background(), "GENERAL")
		require.ErrorIs(t, err, rc.ErrUnauthorized)
	}
	assert.NoError(t, tk.failed(), "the token is kept")
	assert.NoError(t, pk.failed(), "the session is kept")
	assert.Equal(t, 1, endpointCount(s, "login"), "no new login")
	_, err = tc.Me(context.Background())
	assert.NoError(t, err, "the token still works")
}

// TestLogoutOfAnEndedSessionDoesNotLogIn: logging out at exit a session
// the server already ended does not log in again only to log out.
func TestLogoutOfAnEndedSessionDoesNotLogIn(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c, k := keeperClient(t, s, io.Discard)
	s.ExpireSessions(rctest.BotUsername)
	err := c.Logout(context.Background())
	require.ErrorIs(t, err, rc.ErrUnauthorized)
	assert.Equal(t, 1, endpointCount(s, "login"), "no new login")
	assert.NoError(t, k.failed())
}
