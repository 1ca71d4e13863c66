package rc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

func newBot(t *testing.T, s *rctest.Server, opts ...rc.Option) *rc.Client {
	t.Helper()
	c, err := rc.New(s.URL, append([]rc.Option{rc.WithToken(rctest.BotUserID, rctest.BotToken)}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestIntegrationSubscriptions(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	c := newBot(t, s, rc.WithUserAgent("rclua/v9.9.9-test"))
	ctx := context.Background()

	all, err := c.Subscriptions.Get(ctx, nil)
	require.NoError(t, err)
	require.NotEmpty(t, all.Update)
	byRoom := map[string]*rc.Subscription{}
	var newest time.Time
	for _, sub := range all.Update {
		byRoom[sub.RoomID] = sub
		assert.Equal(t, rctest.BotUserID, sub.User.ID, "subscription %s", sub.ID)
		assert.False(t, sub.UpdatedAt.IsZero(), "subscription %s has _updatedAt", sub.ID)
		assert.True(t, json.Valid(sub.Raw), "raw of %s", sub.ID)
		if sub.UpdatedAt.After(newest) {
			newest = sub.UpdatedAt
		}
	}
	for _, rid := range []string{rctest.GeneralRoomID, rctest.RandomRoomID, rctest.OpsRoomID, rctest.EmptyRoomID} {
		assert.Contains(t, byRoom, rid)
	}
	assert.NotContains(t, byRoom, rctest.NoSubRoomID)
	assert.Equal(t, "p", byRoom[rctest.OpsRoomID].Type)
	assert.Equal(t, rctest.GeneralRoomID, byRoom[rctest.DiscussionRoomID].ParentRoomID, "prid of a discussion")
	assert.Equal(t, "beep", byRoom[rctest.GeneralRoomID].AudioNotificationValue, "the field the server sends")

	// Nothing changed after the newest _updatedAt (strict >).
	since, err := c.Subscriptions.Get(ctx, &rc.GetSubscriptionsOptions{UpdatedSince: newest})
	require.NoError(t, err)
	assert.Empty(t, since.Update)

	// Another user posts with a mention: the bot's subscription changes.
	_, err = s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "hi @"+rctest.BotUsername)
	require.NoError(t, err)
	since, err = c.Subscriptions.Get(ctx, &rc.GetSubscriptionsOptions{UpdatedSince: newest})
	require.NoError(t, err)
	require.Len(t, since.Update, 1)
	g := since.Update[0]
	assert.Equal(t, rctest.GeneralRoomID, g.RoomID)
	assert.True(t, g.Alert)
	assert.GreaterOrEqual(t, g.Unread, 1)
	assert.GreaterOrEqual(t, g.UserMentions, 1)

	one, err := c.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
	require.NoError(t, err)
	require.NotNil(t, one)
	assert.Equal(t, g.Unread, one.Unread)

	none, err := c.Subscriptions.GetOne(ctx, rctest.NoSubRoomID)
	require.NoError(t, err)
	assert.Nil(t, none, "no subscription in that room")

	require.NoError(t, c.Subscriptions.Read(ctx, rctest.GeneralRoomID, &rc.ReadOptions{ReadThreads: true}))
	st, ok := s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	require.True(t, ok)
	assert.Zero(t, st.Unread)
	assert.Zero(t, st.UserMentions)
	assert.False(t, st.Alert)

	require.NoError(t, c.Subscriptions.Unread(ctx, rctest.GeneralRoomID))
	st, _ = s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	assert.True(t, st.Alert, "unread sets alert")

	err = c.Subscriptions.Unread(ctx, rctest.EmptyRoomID)
	var e *rc.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "error-no-message-for-unread", e.Type)
	assert.Equal(t, "unreadMessages", e.Details["method"])

	err = c.Subscriptions.Read(ctx, "no-such-room", nil)
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusBadRequest, e.Status)
	assert.Equal(t, "error-invalid-subscription", e.Message)
	assert.Empty(t, e.Type)

	// Removal shows in "remove".
	before := time.Now().Add(-time.Second)
	require.NoError(t, s.RemoveSubscription(rctest.BotUsername, rctest.RandomRoomID))
	since, err = c.Subscriptions.Get(ctx, &rc.GetSubscriptionsOptions{UpdatedSince: before})
	require.NoError(t, err)
	var removed []string
	for _, r := range since.Remove {
		removed = append(removed, r.ID)
	}
	assert.Contains(t, removed, byRoom[rctest.RandomRoomID].ID)

	// The exact requests, as the server logged them.
	reqs := s.Requests()
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.True(t, r.Authenticated, "%s %s authenticated", r.Method, r.Endpoint)
		assert.Equal(t, "rclua/v9.9.9-test", r.UserAgent, "the User-Agent the application set")
	}
}

func TestIntegrationUnreadFromMessage(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	c := newBot(t, s)
	ctx := context.Background()
	m, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "first")
	require.NoError(t, err)
	require.NoError(t, c.Subscriptions.Read(ctx, rctest.GeneralRoomID, nil))
	require.NoError(t, c.Subscriptions.UnreadFromMessage(ctx, m.ID))
	st, _ := s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	assert.True(t, st.Alert)
	assert.True(t, st.LS.Equal(m.TS), "ls set to the message time")
}

func TestIntegrationChatUsersMeInfo(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer(rctest.WithBotRoles("bot"))
	t.Cleanup(s.Close)
	c := newBot(t, s)
	ctx := context.Background()

	msg, err := c.Chat.PostMessage(ctx, &rc.PostMessage{Channel: "#general", Text: "hello @alice", Alias: "Helper",
		RawAttachments: json.RawMessage(`[{"text":"att"}]`)})
	require.NoError(t, err)
	assert.Equal(t, rctest.GeneralRoomID, msg.RoomID)
	assert.Equal(t, "hello @alice", msg.Msg)
	assert.Contains(t, string(msg.Raw), `"att"`)
	msgs := s.Messages(rctest.GeneralRoomID)
	require.NotEmpty(t, msgs)
	assert.Equal(t, msg.ID, msgs[len(msgs)-1].ID)
	alice, ok := s.Subscription(rctest.AliceUsername, rctest.GeneralRoomID)
	require.True(t, ok)
	assert.GreaterOrEqual(t, alice.UserMentions, 1)

	reply, err := c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "in thread", ThreadID: msg.ID})
	require.NoError(t, err)
	assert.Equal(t, msg.ID, reply.ThreadID)

	u, err := c.Users.Info(ctx, rc.UserInfoOptions{Username: rctest.AliceUsername})
	require.NoError(t, err)
	assert.Equal(t, rctest.AliceUserID, u.ID)
	u, err = c.Users.Info(ctx, rc.UserInfoOptions{UserID: rctest.BobUserID})
	require.NoError(t, err)
	assert.Equal(t, rctest.BobUsername, u.Username)

	me, err := c.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, rctest.BotUsername, me.Username)

	info, err := c.Info(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, info.Version)

	var out struct {
		Update []json.RawMessage `json:"update"`
	}
	require.NoError(t, c.Get(ctx, "subscriptions.get", nil, &out))
	assert.NotEmpty(t, out.Update)

	err = c.Get(ctx, "subscriptions.get", url.Values{"count": {"10"}}, nil)
	assert.Error(t, err, "the server rejects unknown query parameters")
}

func TestIntegrationLoginTOTPLogout(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	s.SetTOTP(rctest.AliceUsername, "424242")
	c, err := rc.New(s.URL + "/")
	require.NoError(t, err)
	ctx := context.Background()

	_, err = c.Me(ctx)
	require.ErrorIs(t, err, rc.ErrUnauthorized)

	err = c.Login(ctx, rctest.AliceUsername, "wrong")
	require.ErrorIs(t, err, rc.ErrUnauthorized)
	assert.NotErrorIs(t, err, rc.ErrTOTPRequired)

	err = c.Login(ctx, rctest.AliceUsername, rctest.AlicePassword)
	require.ErrorIs(t, err, rc.ErrTOTPRequired)
	var e *rc.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusUnauthorized, e.Status)

	require.NoError(t, c.LoginWithTOTP(ctx, rctest.AliceUsername, rctest.AlicePassword, "424242"))
	me, err := c.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, rctest.AliceUserID, me.ID)

	require.NoError(t, c.Logout(ctx))
	assert.ErrorIs(t, c.Logout(ctx), rc.ErrNotLoggedIn)

	// The personal access token survives: a token client refuses logout.
	bot := newBot(t, s)
	require.ErrorIs(t, bot.Logout(ctx), rc.ErrNotLoggedIn)
	_, err = bot.Me(ctx)
	assert.NoError(t, err, "the token still works")
}

// testClock is a server clock under the test's control: every reading
// advances it by step (0: frozen), so the rate limiter's windows depend on
// the requests made, never on how fast a busy machine runs them.
type testClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// countRequests counts the logged requests to endpoint.
func countRequests(s *rctest.Server, endpoint string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

func TestIntegrationRateLimitRetry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("429 without retry", func(t *testing.T) {
		frozen := &testClock{t: time.Now()}
		s := rctest.NewServer(rctest.WithRateLimit(2, 300*time.Millisecond), rctest.WithClock(frozen.now))
		t.Cleanup(s.Close)
		plain := newBot(t, s)
		var err error
		for i := range 3 {
			_, err = plain.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
			if i < 2 {
				require.NoError(t, err, "call %d is within the limit", i)
			}
		}
		require.ErrorIs(t, err, rc.ErrRateLimited)
		var e *rc.Error
		require.ErrorAs(t, err, &e)
		assert.False(t, e.Reset.IsZero(), "reset known from X-RateLimit-Reset")
		assert.LessOrEqual(t, e.RetryAfter, 300*time.Millisecond)
		assert.Equal(t, 3, countRequests(s, "subscriptions.getOne"), "no retry without a policy")
	})

	t.Run("GET and POST retried", func(t *testing.T) {
		// Each request moves the server clock 400ms on: with 2 calls per 1s
		// window, the third request of a route in a row is refused and the
		// next one opens a new window. The clock runs an hour behind, so
		// the client sees each reset as past and retries after MinBackoff.
		stepping := &testClock{t: time.Now().Add(-time.Hour), step: 400 * time.Millisecond}
		s := rctest.NewServer(rctest.WithRateLimit(2, time.Second), rctest.WithClock(stepping.now))
		t.Cleanup(s.Close)
		retrying := newBot(t, s, rc.WithRetry(rc.RetryPolicy{MaxAttempts: 5, MinBackoff: time.Millisecond, MaxRateLimitWait: 2 * time.Second}))
		const calls = 5
		for i := range calls {
			_, err := retrying.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
			require.NoError(t, err, "GetOne %d", i)
		}
		assert.Greater(t, countRequests(s, "subscriptions.getOne"), calls, "some GETs were refused and retried")
		for i := range calls {
			require.NoError(t, retrying.Subscriptions.Read(ctx, rctest.GeneralRoomID, nil), "Read %d", i)
		}
		assert.Greater(t, countRequests(s, "subscriptions.read"), calls, "some POSTs were refused and retried")
	})
}

func TestIntegrationFaults(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	ctx := context.Background()
	c := newBot(t, s, rc.WithRetry(rc.RetryPolicy{MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}))

	s.Fault("subscriptions.get", rctest.Fault{Status: 502, Body: "<html><title>Bad Gateway</title></html>", Times: 2})
	_, err := c.Subscriptions.Get(ctx, nil)
	require.NoError(t, err, "GET retried past two 502s")

	s.Fault("subscriptions.read", rctest.Fault{Status: 503, Times: 1})
	err = c.Subscriptions.Read(ctx, rctest.GeneralRoomID, nil)
	var e *rc.Error
	require.ErrorAs(t, err, &e, "POST not retried on 5xx")
	assert.Equal(t, 503, e.Status)

	s.Fault("subscriptions.getOne", rctest.Fault{DropConnection: true, Times: 1})
	_, err = c.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
	require.NoError(t, err, "GET retried after a dropped connection")

	s.Fault("subscriptions.getOne", rctest.Fault{MalformedJSON: true, Times: 1})
	_, err = c.Subscriptions.GetOne(ctx, rctest.GeneralRoomID)
	require.Error(t, err)
	assert.False(t, errors.As(err, &e), "a decoding error is not *Error")
	assert.Contains(t, err.Error(), "decoding response")

	s.Fault("me", rctest.Fault{Delay: time.Minute, Times: 1})
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.Me(cctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestIntegrationScale(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer(rctest.WithSubscriptions(2000))
	t.Cleanup(s.Close)
	c := newBot(t, s)
	res, err := c.Subscriptions.Get(context.Background(), nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(res.Update), 2000)
	ids := map[string]bool{}
	for _, sub := range res.Update {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sub.Raw, &m))
		assert.Equal(t, sub.ID, m["_id"], "Raw belongs to its subscription")
		ids[sub.ID] = true
	}
	assert.Len(t, ids, len(res.Update))
}

// TestRequestBodyBound: a JSON body longer than MaxRequestBody fails
// before any request (3 MiB of control characters are 18 MiB as JSON);
// < > & are sent as they are, not as six-byte escapes.
func TestRequestBodyBound(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	ctx := context.Background()

	_, err = c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: strings.Repeat("\x01", 3<<20)})
	require.ErrorIs(t, err, rc.ErrRequestTooLarge)
	assert.ErrorContains(t, err, "chat.postMessage")
	assert.Empty(t, s.Requests(), "nothing was sent")

	_, err = c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "a <b> & c"})
	require.NoError(t, err)
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.Contains(t, string(reqs[0].Body), `"text":"a <b> & c"`)
	assert.Equal(t, "a <b> & c", s.Messages(rctest.RandomRoomID)[len(s.Messages(rctest.RandomRoomID))-1].Text)
}
