package rctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Checklist 7: the rate limiter.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithRateLimit(3, time.Minute), WithClock(clk.Now))
	c := botClient(t, s)
	start := clk.Now()
	reset := strconv.FormatInt(start.Add(time.Minute).UnixMilli(), 10)

	for i := 1; i <= 3; i++ {
		r := c.get("/api/v1/subscriptions.get")
		require.Equal(t, 200, r.status, "call %d", i)
		assert.Equal(t, "3", r.header.Get("X-RateLimit-Limit"))
		assert.Equal(t, strconv.Itoa(3-i), r.header.Get("X-RateLimit-Remaining"), "call %d", i)
		assert.Equal(t, reset, r.header.Get("X-RateLimit-Reset"), "reset is epoch ms")
		assert.Empty(t, r.header.Get("Retry-After"))
	}
	clk.Add(18*time.Second + 500*time.Millisecond)
	r := c.get("/api/v1/subscriptions.get")
	assert.Equal(t, 429, r.status)
	assert.JSONEq(t, `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}`, string(r.body))
	assert.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
	assert.Equal(t, reset, r.header.Get("X-RateLimit-Reset"))
	assert.Empty(t, r.header.Get("Retry-After"), "no Retry-After")
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))

	// Other route, other method: separate counters.
	assert.Equal(t, 200, c.get("/api/v1/subscriptions.getOne?roomId=GENERAL").status)
	assert.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID}).status)

	// Per client IP, not per user: alice on the same IP is limited too.
	alice := c.as(s.CreateToken(AliceUsername))
	assert.Equal(t, 429, alice.get("/api/v1/subscriptions.get").status)

	// admin and bot roles bypass; no headers for them.
	for _, name := range []string{AdminUsername, RocketCatUsername} {
		bypass := c.as(s.CreateToken(name))
		for range 5 {
			r := bypass.get("/api/v1/subscriptions.get")
			assert.Equal(t, 200, r.status, name)
			assert.Empty(t, r.header.Get("X-RateLimit-Limit"), name)
		}
	}

	// The window ends.
	clk.Add(42 * time.Second)
	r = c.get("/api/v1/subscriptions.get")
	assert.Equal(t, 200, r.status)
	assert.Equal(t, "2", r.header.Get("X-RateLimit-Remaining"))

	// /api/info is not limited.
	for range 5 {
		assert.Equal(t, 200, c.get("/api/info").status)
	}
}

func TestRateLimitLoginAndBotRoleOption(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithRateLimit(2, time.Minute), WithBotRoles("bot"))
	c := botClient(t, s).as("", "")
	for i := range 2 {
		r := c.post("/api/v1/login", map[string]any{"user": "alice", "password": "wrong"})
		assert.Equal(t, 401, r.status, "call %d", i)
		assert.NotEmpty(t, r.header.Get("X-RateLimit-Reset"))
	}
	r := c.post("/api/v1/login", map[string]any{"user": "alice", "password": AlicePassword})
	assert.Equal(t, 429, r.status, "login is under the default limiter")
	assert.True(t, strings.HasSuffix(r.json(t)["error"].(string), "[error-too-many-requests]"))

	bot := botClient(t, s)
	for range 4 {
		assert.Equal(t, 200, bot.get("/api/v1/me").status, "WithBotRoles(bot) bypasses")
	}
}

// TestRateLimitSendMessageOwnRule: chat.sendMessage has its own limit
// (facts §4: 5 per 1000 ms), not the default's: a 6th call in a second is
// refused even under a generous default, and the next second allows 5
// more; the default window of the other routes is untouched.
func TestRateLimitSendMessageOwnRule(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithRateLimit(100, time.Minute), WithClock(clk.Now))
	c := botClient(t, s)
	send := func(i int) response {
		return c.post("/api/v1/chat.sendMessage", map[string]any{"message": map[string]any{"rid": GeneralRoomID, "msg": fmt.Sprintf("m%d", i)}})
	}
	for i := range 5 {
		r := send(i)
		require.Equal(t, 200, r.status, "call %d: %s", i, r.body)
		assert.Equal(t, "5", r.header.Get("X-RateLimit-Limit"))
	}
	r := send(5)
	assert.Equal(t, 429, r.status)
	assert.Contains(t, string(r.body), "You must wait 1 seconds")
	assert.Equal(t, 200, c.get("/api/v1/subscriptions.get").status, "another route: the default window")
	clk.Add(time.Second)
	assert.Equal(t, 200, send(6).status, "a new second")
}

// TestRateLimitExempt: requests WithRateLimitExempt reports are never
// limited nor counted; the others from the same user still are.
func TestRateLimitExempt(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithRateLimit(2, time.Minute),
		WithRateLimitExempt(func(r *http.Request) bool { return r.Header.Get("X-Harness") == "1" }))
	c := botClient(t, s)
	for range 5 {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/subscriptions.get", nil)
		require.NoError(t, err)
		req.Header.Set("X-Auth-Token", BotToken)
		req.Header.Set("X-User-Id", BotUserID)
		req.Header.Set("X-Harness", "1")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, 200, res.StatusCode)
		assert.Empty(t, res.Header.Get("X-RateLimit-Limit"), "not counted")
	}
	assert.Equal(t, 200, c.get("/api/v1/subscriptions.get").status)
	assert.Equal(t, 200, c.get("/api/v1/subscriptions.get").status)
	assert.Equal(t, 429, c.get("/api/v1/subscriptions.get").status, "the exempt calls took nothing of the window")
}

func TestNoRateLimitByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	for range 15 {
		r := c.get("/api/v1/subscriptions.getOne?roomId=GENERAL")
		require.Equal(t, 200, r.status)
		assert.Empty(t, r.header.Get("X-RateLimit-Limit"))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantBody   string
		check      func(t *testing.T, r response)
	}{
		{"status and body", Fault{Status: 502, Body: "<html>bad gateway</html>"}, 502, "", func(t *testing.T, r response) {
			assert.Equal(t, "<html>bad gateway</html>", string(r.body))
		}},
		{"default 500 body", Fault{Status: 500}, 500, `{"success":false,"error":"Internal server error"}`, nil},
		{"default 503 body", Fault{Status: 503}, 503, `{"success":false,"error":"Service unavailable"}`, nil},
		{"default 403 body", Fault{Status: 403}, 403, `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}`, nil},
		{"default 401 body", Fault{Status: 401}, 401, unauthorizedJSON, nil},
		{"default 429", Fault{Status: 429}, 429, `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]"}`,
			func(t *testing.T, r response) {
				ms, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
				require.NoError(t, err)
				assert.InDelta(t, time.Now().Add(time.Second).UnixMilli(), ms, 5000)
			}},
		{"429 with headers", Fault{Status: 429, Body: `{"success":false,"error":"slow"}`, Header: http.Header{"X-Ratelimit-Reset": {"123"}}}, 429, `{"success":false,"error":"slow"}`,
			func(t *testing.T, r response) { assert.Equal(t, "123", r.header.Get("X-RateLimit-Reset")) }},
		{"malformed JSON", Fault{MalformedJSON: true}, 200, "", func(t *testing.T, r response) {
			assert.False(t, json.Valid(r.body), "body %s", r.body)
		}},
		{"delay only answers normally", Fault{Delay: 50 * time.Millisecond}, 200, "", func(t *testing.T, r response) {
			assert.Contains(t, r.json(t), "update")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			c := botClient(t, s)
			s.Fault("subscriptions.get", tc.fault)
			start := time.Now()
			r := c.get("/api/v1/subscriptions.get")
			assert.GreaterOrEqual(t, time.Since(start), tc.fault.Delay)
			assert.Equal(t, tc.wantStatus, r.status)
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, string(r.body))
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			assert.Equal(t, 200, c.get("/api/v1/subscriptions.getOne?roomId=GENERAL").status, "other endpoints unaffected")
			assert.Equal(t, r.status, c.get("/api/v1/subscriptions.get").status, "Times 0: until cleared")
			s.ClearFaults()
			assert.Equal(t, 200, c.get("/api/v1/subscriptions.get").status, "cleared")
		})
	}
}

func TestFaultTimesAndDrop(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	s.Fault("users.info", Fault{Status: 500, Times: 2})
	assert.Equal(t, 500, c.get("/api/v1/users.info?username=bob").status)
	assert.Equal(t, 500, c.get("/api/v1/users.info?username=bob").status)
	assert.Equal(t, 200, c.get("/api/v1/users.info?username=bob").status, "after Times requests")

	// Until cleared: Go's transport retries a GET once on a reused connection.
	s.Fault("info", Fault{DropConnection: true})
	req, err := http.NewRequest("GET", s.URL+"/api/info", nil)
	require.NoError(t, err)
	resp, err := c.hc.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Error(t, err, "dropped connection")
	s.ClearFaults()
	assert.Equal(t, 200, c.get("/api/info").status)

	s.Fault("login", Fault{Status: 500})
	assert.Equal(t, 500, c.post("/api/v1/login", map[string]any{"user": "bob", "password": BobPassword}).status, "faults apply before auth/routing")
}

func TestFaultDelayEndsOnClientCancel(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	s.Fault("me", Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/v1/me", nil)
	require.NoError(t, err)
	_, err = c.hc.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// Close does not wait an hour (the handler ends on the client's cancel
	// or on Close).
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a delayed handler")
	}
}

func TestCloseEndsDelayedHandlers(t *testing.T) {
	t.Parallel()
	s := NewServer()
	s.Fault("me", Fault{Delay: time.Hour})
	c := botClient(t, s)
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/me", nil)
		req.Header.Set("X-User-Id", BotUserID)
		req.Header.Set("X-Auth-Token", BotToken)
		resp, err := c.hc.Do(req)
		if resp != nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	require.Eventually(t, func() bool { return len(s.Requests()) == 1 }, 5*time.Second, 5*time.Millisecond)
	start := time.Now()
	s.Close()
	assert.Less(t, time.Since(start), 5*time.Second)
	<-errc
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	c.get("/api/v1/subscriptions.get?updatedSince=2024-01-01T00:00:00.000Z")
	c.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID})
	c.as("", "").get("/api/info")
	c.as(BotUserID, "wrong").get("/api/v1/me")
	reqs := s.Requests()
	require.Len(t, reqs, 4)
	cases := []struct {
		method, path, endpoint, userID string
		auth, hasToken                 bool
		query                          string
		body                           string
	}{
		{"GET", "/api/v1/subscriptions.get", "subscriptions.get", BotUserID, true, true, "updatedSince=2024-01-01T00%3A00%3A00.000Z", ""},
		{"POST", "/api/v1/subscriptions.read", "subscriptions.read", BotUserID, true, true, "", `{"rid":"GENERAL"}`},
		{"GET", "/api/info", "info", "", false, false, "", ""},
		{"GET", "/api/v1/me", "me", BotUserID, false, true, "", ""},
	}
	for i, want := range cases {
		got := reqs[i]
		assert.Equal(t, want.method, got.Method, "request %d", i)
		assert.Equal(t, want.path, got.Path, "request %d", i)
		assert.Equal(t, want.endpoint, got.Endpoint, "request %d", i)
		assert.Equal(t, want.userID, got.UserID, "request %d", i)
		assert.Equal(t, want.auth, got.Authenticated, "request %d", i)
		assert.Equal(t, want.hasToken, got.HasAuthToken, "request %d", i)
		assert.Equal(t, want.query, got.Query.Encode(), "request %d", i)
		assert.Equal(t, want.body, string(got.Body), "request %d", i)
		assert.False(t, got.Time.IsZero())
		assert.NotContains(t, fmt.Sprintf("%+v %#v", got, got), BotToken, "no token values in the log")
	}
	assert.Equal(t, "application/json", reqs[1].ContentType)
	assert.Contains(t, reqs[0].UserAgent, "Go-http-client")

	s.ResetRequests()
	c.as("", "").post("/api/v1/login", map[string]any{"user": "alice", "password": AlicePassword, "code": "123456"})
	c.as("", "").post("/api/v1/login", map[string]any{"resume": BotToken})
	c.as("", "").do("POST", "/api/v1/login", "user=bob&password="+BobPassword+"&code=987654",
		"Content-Type", "application/x-www-form-urlencoded")
	c.as("", "").post("/api/v1/login", `{"user":"bob","password":"`+BobPassword+`"`) // truncated JSON
	c.as("", "").post("/api/v1/login", `{"totp":{"login":{"user":{"username":"alice"},"password":{"digest":"d1g3st","algorithm":"sha-256"}},"code":"123456"},`+
		`"list":[{"resume":"`+BotToken+`"}],"nested":{"password":"`+BobPassword+`"}}`)
	logged := s.Requests()
	require.Len(t, logged, 5)
	assert.JSONEq(t, `{"user":"alice","password":"<redacted>","code":"<redacted>"}`, string(logged[0].Body))
	assert.JSONEq(t, `{"resume":"<redacted>"}`, string(logged[1].Body))
	assert.Equal(t, "code=%3Credacted%3E&password=%3Credacted%3E&user=bob", string(logged[2].Body), "form login redacted")
	assert.Empty(t, logged[3].Body, "an unparseable login body is not logged")
	assert.JSONEq(t, `{"totp":{"login":{"user":{"username":"alice"},"password":"<redacted>"},"code":"<redacted>"},`+
		`"list":[{"resume":"<redacted>"}],"nested":{"password":"<redacted>"}}`, string(logged[4].Body), "nested secrets redacted")
	for i, r := range logged {
		for _, secret := range []string{AlicePassword, BobPassword, BotToken, "123456", "987654", "d1g3st"} {
			assert.NotContains(t, string(r.Body), secret, "login %d", i)
		}
	}

	reqs[0].Query.Set("x", "y") // a copy
	assert.Empty(t, s.Requests()[0].Query.Get("x"))
	s.ResetRequests()
	assert.Empty(t, s.Requests())
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	c := botClient(t, s)

	t.Run("PostMessage", func(t *testing.T) {
		before, _ := s.Subscription(BotUsername, RandomRoomID)
		clk.Add(time.Second)
		m, err := s.PostMessage(AliceUsername, RandomRoomID, "hey @"+BotUsername+" and @here")
		require.NoError(t, err)
		assert.Equal(t, RandomRoomID, m.RoomID)
		assert.Equal(t, AliceUsername, m.Username)
		assert.Equal(t, clk.Now(), m.TS)
		after, _ := s.Subscription(BotUsername, RandomRoomID)
		assert.Equal(t, before.Unread+1, after.Unread)
		assert.Equal(t, before.UserMentions+1, after.UserMentions)
		assert.Equal(t, before.GroupMentions, after.GroupMentions, "a user mention has priority over @here")
		assert.True(t, after.Alert)
		assert.Equal(t, clk.Now(), after.UpdatedAt)
		msgs := s.Messages(RandomRoomID)
		assert.Equal(t, m, msgs[len(msgs)-1])

		_, err = s.PostMessage("nobody", RandomRoomID, "x")
		assert.Error(t, err)
		_, err = s.PostMessage(AliceUsername, "nope", "x")
		assert.Error(t, err)
		_, err = s.PostMessage(CarolUsername, OpsRoomID, "x")
		assert.Error(t, err, "not a member of a private group")
		_, err = s.PostMessage(CarolUsername, RandomRoomID, "joined")
		assert.NoError(t, err, "a public channel is joined")
		assert.Nil(t, s.Messages("nope"))
	})

	t.Run("Add and Remove subscriptions", func(t *testing.T) {
		clk.Add(time.Second)
		cursor := clk.Now()
		clk.Add(time.Millisecond)
		require.NoError(t, s.AddSubscription(BotUsername, NoSubRoomID))
		require.NoError(t, s.AddSubscription(BotUsername, NoSubRoomID), "idempotent")
		sub, ok := s.Subscription(BotUsername, NoSubRoomID)
		require.True(t, ok)
		assert.Equal(t, clk.Now(), sub.UpdatedAt)
		m := getSubs(t, c, cursor.Format(timeLayout))
		assert.Contains(t, subsByRoom(t, m), NoSubRoomID, "inserted appears in update")

		clk.Add(time.Millisecond)
		require.NoError(t, s.RemoveSubscription(BotUsername, NoSubRoomID))
		_, ok = s.Subscription(BotUsername, NoSubRoomID)
		assert.False(t, ok)
		m = getSubs(t, c, cursor.Format(timeLayout))
		assert.NotContains(t, subsByRoom(t, m), NoSubRoomID)
		assert.Equal(t, []any{map[string]any{"_id": sub.ID, "_deletedAt": clk.Now().Format(timeLayout)}}, m["remove"])
		assert.JSONEq(t, `{"subscription":null,"success":true}`, string(c.get("/api/v1/subscriptions.getOne?roomId="+NoSubRoomID).body))

		assert.Error(t, s.RemoveSubscription(BotUsername, NoSubRoomID), "already removed")
		assert.Error(t, s.AddSubscription("nobody", GeneralRoomID))
		assert.Error(t, s.AddSubscription(BotUsername, "nope"))
		assert.Error(t, s.RemoveSubscription("nobody", GeneralRoomID))
		_, ok = s.Subscription("nobody", GeneralRoomID)
		assert.False(t, ok)
	})

	t.Run("CreateToken", func(t *testing.T) {
		uid, tok := s.CreateToken(BobUsername)
		assert.Equal(t, BobUserID, uid)
		r := c.as(uid, tok).get("/api/v1/me")
		require.Equal(t, 200, r.status)
		assert.Equal(t, BobUsername, r.json(t)["username"])
		_, tok2 := s.CreateToken(BobUsername)
		assert.NotEqual(t, tok, tok2)
		assert.Panics(t, func() { s.CreateToken("nobody") })
	})
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithSubscriptions(100))
	c := botClient(t, s)
	alice := c.as(s.CreateToken(AliceUsername))
	before, _ := s.Subscription(BotUsername, GeneralRoomID)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if r := alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": fmt.Sprintf("@%s w%d m%d", BotUsername, w, i)}); r.status != 200 {
					errs <- fmt.Errorf("post: %d %s", r.status, r.body)
				}
				if r := c.get("/api/v1/subscriptions.get"); r.status != 200 {
					errs <- fmt.Errorf("get: %d", r.status)
				}
				if r := c.get("/api/v1/subscriptions.getOne?roomId=" + RandomRoomID); r.status != 200 {
					errs <- fmt.Errorf("getOne: %d", r.status)
				}
				if _, err := s.PostMessage(BobUsername, RandomRoomID, "helper"); err != nil {
					errs <- err
				}
				_ = s.Requests()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	after, _ := s.Subscription(BotUsername, GeneralRoomID)
	assert.Equal(t, before.Unread+workers*each, after.Unread, "every concurrent mention counted once")
	assert.Len(t, s.Messages(RandomRoomID), 2+workers*each)
}

func TestRunActivity(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	count := func() int {
		return len(s.Messages(GeneralRoomID)) + len(s.Messages(RandomRoomID)) + len(s.Messages(DMAliceRoomID))
	}
	base := count()
	go func() {
		defer close(done)
		s.RunActivity(ctx, time.Millisecond)
	}()
	require.Eventually(t, func() bool { return count() >= base+18 }, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunActivity did not end on cancel")
	}
	n := count()
	var all []MessageInfo
	for _, rid := range []string{GeneralRoomID, RandomRoomID, DMAliceRoomID} {
		all = append(all, s.Messages(rid)...)
	}
	mentions, posted := 0, 0
	posters := map[string]bool{}
	for _, m := range all {
		if time.Since(m.TS) > time.Minute {
			continue // seeded
		}
		posted++
		posters[m.Username] = true
		if strings.Contains(m.Text, "@"+BotUsername) {
			mentions++
		}
	}
	assert.Equal(t, n-base, posted)
	assert.InDelta(t, float64(posted)/3, float64(mentions), float64(posted)/6+1, "about one in three mentions the bot")
	assert.Equal(t, map[string]bool{AliceUsername: true, BobUsername: true, CarolUsername: true}, posters)
	assert.Equal(t, n, count(), "nothing posted after cancel")
}

func TestRunActivityEndsOnClose(t *testing.T) {
	t.Parallel()
	s := NewServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunActivity(context.Background(), time.Hour)
	}()
	s.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunActivity did not end on Close")
	}
}

func TestListenAndClose(t *testing.T) {
	t.Parallel()
	s, err := Listen("127.0.0.1:0", WithSubscriptions(3))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"))
	assert.False(t, strings.HasSuffix(s.URL, "/"))
	c := botClient(t, s)
	r := c.get("/api/v1/subscriptions.get")
	require.Equal(t, 200, r.status)
	assert.Len(t, r.json(t)["update"], 10)

	// A second Listen on the same address fails.
	addr := strings.TrimPrefix(s.URL, "http://")
	_, err = Listen(addr)
	assert.Error(t, err)

	s.Close()
	s.Close() // idempotent
	c.hc.CloseIdleConnections()
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the listener is closed")
	resp, err := c.hc.Get(s.URL + "/api/info")
	if resp != nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "request after Close fails: %v", err)
}

func TestListenBadAddress(t *testing.T) {
	t.Parallel()
	_, err := Listen("256.0.0.1:bad")
	assert.Error(t, err)
}

// stalledWriter is a client that does not read its response: Write blocks
// until release is closed.
type stalledWriter struct {
	h       http.Header
	writing chan struct{} // closed when Write is first entered
	once    sync.Once
	release chan struct{}
}

func (w *stalledWriter) Header() http.Header { return w.h }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.writing) })
	<-w.release
	return len(b), nil
}

// TestSlowClientDoesNotBlockServer: while one response cannot be written,
// the server still serves others (no response is written under the lock).
func TestSlowClientDoesNotBlockServer(t *testing.T) {
	t.Parallel()
	s := startServer(t, WithBotRoles("bot"))
	m, err := s.PostMessage(AliceUsername, GeneralRoomID, "to mark unread")
	require.NoError(t, err)
	cases := []struct{ name, path, body string }{
		{"login", "/api/v1/login", `{"user":"alice","password":"` + AlicePassword + `"}`},
		{"login failure", "/api/v1/login", `{"user":"alice","password":"wrong"}`},
		{"subscriptions.read", "/api/v1/subscriptions.read", `{"rid":"` + GeneralRoomID + `"}`},
		{"subscriptions.unread", "/api/v1/subscriptions.unread", `{"firstUnreadMessage":{"_id":"` + m.ID + `"}}`},
		{"chat.postMessage", "/api/v1/chat.postMessage", `{"roomId":"` + GeneralRoomID + `","text":"hi","alias":"A"}`},
		{"chat.postMessage failure", "/api/v1/chat.postMessage", `{"roomId":"nope","text":"hi"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := &stalledWriter{h: http.Header{}, writing: make(chan struct{}), release: make(chan struct{})}
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-User-Id", BotUserID)
			req.Header.Set("X-Auth-Token", BotToken)
			served := make(chan struct{})
			go func() {
				defer close(served)
				s.ServeHTTP(w, req)
			}()
			defer func() {
				close(w.release)
				<-served
			}()
			select {
			case <-w.writing:
			case <-time.After(10 * time.Second):
				t.Fatal("the response was never written")
			}
			other := make(chan bool, 1)
			go func() {
				_, ok := s.Subscription(BotUsername, GeneralRoomID)
				other <- ok
			}()
			select {
			case ok := <-other:
				assert.True(t, ok)
			case <-time.After(5 * time.Second):
				t.Fatal("the server is blocked by a client that does not read its response")
			}
		})
	}
}

func TestRequestLogKeepsTheLatest(t *testing.T) {
	t.Parallel()
	const capacity = 5
	s := startServer(t, func(c *config) { c.maxRequests = capacity })
	c := botClient(t, s)
	get := func(i int) { c.get("/api/v1/users.info?username=u" + strconv.Itoa(i)) }
	for i := range 3 {
		get(i)
	}
	names := func() []string {
		var out []string
		for _, r := range s.Requests() {
			out = append(out, r.Query.Get("username"))
		}
		return out
	}
	assert.Equal(t, []string{"u0", "u1", "u2"}, names(), "below capacity")
	for i := 3; i < 12; i++ {
		get(i)
	}
	assert.Equal(t, []string{"u7", "u8", "u9", "u10", "u11"}, names(), "the oldest dropped, oldest first")
	s.ResetRequests()
	assert.Empty(t, s.Requests())
	for i := 20; i < 26; i++ {
		get(i)
	}
	assert.Equal(t, []string{"u21", "u22", "u23", "u24", "u25"}, names(), "after a reset")
}

// TestMembershipFollowsSubscriptions: a user is a member of a room exactly
// while subscribed to it, for the helpers and chat.postMessage alike.
func TestMembershipFollowsSubscriptions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	require.NoError(t, s.RemoveSubscription(AliceUsername, RandomRoomID))
	_, err := s.PostMessage(BobUsername, RandomRoomID, "@alice are you there?")
	require.NoError(t, err)
	_, ok := s.Subscription(AliceUsername, RandomRoomID)
	assert.False(t, ok, "a removed subscription is no membership: no update")

	// Posting to a public channel joins it again, through either path.
	_, err = s.PostMessage(AliceUsername, RandomRoomID, "back")
	require.NoError(t, err)
	_, ok = s.Subscription(AliceUsername, RandomRoomID)
	assert.True(t, ok, "the helper joined the channel")
	require.NoError(t, s.RemoveSubscription(BotUsername, RandomRoomID))
	r := botClient(t, s).post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "me too"})
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
	_, err = s.PostMessage(AliceUsername, RandomRoomID, "welcome back")
	require.NoError(t, err)
	st, ok := s.Subscription(BotUsername, RandomRoomID)
	require.True(t, ok, "the route joined the channel")
	assert.True(t, st.Alert, "and the bot is a member that gets updates")

	// Anything but a public channel is refused, through either path.
	require.NoError(t, s.RemoveSubscription(BobUsername, OpsRoomID))
	_, err = s.PostMessage(BobUsername, OpsRoomID, "let me in")
	assert.Error(t, err)
	require.NoError(t, s.RemoveSubscription(BotUsername, OpsRoomID))
	r = botClient(t, s).post("/api/v1/chat.postMessage", map[string]any{"roomId": OpsRoomID, "text": "let me in"})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.JSONEq(t, `{"success":false,"error":"error-not-allowed"}`, string(r.body))

	// A direct room is named after the other member on both sides.
	bot, _ := s.Subscription(BotUsername, DMAliceRoomID)
	alice, _ := s.Subscription(AliceUsername, DMAliceRoomID)
	assert.Equal(t, AliceUsername, bot.Name)
	assert.Equal(t, BotUsername, alice.Name)
}

// TestRequestBodyLimit: a request body over 8 MiB is answered 413 with a
// body saying so, whether it comes with a Content-Length or chunked, and
// nothing of it is applied; one of exactly 8 MiB is read whole (here the
// route's own size check answers).
func TestRequestBodyLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	before := len(s.Messages(GeneralRoomID))
	post := func(size int, chunked bool) response {
		t.Helper()
		head := `{"channel":"#general","text":"`
		text := strings.Repeat("a", size-len(head)-2)
		var rd io.Reader = strings.NewReader(head + text + `"}`)
		if chunked {
			rd = io.MultiReader(rd) // no length known: sent chunked
		}
		return bot.post("/api/v1/chat.postMessage", rd)
	}
	const tooLarge = `{"success":false,"error":"rctest: request body larger than 8 MiB (the fake server's limit)"}`
	wantBody(t, post(8<<20+1, false), 413, tooLarge)
	wantBody(t, post(15<<20, false), 413, tooLarge)
	wantBody(t, post(15<<20, true), 413, tooLarge)
	wantBody(t, post(8<<20, false), 400,
		`{"success":false,"error":"Message size exceeds Message_MaxAllowedSize [error-message-size-exceeded]","errorType":"error-message-size-exceeded"}`)
	assert.Len(t, s.Messages(GeneralRoomID), before, "nothing posted")
}

// TestEndpointsAreServed: every endpoint Endpoints lists is served (by
// GET or POST, not the 404 of an unknown one), and an unknown one is not
// listed.
func TestEndpointsAreServed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	eps := Endpoints()
	assert.Contains(t, eps, "chat.postMessage")
	assert.Contains(t, eps, "rooms.info")
	assert.NotContains(t, eps, "info", "/api/info is not under /api/v1/")
	assert.True(t, slices.IsSorted(eps))
	notFound := `{"success":false,"error":"Resource not found"}`
	for _, ep := range eps {
		if ep == "logout" {
			continue // would end the bot's session; served by both methods
		}
		get, post := bot.get("/api/v1/"+ep), bot.post("/api/v1/"+ep, map[string]any{})
		assert.False(t, string(get.body) == notFound && string(post.body) == notFound, "%s is served", ep)
	}
	assert.JSONEq(t, notFound, string(bot.get("/api/v1/chat.nope").body), "an unknown endpoint")
}
