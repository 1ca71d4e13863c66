package source

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// TestPollEndsOnRefusedCredentials: a 401 (a revoked token, a session the
// client could not renew) ends Run with that error instead of polling into
// 401s forever; a server error does not.
func TestPollEndsOnRefusedCredentials(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	uid, tok := s.CreateToken(rctest.BotUsername)
	c, err := rc.New(s.URL, rc.WithToken(uid, tok))
	require.NoError(t, err)
	p := NewPoll(c.Subscriptions, PollOptions{Interval: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, func(context.Context, Event) error { return nil }) }()

	polls := func() int {
		n := 0
		for _, r := range s.Requests() {
			if r.Endpoint == "subscriptions.get" {
				n++
			}
		}
		return n
	}
	s.Fault("subscriptions.get", rctest.Fault{Status: http.StatusInternalServerError, Times: 2})
	require.Eventually(t, func() bool { return polls() >= 4 }, 10*time.Second, 5*time.Millisecond, "polls go on after 500s")
	select {
	case err := <-done:
		t.Fatalf("Run ended on a server error: %v", err)
	default:
	}

	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/logout", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", uid)
	req.Header.Set("X-Auth-Token", tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	select {
	case err := <-done:
		assert.ErrorIs(t, err, rc.ErrUnauthorized)
	case <-time.After(10 * time.Second):
		t.Fatal("Run goes on polling with a revoked token")
	}
}

// TestPollFatalIsTheCallersChoice: with a Fatal that keeps 401s, the
// poller backs off and polls on (the daemon's keeper decides when the
// credentials are lost), and Run ends only with its context.
func TestPollFatalIsTheCallersChoice(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	uid, tok := s.CreateToken(rctest.BotUsername)
	c, err := rc.New(s.URL, rc.WithToken(uid, tok))
	require.NoError(t, err)
	var judged atomic.Int32
	p := NewPoll(c.Subscriptions, PollOptions{Interval: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Fatal: func(error) bool { judged.Add(1); return false }})
	s.Fault("subscriptions.get", rctest.Fault{Status: http.StatusUnauthorized})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, func(context.Context, Event) error { return nil }) }()
	require.Eventually(t, func() bool { return judged.Load() >= 3 }, 10*time.Second, 5*time.Millisecond, "401s retried")
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with its context")
	}
}
