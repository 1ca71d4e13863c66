package realtime

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastBackoff keeps reconnections quick in tests.
var fastBackoff = WithBackoff(rc.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond})

func startServer(t testing.TB) *rctest.Server {
	t.Helper()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	return s
}

// dial connects as the bot, with a quick backoff unless opts say otherwise.
func dial(t testing.TB, s *rctest.Server, opts ...Option) *Client {
	t.Helper()
	return dialToken(t, s.URL, rctest.BotToken, opts...)
}

func dialToken(t testing.TB, url, token string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, token, append([]Option{fastBackoff}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// next returns the next event, failing after 10s.
func next(t testing.TB, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		require.True(t, ok, "events closed early (err %v)", c.Err())
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return Event{}
	}
}

// nextKind skips events until one of kind k.
func nextKind(t testing.TB, c *Client, k Kind) Event {
	t.Helper()
	for {
		if ev := next(t, c); ev.Kind == k {
			return ev
		}
	}
}

// expect checks the next event's kind and sequence number.
func expect(t testing.TB, c *Client, k Kind, seq int) Event {
	t.Helper()
	ev := next(t, c)
	require.Equal(t, k, ev.Kind, "event %+v", ev)
	require.Equal(t, seq, ev.Seq, "event %+v", ev)
	return ev
}

// ctx5 is a context for calls that should answer at once.
func ctx5(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// restClient is a REST client of s with the given token.
func restClient(t testing.TB, s *rctest.Server, uid, token string) *rc.Client {
	t.Helper()
	c, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	t.Cleanup(c.HTTPClient().CloseIdleConnections)
	return c
}
