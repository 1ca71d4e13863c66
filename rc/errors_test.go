package rc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorShapes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	resetMS := now.Add(42 * time.Second).UnixMilli()
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		want    Error // Endpoint is always "subscriptions.get"; Reset/RetryAfter checked separately
		is      []error
		isNot   []error
		reset   time.Time
		wantErr string // substring of Error()
	}{
		{
			name: "401 legacy", status: 401,
			body: `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`,
			want: Error{Status: 401, Message: "You must be logged in to do this."},
			is:   []error{ErrUnauthorized}, isNot: []error{ErrForbidden, ErrRateLimited, ErrTOTPRequired},
			wantErr: "rc: subscriptions.get: 401 Unauthorized: You must be logged in to do this.",
		},
		{
			name: "401 9.x", status: 401, body: `{"success":false,"error":"You must be logged in to do this."}`,
			want: Error{Status: 401, Message: "You must be logged in to do this."}, is: []error{ErrUnauthorized},
		},
		{
			name: "400 with errorType", status: 400,
			body:  `{"success":false,"error":"The \"lastUpdate\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}`,
			want:  Error{Status: 400, Message: `The "lastUpdate" query parameter must be a valid date. [error-roomId-param-invalid]`, Type: "error-roomId-param-invalid"},
			isNot: []error{ErrUnauthorized, ErrForbidden, ErrRateLimited, ErrTOTPRequired},
		},
		{
			name: "400 without errorType", status: 400, body: `{"success":false,"error":"error-invalid-subscription"}`,
			want:    Error{Status: 400, Message: "error-invalid-subscription"},
			wantErr: "rc: subscriptions.get: 400 Bad Request: error-invalid-subscription",
		},
		{
			name: "400 with details", status: 400,
			body: `{"success":false,"error":"There are no messages to mark unread [error-no-message-for-unread]","errorType":"error-no-message-for-unread","details":{"method":"unreadMessages","action":"Unread_messages"}}`,
			want: Error{Status: 400, Message: "There are no messages to mark unread [error-no-message-for-unread]",
				Type: "error-no-message-for-unread", Details: map[string]any{"method": "unreadMessages", "action": "Unread_messages"}},
		},
		{
			name: "400 details not an object", status: 400, body: `{"success":false,"error":"x","details":"text"}`,
			want: Error{Status: 400, Message: "x", Details: map[string]any{"details": "text"}},
		},
		{
			name: "401 login numeric error", status: 401,
			body: `{"success":false,"error":403,"status":"error","message":"Incorrect password"}`,
			want: Error{Status: 401, Message: "Incorrect password"}, is: []error{ErrUnauthorized},
		},
		{
			name: "401 login unknown user", status: 401,
			body: `{"success":false,"error":"Unauthorized","status":"error","message":"Unauthorized"}`,
			want: Error{Status: 401, Message: "Unauthorized"},
		},
		{
			name: "401 totp required", status: 401,
			body: `{"success":false,"error":"totp-required","status":"error","details":{"method":"totp","availableMethods":["totp"]},"message":"TOTP Required"}`,
			want: Error{Status: 401, Message: "TOTP Required", Type: "totp-required",
				Details: map[string]any{"method": "totp", "availableMethods": []any{"totp"}}},
			is:      []error{ErrTOTPRequired, ErrUnauthorized},
			wantErr: "rc: subscriptions.get: 401 Unauthorized: TOTP Required (totp-required)",
		},
		{
			name: "400 totp required on other endpoint", status: 400,
			body: `{"success":false,"error":"TOTP Required [totp-required]","errorType":"totp-required","details":{"method":"totp"}}`,
			want: Error{Status: 400, Message: "TOTP Required [totp-required]", Type: "totp-required", Details: map[string]any{"method": "totp"}},
			is:   []error{ErrTOTPRequired}, isNot: []error{ErrUnauthorized},
		},
		{
			name: "403 permission", status: 403,
			body: `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}`,
			want: Error{Status: 403, Message: "User does not have the permissions required for this action [error-unauthorized]"},
			is:   []error{ErrForbidden}, isNot: []error{ErrUnauthorized},
		},
		{
			name: "status message only", status: 401, body: `{"status":"error","message":"You must be logged in to do this."}`,
			want: Error{Status: 401, Message: "You must be logged in to do this."},
		},
		{
			name: "429 with reset header", status: 429,
			header: http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(resetMS, 10)}, "X-Ratelimit-Limit": {"10"}},
			body:   `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}`,
			want:   Error{Status: 429, Message: "Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"},
			is:     []error{ErrRateLimited}, reset: time.UnixMilli(resetMS),
			wantErr: "; retry in 4",
		},
		{
			name: "429 reset from text", status: 429,
			body:  `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"}`,
			want:  Error{Status: 429, Message: "Error, too many requests. Please slow down. You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"},
			is:    []error{ErrRateLimited},
			reset: now.Add(7 * time.Second),
		},
		{
			name: "429 bare", status: 429, body: `{"success":false,"error":"Too many requests"}`,
			want: Error{Status: 429, Message: "Too many requests"}, is: []error{ErrRateLimited},
		},
		{
			name: "500 internal", status: 500, body: `{"success":false,"error":"Internal server error"}`,
			want: Error{Status: 500, Message: "Internal server error"},
		},
		{
			name: "502 html", status: 502,
			body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
			want: Error{Status: 502, Message: "502 Bad Gateway"},
		},
		{
			name: "503 html without title", status: 503,
			body: "<p>Service\n\n  unavailable " + strings.Repeat("x", 300) + "</p>",
			want: Error{Status: 503, Message: "Service unavailable " + strings.Repeat("x", 100) + "..."},
		},
		{
			name: "504 empty", status: 504, body: "",
			want: Error{Status: 504, Message: "Gateway Timeout"},
		},
		{
			name: "500 plain text", status: 500, body: "upstream connect error\n",
			want: Error{Status: 500, Message: "upstream connect error"},
		},
		{
			name: "200 success false", status: 200, body: `{"update":[{"success":false}], "success" : false, "error":"odd"}`,
			want: Error{Status: 200, Message: "odd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			mux.HandleFunc("/subscriptions.get", func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := c.Subscriptions.Get(context.Background(), nil)
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "errors.As *Error: %v", err)
			tt.want.Endpoint = "subscriptions.get"
			got := *e
			got.Reset, got.RetryAfter = time.Time{}, 0
			assert.Equal(t, tt.want, got)
			if tt.reset.IsZero() {
				assert.True(t, e.Reset.IsZero(), "no reset expected, got %v", e.Reset)
			} else {
				assert.WithinDuration(t, tt.reset, e.Reset, time.Second, "reset")
				assert.InDelta(t, float64(time.Until(tt.reset)), float64(e.RetryAfter), float64(time.Second), "retry after")
			}
			for _, s := range tt.is {
				assert.ErrorIs(t, err, s)
			}
			for _, s := range tt.isNot {
				assert.NotErrorIs(t, err, s)
			}
			if tt.wantErr != "" {
				assert.Contains(t, err.Error(), tt.wantErr)
			}
			assert.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestRateLimitReset(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name       string
		header     string
		msg        string
		wantReset  time.Time
		wantRetryA time.Duration
	}{
		{"epoch ms", strconv.FormatInt(now.Add(1500*time.Millisecond).UnixMilli(), 10), "", now.Add(1500 * time.Millisecond), 1500 * time.Millisecond},
		{"epoch ms wins over matching text", strconv.FormatInt(now.Add(1200*time.Millisecond).UnixMilli(), 10), "You must wait 2 seconds", now.Add(1200 * time.Millisecond), 1200 * time.Millisecond},
		{"text wins over a skewed clock", strconv.FormatInt(now.Add(-5*time.Minute).UnixMilli(), 10), "You must wait 42 seconds", now.Add(42 * time.Second), 42 * time.Second},
		{"epoch seconds", strconv.FormatInt(now.Add(3*time.Second).Unix(), 10), "", now.Add(3 * time.Second), 3 * time.Second},
		{"in the past", strconv.FormatInt(now.Add(-time.Second).UnixMilli(), 10), "", now.Add(-time.Second), 0},
		{"garbage header, text", "soon", "You must wait 1 second before", now.Add(time.Second), time.Second},
		{"text only", "", "Please slow down. You must wait 60 seconds before trying this endpoint again.", now.Add(time.Minute), time.Minute},
		{"nothing", "", "Too many requests", time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("X-RateLimit-Reset", tt.header)
			}
			reset, after := rateLimitReset(h, tt.msg, now)
			assert.True(t, tt.wantReset.Equal(reset), "reset: want %v, got %v", tt.wantReset, reset)
			assert.Equal(t, tt.wantRetryA, after)
		})
	}
}

func TestRateLimitRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	date := func(t time.Time) string { return t.Format(http.TimeFormat) }
	tests := []struct {
		name      string
		h         map[string]string
		msg       string
		wantAfter time.Duration
		wantZero  bool // no reset known
	}{
		{"delta seconds", map[string]string{"Retry-After": "5"}, "", 5 * time.Second, false},
		{"delta seconds, spaces", map[string]string{"Retry-After": " 12 "}, "", 12 * time.Second, false},
		{"zero", map[string]string{"Retry-After": "0"}, "", 0, false},
		{"http-date against now", map[string]string{"Retry-After": date(now.Add(30 * time.Second))}, "", 30 * time.Second, false},
		{"http-date against a skewed Date", map[string]string{
			"Retry-After": date(now.Add(-time.Hour + 20*time.Second)), "Date": date(now.Add(-time.Hour)),
		}, "", 20 * time.Second, false},
		{"http-date in the past", map[string]string{"Retry-After": date(now.Add(-time.Minute))}, "", 0, false},
		{"later than X-RateLimit-Reset: Retry-After", map[string]string{"Retry-After": "5", "X-RateLimit-Reset": ms(time.Second)}, "", 5 * time.Second, false},
		{"earlier than X-RateLimit-Reset: the reset", map[string]string{"Retry-After": "1", "X-RateLimit-Reset": ms(3 * time.Second)}, "", 3 * time.Second, false},
		{"later than the text", map[string]string{"Retry-After": "9"}, "You must wait 2 seconds", 9 * time.Second, false},
		{"earlier than the text", map[string]string{"Retry-After": "1"}, "You must wait 2 seconds", 2 * time.Second, false},
		{"negative ignored", map[string]string{"Retry-After": "-5"}, "", 0, true},
		{"garbage ignored", map[string]string{"Retry-After": "soon"}, "", 0, true},
		{"garbage ignored, reset kept", map[string]string{"Retry-After": "soon", "X-RateLimit-Reset": ms(2 * time.Second)}, "", 2 * time.Second, false},
		{"huge is a very long wait, without overflow", map[string]string{"Retry-After": "99999999999999999999"}, "", time.Duration(maxRetryAfterSeconds) * time.Second, false},
		{"hugely negative ignored", map[string]string{"Retry-After": "-99999999999999999999"}, "", 0, true},
		{"huge int64 clamped", map[string]string{"Retry-After": "9223372036854775807"}, "", time.Duration(maxRetryAfterSeconds) * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.h {
				h.Set(k, v)
			}
			reset, after := rateLimitReset(h, tt.msg, now)
			assert.Equal(t, tt.wantAfter, after)
			if tt.wantZero {
				assert.True(t, reset.IsZero(), "no reset known: %v", reset)
			} else {
				assert.True(t, now.Add(tt.wantAfter).Equal(reset), "reset: want %v, got %v", now.Add(tt.wantAfter), reset)
			}
		})
	}
}

func TestBadInputBeforeIO(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t) // the catch-all fails the test on any request
	ctx := context.Background()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"getOne empty room", func() error { _, err := c.Subscriptions.GetOne(ctx, ""); return err }, "empty room id"},
		{"getOneRaw empty room", func() error { _, err := c.Subscriptions.GetOneRaw(ctx, ""); return err }, "empty room id"},
		{"read empty room", func() error { return c.Subscriptions.Read(ctx, "", nil) }, "empty room id"},
		{"unread empty room", func() error { return c.Subscriptions.Unread(ctx, "") }, "empty room id"},
		{"unread empty message", func() error { return c.Subscriptions.UnreadFromMessage(ctx, "") }, "empty message id"},
		{"post nil", func() error { _, err := c.Chat.PostMessage(ctx, nil); return err }, "nil message"},
		{"post no target", func() error { _, err := c.Chat.PostMessage(ctx, &PostMessage{Text: "x"}); return err }, "required"},
		{"post both targets", func() error {
			_, err := c.Chat.PostMessageRaw(ctx, &PostMessage{RoomID: "R", Channel: "#c"})
			return err
		}, "exclusive"},
		{"post bad raw attachments", func() error {
			_, err := c.Chat.PostMessage(ctx, &PostMessage{RoomID: "R", RawAttachments: []byte("[{")})
			return err
		}, "not valid JSON"},
		{"users.info none", func() error { _, err := c.Users.Info(ctx, UserInfoOptions{}); return err }, "required"},
		{"users.info both", func() error {
			_, err := c.Users.InfoRaw(ctx, UserInfoOptions{UserID: "U", Username: "u"})
			return err
		}, "exclusive"},
		{"get empty endpoint", func() error { return c.Get(ctx, "", nil, nil) }, "empty endpoint"},
		{"post empty endpoint", func() error { return c.Post(ctx, "/", nil, nil) }, "empty endpoint"},
		{"getRaw endpoint with query", func() error { _, err := c.GetRaw(ctx, "x.get?a=1", nil); return err }, "invalid endpoint"},
		{"postRaw dot dot", func() error { _, err := c.PostRaw(ctx, "../x", nil); return err }, "invalid endpoint"},
		{"get /api/v1/ prefix", func() error { return c.Get(ctx, "/api/v1/me", nil, nil) },
			`rc: invalid endpoint "/api/v1/me": give it without the "/api/v1/" prefix ("me")`},
		{"getRaw api/v1/ prefix", func() error { _, err := c.GetRaw(ctx, "api/v1/rooms.info", nil); return err },
			`rc: invalid endpoint "api/v1/rooms.info": give it without the "api/v1/" prefix ("rooms.info")`},
		{"post API/V1 prefix, any case", func() error { return c.Post(ctx, "API/V1/chat.react", nil, nil) },
			`give it without the "API/V1/" prefix ("chat.react")`},
		{"postRaw bare prefix", func() error { _, err := c.PostRaw(ctx, "/api/v1/", nil); return err },
			`rc: invalid endpoint "/api/v1/": give the endpoint's name`},
		{"getRaw URL", func() error { _, err := c.GetRaw(ctx, "https://chat.example.com/api/v1/me", nil); return err },
			`rc: invalid endpoint "https://chat.example.com/api/v1/me": give the endpoint's name, not a URL`},
		{"post raw invalid json", func() error { _, err := c.PostRaw(ctx, "x", []byte("{")); return err }, "not valid JSON"},
		{"post unencodable", func() error { return c.Post(ctx, "x", func() {}, nil) }, "encoding request body"},
		{"login empty user", func() error { return c.Login(ctx, "", "pw") }, "empty user"},
		{"login empty password", func() error { return c.Login(ctx, "u", "") }, "empty password"},
		{"totp empty code", func() error { return c.LoginWithTOTP(ctx, "u", "pw", "") }, "empty two-factor code"},
		{"logout with token", func() error { return c.Logout(ctx) }, "personal access token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			var e *Error
			assert.False(t, errors.As(err, &e), "a client-side error is not *Error")
		})
	}
}

func TestBodyCap(t *testing.T) {
	t.Parallel()
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			c, mux, _ := setup(t, WithMaxBodySize(100))
			body := `{"update":[],"remove":[],"pad":"` + strings.Repeat("x", 200) + `","success":true}`
			mux.HandleFunc("/subscriptions.get", func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write([]byte(body[:50]))
				w.(http.Flusher).Flush()
				_, _ = w.Write([]byte(body[50:]))
			})
			_, err := c.Subscriptions.GetRaw(context.Background(), nil)
			require.ErrorIs(t, err, ErrBodyTooLarge)
			assert.Contains(t, err.Error(), "subscriptions.get")
			mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, `{"_id":"U","username":"u","success":true}`)
			})
			_, err = c.Me(context.Background())
			assert.NoError(t, err, "a body under the cap is read")
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	t.Parallel()
	for _, ep := range []string{"me", "/me", "//me", "subscriptions.get", "livechat/room", "api.info", "api/v10/x", "apiv1/x"} {
		assert.NoError(t, CheckEndpoint(ep), ep)
	}
	for _, ep := range []string{"", "/", "api/v1", "Api/v1/me", "rooms.info?roomId=X", "http://h/x", "a//b", "a/../b"} {
		err := CheckEndpoint(ep)
		if assert.Error(t, err, ep) && ep != "" && ep != "/" {
			assert.Contains(t, err.Error(), fmt.Sprintf("rc: invalid endpoint %q", ep))
		}
	}
}
