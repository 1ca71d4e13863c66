package realtime

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

func TestDialLogsIn(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	assert.Equal(t, rctest.BotUserID, c.UserID())
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1) // nothing to subscribe again
	sess := s.Sessions()
	require.Len(t, sess, 1)
	assert.Equal(t, rctest.BotUserID, sess[0].UserID)
	assert.Equal(t, []string{"connect", "login"}, sess[0].Received)
	assert.Equal(t, Stats{Connected: true, Connections: 1}, c.Stats())
}

func TestDialAcceptsEveryFirstFrame(t *testing.T) {
	t.Parallel()
	for _, f := range []rctest.ServerIDFrame{rctest.ServerIDPlain, rctest.ServerIDMsg, rctest.ServerIDNone} {
		s := startServer(t)
		s.SetServerIDFrame(f)
		c := dial(t, s)
		assert.Equal(t, rctest.BotUserID, c.UserID(), "first frame %d", f)
	}
}

func TestDialAsAnotherUser(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	uid, token := s.CreateToken(rctest.AliceUsername)
	c := dialToken(t, s.URL, token)
	assert.Equal(t, uid, c.UserID())
}

func TestDialLoginRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	_, err := Dial(ctx5(t), s.URL, "revoked-token", fastBackoff)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrLoginRefused)
	assert.ErrorIs(t, err, rc.ErrUnauthorized, "rc-compatible")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "403", se.Code)
	assert.Equal(t, "login", se.Method)
	assert.Equal(t, "You've been logged out by the server. Please log in again.", se.Reason)
	assert.Equal(t, "realtime: login refused: You've been logged out by the server. Please log in again. [403]", err.Error())
	assert.NotContains(t, err.Error(), "revoked-token", "no secret in the error")
	assert.Equal(t, 1, s.DDPStats().Logins, "not retried")
}

func TestDialUpgradeRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.RefuseUpgrade(true)
	_, err := Dial(ctx5(t), s.URL, rctest.BotToken)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUpgradeRefused)
	assert.Equal(t, "realtime: websocket upgrade refused: ws://"+strings.TrimPrefix(s.URL, "http://")+"/websocket: HTTP 400 Bad Request", err.Error())

	// A web server that answers the page instead: refused too.
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>app</html>"))
	}))
	defer page.Close()
	_, err = Dial(ctx5(t), page.URL, rctest.BotToken)
	assert.ErrorIs(t, err, ErrUpgradeRefused)
	assert.Contains(t, err.Error(), "HTTP 200 OK")

	// Nobody listening is not a refusal: the caller can tell them apart.
	page.Close()
	_, err = Dial(ctx5(t), page.URL, rctest.BotToken)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUpgradeRefused)
}

func TestDialArguments(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		url, token string
		opts       []Option
		want       string
	}{
		"bad url":        {"ftp://x", "t", nil, "the scheme must be http or https"},
		"api url":        {"http://x/api/v1", "t", nil, "must not end in /api/v1"},
		"empty token":    {"http://x", "", nil, "empty token"},
		"watchdog short": {"http://x", "t", []Option{WithKeepAlive(time.Second), WithWatchdog(time.Second)}, "must be longer"},
		"keepalive":      {"http://x", "t", []Option{WithKeepAlive(0)}, "WithKeepAlive"},
		"buffer":         {"http://x", "t", []Option{WithEventBuffer(-1)}, "WithEventBuffer"},
		"nil client":     {"http://x", "t", []Option{WithHTTPClient(nil)}, "nil *http.Client"},
		"zero backoff":   {"http://x", "t", []Option{WithBackoff(rc.Backoff{})}, "Min must be positive"},
		"message size":   {"http://x", "t", []Option{WithMaxMessageSize(0)}, "WithMaxMessageSize"},
		"user agent":     {"http://x", "t", []Option{WithUserAgent("")}, "empty user agent"},
		"watchdog":       {"http://x", "t", []Option{WithWatchdog(-1)}, "WithWatchdog"},
	} {
		_, err := Dial(context.Background(), tc.url, tc.token, tc.opts...)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), tc.want, name)
	}
}

// TestDialKeepsSubPathAndHTTPClient dials a server under /chat through the
// REST client's *http.Client.
func TestDialKeepsSubPathAndHTTPClient(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	front := httptest.NewServer(http.StripPrefix("/chat", s))
	defer front.Close()

	var trips atomic.Int32
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		assert.Equal(t, "/chat/websocket", r.URL.Path)
		assert.Equal(t, "rclua/test", r.Header.Get("User-Agent"))
		return tr.RoundTrip(r)
	})}
	rcc, err := rc.New(front.URL+"/chat/", rc.WithHTTPClient(hc))
	require.NoError(t, err)
	c, err := Dial(ctx5(t), front.URL+"/chat/", rctest.BotToken, WithHTTPClient(rcc.HTTPClient()), WithUserAgent("rclua/test"))
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, int32(1), trips.Load(), "the handshake went through the REST client's transport")
	assert.Len(t, s.Sessions(), 1)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPingBothWays(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.SetHeartbeat(10*time.Millisecond, 10*time.Second)
	c := dial(t, s, WithKeepAlive(time.Hour), WithWatchdog(2*time.Hour))
	waitFor(t, "the client to answer 3 server pings", func() bool { return s.DDPStats().Pongs >= 3 })
	assert.Equal(t, 0, s.DDPStats().Pings, "a client that is pinged has no need to ping")

	// A client pings the server when it has sent nothing for a while, and
	// the server's pongs keep its watchdog quiet: across 150 pings (more
	// than the watchdog's bound), the connection stays the same.
	s2 := startServer(t)
	c2 := dial(t, s2, WithKeepAlive(5*time.Millisecond), WithWatchdog(500*time.Millisecond))
	waitFor(t, "150 keep-alive pings", func() bool { return s2.DDPStats().Pings >= 150 })
	for _, x := range []struct {
		s *rctest.Server
		c *Client
	}{{s, c}, {s2, c2}} {
		assert.Equal(t, 1, x.s.DDPStats().Sessions, "the same connection all along")
		assert.Equal(t, 1, x.c.Stats().Connections)
	}
}

func TestWatchdogReconnects(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, WithKeepAlive(10*time.Millisecond), WithWatchdog(200*time.Millisecond))
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	s.StopAnsweringPings(true)
	ev := expect(t, c, Disconnected, 1)
	assert.ErrorIs(t, ev.Err, ErrTimeout, "the watchdog: %v", ev.Err)
	s.StopAnsweringPings(false)
	ev = nextKind(t, c, Ready)
	assert.GreaterOrEqual(t, ev.Seq, 2)
	assert.GreaterOrEqual(t, s.DDPStats().Sessions, 2)
}

// TestReconnectResubscribesOnce drops the connection and checks that the
// client logs in first, then sends each subscription once.
func TestReconnectResubscribesOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	ctx := ctx5(t)
	_, err := c.SubscribeSubscriptionChanges(ctx)
	require.NoError(t, err)
	_, err = c.SubscribeMyMessages(ctx)
	require.NoError(t, err)
	_, err = c.SubscribeRoomMessages(ctx, rctest.GeneralRoomID)
	require.NoError(t, err)
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)

	require.Equal(t, 1, s.DropSessions())
	ev := expect(t, c, Disconnected, 1)
	assert.Error(t, ev.Err)
	expect(t, c, Connected, 2)
	expect(t, c, Ready, 2)

	sess := s.Sessions()
	require.Len(t, sess, 1)
	assert.Equal(t, []string{"connect", "login",
		"sub stream-notify-user " + rctest.BotUserID + "/subscriptions-changed",
		"sub stream-room-messages __my_messages__",
		"sub stream-room-messages " + rctest.GeneralRoomID}, sess[0].Received, "login first, each sub once")
	assert.Len(t, sess[0].Subs, 3)
	assert.Equal(t, map[string]int{StreamNotifyUser: 2, StreamRoomMessages: 4}, s.DDPStats().SubsByStream, "3 subs, twice in all")

	// One copy of each event: a, then b, on each of the two streams.
	for _, text := range []string{"a", "b"} {
		_, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, text)
		require.NoError(t, err)
	}
	var got []string
	for len(got) < 4 {
		ev := next(t, c)
		if !ev.IsMessage() {
			continue // alice's posts change no subscription of the bot's: none expected, but be lenient
		}
		m, _, err := ev.Message()
		require.NoError(t, err)
		got = append(got, ev.Name+" "+m.Msg)
	}
	assert.Equal(t, []string{MyMessages + " a", rctest.GeneralRoomID + " a", MyMessages + " b", rctest.GeneralRoomID + " b"}, got)
}

func TestLoginRefusedAfterReconnectIsFinal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse func(t *testing.T, s *rctest.Server, uid, token string)
	}{
		{"refused", func(t *testing.T, s *rctest.Server, _, _ string) { s.RefuseLogins(1000) }},
		{"revoked token", func(t *testing.T, s *rctest.Server, uid, token string) {
			// A REST logout with the token deletes it, as an admin's revocation.
			require.NoError(t, restClient(t, s, uid, token).Post(ctx5(t), "logout", nil, nil))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			uid, token := s.CreateToken(rctest.BotUsername)
			c := dialToken(t, s.URL, token)
			_, err := c.SubscribeMyMessages(ctx5(t))
			require.NoError(t, err)
			expect(t, c, Connected, 1)
			expect(t, c, Ready, 1)
			tc.refuse(t, s, uid, token)
			s.DropSessions()
			expect(t, c, Disconnected, 1)
			ev := expect(t, c, Disconnected, 1)
			assert.ErrorIs(t, ev.Err, ErrLoginRefused)
			select {
			case ev, ok := <-c.Events():
				assert.False(t, ok, "events closed after a final refusal, got %+v", ev)
			case <-time.After(10 * time.Second):
				t.Fatal("events not closed")
			}
			assert.ErrorIs(t, c.Err(), ErrLoginRefused)
			assert.ErrorIs(t, c.Err(), rc.ErrUnauthorized)
			assert.Equal(t, 2, s.DDPStats().Logins, "one login, one refused: no retry loop")
			_, err = c.SubscribeMyMessages(ctx5(t))
			assert.ErrorIs(t, err, ErrClosed)
			assert.Equal(t, 1, strings.Count(err.Error(), "realtime:"), err.Error())
			assert.NoError(t, c.Close())
		})
	}
}

// TestReconnectRetriesAfterFailures: a failed attempt other than a
// refused login is retried.
func TestReconnectRetriesAfterFailures(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	s.RefuseUpgrade(true)
	s.DropSessions()
	expect(t, c, Disconnected, 1)
	for range 3 {
		ev := expect(t, c, Disconnected, 1)
		assert.ErrorIs(t, ev.Err, ErrUpgradeRefused, "a failed attempt, retried")
	}
	s.RefuseUpgrade(false)
	nextKind(t, c, Connected)
	assert.Equal(t, 2, c.Stats().Connections)
	assert.NoError(t, c.Err())
}

func TestCallResultAndErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, WithBackoff(rc.Backoff{Min: time.Hour, Max: time.Hour}))
	_, err := c.Call(ctx5(t), "nope", 1, "two")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, &Error{Method: "nope", Code: "404", Reason: "Method 'nope' not found",
		Message: "Method 'nope' not found [404]", Type: "Meteor.Error"}, se)
	assert.Equal(t, "realtime: nope: Method 'nope' not found [404]", err.Error())

	res, err := c.Call(ctx5(t), "login", map[string]string{"resume": rctest.BotToken})
	require.NoError(t, err)
	assert.Contains(t, string(res), `"id":"`+rctest.BotUserID+`"`)

	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	s.DropSessions()
	expect(t, c, Disconnected, 1) // and no reconnection for an hour
	_, err = c.Call(ctx5(t), "nope")
	assert.ErrorIs(t, err, ErrNotConnected)
	assert.Equal(t, "realtime: not connected: nope", err.Error(), "the package's prefix once")
	assert.False(t, c.Stats().Connected)
	require.NoError(t, c.Close()) // ends the backoff's wait
	_, err = c.Call(ctx5(t), "nope")
	assert.ErrorIs(t, err, ErrClosed)
	assert.Equal(t, "realtime: client stopped: nope", err.Error())
	_, ok := <-c.Events()
	assert.False(t, ok, "events closed")
	assert.NoError(t, c.Err(), "no error after Close")
}

func TestSubscribeRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	_, err := c.SubscribeRoomMessages(ctx5(t), "nowhere")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "not-allowed", se.Code)
	assert.Equal(t, StreamRoomMessages, se.Stream)
	assert.Equal(t, "realtime: stream-room-messages: Not allowed [not-allowed]", err.Error())
	_, err = c.Subscribe(ctx5(t), StreamNotifyUser, rctest.AliceUserID+"/subscriptions-changed")
	assert.ErrorAs(t, err, &se)
	assert.Empty(t, s.Sessions()[0].Subs)
}

// TestSubscribeDuringReconnect subscribes while the connection drops: the
// subscription reaches the new connection exactly once.
func TestSubscribeDuringReconnect(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	s.DropSessions()
	sub, err := c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)
	waitFor(t, "a second session", func() bool { return s.DDPStats().Sessions == 2 && len(s.Sessions()) == 1 })
	waitFor(t, "the subscription", func() bool { return len(s.Sessions()[0].Subs) == 1 })
	assert.Equal(t, []rctest.DDPSub{{ID: sub.ID(), Name: StreamRoomMessages, EventName: MyMessages}}, s.Sessions()[0].Subs)
	var n int
	for _, r := range s.Sessions()[0].Received {
		if strings.HasPrefix(r, "sub ") {
			n++
		}
	}
	assert.Equal(t, 1, n, "sent once on the new connection: %v", s.Sessions()[0].Received)
}

func TestSubscribeGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, WithBackoff(rc.Backoff{Min: time.Hour, Max: time.Hour}))
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	s.DropSessions()
	expect(t, c, Disconnected, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.SubscribeMyMessages(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	c.mu.Lock()
	assert.Empty(t, c.subs, "withdrawn: not sent at the next connection")
	c.mu.Unlock()
}

func TestStopUnsubscribes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	sub, err := c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)
	keep, err := c.SubscribeRoomMessages(ctx5(t), rctest.GeneralRoomID)
	require.NoError(t, err)
	require.NoError(t, sub.Stop(ctx5(t)))
	require.NoError(t, sub.Stop(ctx5(t)), "twice")
	waitFor(t, "the unsub", func() bool { return len(s.Sessions()[0].Subs) == 1 })
	assert.Contains(t, s.Sessions()[0].Received, "unsub "+sub.ID())

	s.DropSessions()
	nextKind(t, c, Disconnected)
	expect(t, c, Connected, 2)
	expect(t, c, Ready, 2)
	assert.Equal(t, []rctest.DDPSub{{ID: keep.ID(), Name: StreamRoomMessages, EventName: rctest.GeneralRoomID}},
		s.Sessions()[0].Subs, "a stopped subscription is not sent again")
}

func TestNosubAtReconnect(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s)
	sub, err := c.SubscribeRoomMessages(ctx5(t), rctest.DiscussionRoomID) // a private room the bot is in
	require.NoError(t, err)
	_, err = c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	require.NoError(t, s.RemoveSubscription(rctest.BotUsername, rctest.DiscussionRoomID))
	s.DropSessions()
	expect(t, c, Disconnected, 1)
	expect(t, c, Connected, 2)
	ev := expect(t, c, Nosub, 2)
	assert.Equal(t, sub.ID(), ev.Sub)
	var se *Error
	require.ErrorAs(t, ev.Err, &se)
	assert.Equal(t, "not-allowed", se.Code)
	expect(t, c, Ready, 2)
	c.mu.Lock()
	assert.Len(t, c.subs, 1, "the refused subscription is gone")
	c.mu.Unlock()
}

func TestCloseWhileConsumerStalled(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, WithEventBuffer(1))
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	_, err := c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)
	for range 10 {
		_, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "x")
		require.NoError(t, err)
	}
	waitFor(t, "the reader to block", func() bool { return c.Stats().Received == 2 })
	done := make(chan struct{})
	go func() {
		_ = c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked")
	}
	assert.NoError(t, c.Err())
}

func TestErrorStrings(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "realtime: stream-x: no reason [not-allowed]",
		(&Error{Stream: "stream-x", Code: "not-allowed", Reason: "no reason"}).Error())
	assert.Equal(t, "realtime: m: text [403]", (&Error{Method: "m", Code: "403", Message: "text [403]"}).Error())
	assert.True(t, errors.Is(&loginError{err: &Error{Code: "403"}}, rc.ErrUnauthorized))
	for k, want := range map[Kind]string{Changed: "changed", Connected: "connected", Ready: "ready",
		Disconnected: "disconnected", Nosub: "nosub", 42: "Kind(42)"} {
		assert.Equal(t, want, k.String())
	}
}

func TestFrameTooLargeEndsTheConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := dial(t, s, WithMaxMessageSize(2000))
	sub, err := c.SubscribeMyMessages(ctx5(t))
	require.NoError(t, err)
	assert.Equal(t, StreamRoomMessages, sub.Stream())
	assert.Equal(t, MyMessages, sub.EventName())
	expect(t, c, Connected, 1)
	expect(t, c, Ready, 1)
	_, err = s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, strings.Repeat("x", 3000))
	require.NoError(t, err)
	ev := expect(t, c, Disconnected, 1)
	assert.ErrorContains(t, ev.Err, "read limited at 2001 bytes")
	expect(t, c, Connected, 2)
}
