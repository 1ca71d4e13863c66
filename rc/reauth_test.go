package rc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// loginCount counts the login requests s received.
func loginCount(s *rctest.Server) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == "login" {
			n++
		}
	}
	return n
}

// reloginClient is a password client whose RenewFunc logs in again,
// counting its calls.
func reloginClient(t *testing.T, s *rctest.Server, calls *atomic.Int32) *rc.Client {
	t.Helper()
	c, err := rc.New(s.URL, rc.WithReauth(func(ctx context.Context, c *rc.Client, err error) error {
		calls.Add(1)
		if lerr := c.Login(ctx, rctest.BotUsername, rctest.BotPassword); lerr != nil {
			return fmt.Errorf("%w; logging in again: %w", err, lerr)
		}
		return nil
	}))
	require.NoError(t, err)
	require.NoError(t, c.Login(context.Background(), rctest.BotUsername, rctest.BotPassword))
	return c
}

// TestReauthRenewsAnExpiredSession: after the server ends the session, the
// next request logs in again and succeeds; concurrent requests refused
// together share one login.
func TestReauthRenewsAnExpiredSession(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	var calls atomic.Int32
	c := reloginClient(t, s, &calls)
	ctx := context.Background()
	_, err := c.Me(ctx)
	require.NoError(t, err)

	require.Equal(t, 1, s.ExpireSessions(rctest.BotUsername))
	u, err := c.Me(ctx)
	require.NoError(t, err, "the request is sent again after the login")
	assert.Equal(t, rctest.BotUsername, u.Username)
	assert.EqualValues(t, 1, calls.Load())
	assert.Equal(t, 2, loginCount(s), "the first login and one more")

	require.Equal(t, 1, s.ExpireSessions(rctest.BotUsername))
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.Me(ctx) })
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.EqualValues(t, 2, calls.Load(), "16 refused requests, one renewal")
	assert.Equal(t, 3, loginCount(s))
}

// revoke deletes a personal access token on s, as the real logout route
// does (the way an owner ends a token besides the web interface).
func revoke(t *testing.T, s *rctest.Server, userID, token string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/logout", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", userID)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestReauthFailureIsReturned: when renew fails the request fails with
// renew's error, which still matches ErrUnauthorized; a renew that keeps
// the refused credentials fails the request with the 401, after one call.
func TestReauthFailureIsReturned(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	uid, tok := s.CreateToken(rctest.BotUsername)
	gaveUp := errors.New("gave up")
	var calls atomic.Int32
	c, err := rc.New(s.URL, rc.WithToken(uid, tok), rc.WithReauth(func(_ context.Context, _ *rc.Client, err error) error {
		if calls.Add(1) == 1 {
			return fmt.Errorf("%w: %w", err, gaveUp)
		}
		return nil // keeps the revoked token
	}))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.Me(ctx)
	require.NoError(t, err)
	revoke(t, s, uid, tok)

	_, err = c.Me(ctx)
	assert.ErrorIs(t, err, gaveUp, "renew's error")
	assert.ErrorIs(t, err, rc.ErrUnauthorized, "wrapping the 401")
	assert.EqualValues(t, 1, calls.Load())

	_, err = c.Me(ctx)
	assert.ErrorIs(t, err, rc.ErrUnauthorized, "credentials not renewed: the 401")
	assert.NotErrorIs(t, err, gaveUp)
	assert.EqualValues(t, 2, calls.Load(), "one call per request, never a loop")
}

// TestReauthRequestsInsideRenewDoNotRenew: a request renew makes and the
// server refuses returns its 401 at once (no recursion, no deadlock).
func TestReauthRequestsInsideRenewDoNotRenew(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	uid, tok := s.CreateToken(rctest.BotUsername)
	var calls atomic.Int32
	var inner error
	c, err := rc.New(s.URL, rc.WithToken(uid, tok), rc.WithReauth(func(ctx context.Context, c *rc.Client, err error) error {
		calls.Add(1)
		_, inner = c.Me(ctx)
		return err
	}))
	require.NoError(t, err)
	revoke(t, s, uid, tok)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = c.Me(ctx)
	assert.ErrorIs(t, err, rc.ErrUnauthorized)
	assert.ErrorIs(t, inner, rc.ErrUnauthorized, "the inner request got its 401")
	assert.EqualValues(t, 1, calls.Load())
}

// TestReauthWaitEndsWithTheContext: a request refused while another
// renewal runs waits for it only as long as its own context lets it.
func TestReauthWaitEndsWithTheContext(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	uid, tok := s.CreateToken(rctest.BotUsername)
	entered, release := make(chan struct{}), make(chan struct{})
	c, err := rc.New(s.URL, rc.WithToken(uid, tok), rc.WithReauth(func(_ context.Context, _ *rc.Client, err error) error {
		close(entered)
		<-release
		return err
	}))
	require.NoError(t, err)
	revoke(t, s, uid, tok)
	first := make(chan error, 1)
	go func() { _, err := c.Me(context.Background()); first <- err }()
	<-entered
	// The second request gets its 401 and waits for the renewal running;
	// its deadline ends the wait, the renewal still blocked.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = c.Me(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-first:
		t.Fatal("the first request ended before its renewal was released")
	default:
	}
	close(release)
	assert.ErrorIs(t, <-first, rc.ErrUnauthorized)
}

// TestReauthOption: a nil function is refused.
func TestReauthOption(t *testing.T) {
	t.Parallel()
	_, err := rc.New("https://chat.example.com", rc.WithReauth(nil))
	assert.ErrorContains(t, err, "WithReauth: nil function")
}
