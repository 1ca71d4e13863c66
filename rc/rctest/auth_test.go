package rctest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const unauthorizedJSON = `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`

// Checklist 1: the 401 body has status and message; auth runs before
// parameter validation.
func TestUnauthorizedBody(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	_, aliceToken := s.CreateToken(AliceUsername)
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/me"},
		{"POST", "/api/v1/logout"},
		{"GET", "/api/v1/logout"},
		{"GET", "/api/v1/subscriptions.get"},
		{"GET", "/api/v1/subscriptions.get?count=5&updatedSince=garbage"}, // bad params: still 401
		{"GET", "/api/v1/subscriptions.getOne"},
		{"POST", "/api/v1/subscriptions.read"},
		{"POST", "/api/v1/subscriptions.unread"},
		{"POST", "/api/v1/chat.postMessage"},
		{"GET", "/api/v1/users.info"},
	}
	creds := []struct{ name, uid, token string }{
		{"no headers", "", ""},
		{"only user id", BotUserID, ""},
		{"only token", "", BotToken},
		{"wrong token", BotUserID, "not-a-token"},
		{"token of another user", BotUserID, aliceToken},
		{"unknown user", "nobody", BotToken},
	}
	for _, rt := range routes {
		for _, cr := range creds {
			t.Run(rt.method+" "+rt.path+"/"+cr.name, func(t *testing.T) {
				r := c.as(cr.uid, cr.token).do(rt.method, rt.path, "{}")
				assert.Equal(t, http.StatusUnauthorized, r.status)
				assert.JSONEq(t, unauthorizedJSON, string(r.body))
			})
		}
	}
}

func TestCommonResponseHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.Fault("users.info", Fault{Status: 500})
	c := botClient(t, s)
	cases := []struct {
		name       string
		client     *tclient
		method     string
		path       string
		wantStatus int
	}{
		{"success", c, "GET", "/api/v1/me", 200},
		{"info without auth", c.as("", ""), "GET", "/api/info", 200},
		{"validation error", c, "GET", "/api/v1/subscriptions.get?count=1", 400},
		{"unauthorized", c.as("", ""), "GET", "/api/v1/me", 401},
		{"unknown endpoint", c, "GET", "/api/v1/nope.nothing", 404},
		{"fault", c, "GET", "/api/v1/users.info?username=alice", 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.do(tc.method, tc.path, nil)
			assert.Equal(t, tc.wantStatus, r.status)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
			assert.Equal(t, "no-cache", r.header.Get("Pragma"))
		})
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/api/v1/rooms.nothing"},
		{"POST", "/api/v1/subscriptions.get"}, // wrong method
		{"GET", "/api/v1/chat.postMessage"},
		{"GET", "/somewhere"},
	} {
		r := c.do(tc.method, tc.path, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "%s %s", tc.method, tc.path)
		assert.JSONEq(t, `{"success":false,"error":"Resource not found"}`, string(r.body), "%s %s", tc.method, tc.path)
	}
}

// Checklist 6: login 200 has success next to status/data.
func TestLoginSuccess(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s).as("", "")
	sum := sha256.Sum256([]byte(AlicePassword))
	cases := []struct {
		name   string
		body   any
		wantID string
	}{
		{"user string", map[string]any{"user": "alice", "password": AlicePassword}, AliceUserID},
		{"user string is an email", map[string]any{"user": "alice@rclua.test", "password": AlicePassword}, AliceUserID},
		{"username", map[string]any{"username": "alice", "password": AlicePassword}, AliceUserID},
		{"email", map[string]any{"email": "alice@rclua.test", "password": AlicePassword}, AliceUserID},
		{"user object username", map[string]any{"user": map[string]any{"username": "alice"}, "password": AlicePassword}, AliceUserID},
		{"user object email", map[string]any{"user": map[string]any{"email": "alice@rclua.test"}, "password": AlicePassword}, AliceUserID},
		{"hashed password", map[string]any{"user": "alice", "password": map[string]any{"hashed": hex.EncodeToString(sum[:])}}, AliceUserID},
		{"case-insensitive username", map[string]any{"username": "ALICE", "password": AlicePassword}, AliceUserID},
		{"bot", map[string]any{"username": BotUsername, "password": BotPassword}, BotUserID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/api/v1/login", tc.body)
			require.Equal(t, 200, r.status, "body %s", r.body)
			m := r.json(t)
			assert.Equal(t, true, m["success"])
			assert.Equal(t, "success", m["status"])
			data := m["data"].(map[string]any)
			assert.Equal(t, tc.wantID, data["userId"])
			token := data["authToken"].(string)
			assert.Len(t, token, 43)
			me := data["me"].(map[string]any)
			assert.Equal(t, tc.wantID, me["_id"])
			assert.NotContains(t, me, "success", "data.me is the me object without success")
			// The token works.
			r = c.as(tc.wantID, token).get("/api/v1/me")
			assert.Equal(t, 200, r.status)
		})
	}
	t.Run("form-urlencoded", func(t *testing.T) {
		r := c.do("POST", "/api/v1/login", "user=bob&password=bob-password", "Content-Type", "application/x-www-form-urlencoded")
		require.Equal(t, 200, r.status, "body %s", r.body)
		assert.Equal(t, BobUserID, r.json(t)["data"].(map[string]any)["userId"])
	})
	t.Run("resume token", func(t *testing.T) {
		r := c.post("/api/v1/login", map[string]any{"resume": BotToken})
		require.Equal(t, 200, r.status, "body %s", r.body)
		data := r.json(t)["data"].(map[string]any)
		assert.Equal(t, BotUserID, data["userId"])
		assert.Equal(t, BotToken, data["authToken"])
	})
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s).as("", "")
	cases := []struct {
		name string
		body any
		want string
	}{
		{"wrong password", map[string]any{"user": "alice", "password": "nope"},
			`{"success":false,"error":403,"status":"error","message":"Incorrect password"}`},
		{"unknown user", map[string]any{"user": "mallory", "password": "x"},
			`{"success":false,"error":"Unauthorized","status":"error","message":"Unauthorized"}`},
		{"unknown email", map[string]any{"email": "mallory@x.test", "password": "x"},
			`{"success":false,"error":"Unauthorized","status":"error","message":"Unauthorized"}`},
		{"invalid resume token", map[string]any{"resume": "expired"},
			`{"success":false,"error":403,"status":"error","message":"You've been logged out by the server. Please log in again."}`},
		{"empty body", "", `{"success":false,"error":400,"status":"error","message":"Unrecognized options for login request"}`},
		{"malformed JSON is {}", "{nope", `{"success":false,"error":400,"status":"error","message":"Unrecognized options for login request"}`},
		{"password without user", map[string]any{"password": "x"},
			`{"success":false,"error":400,"status":"error","message":"Match failed"}`},
		{"rocket.cat has no password", map[string]any{"user": RocketCatUsername, "password": ""},
			`{"success":false,"error":403,"status":"error","message":"Incorrect password"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/api/v1/login", tc.body)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.JSONEq(t, tc.want, string(r.body))
			assert.NotContains(t, string(r.body), "details", "details is left out when undefined")
		})
	}
}

// Checklist 6: 2FA gives 401 totp-required with details.method; the retry
// with the code (body or header) succeeds.
func TestLoginTOTP(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.SetTOTP(AliceUsername, "123456")
	c := botClient(t, s).as("", "")
	cases := []struct {
		name       string
		body       map[string]any
		hdr        []string
		wantStatus int
		wantBody   string
	}{
		{"no code", map[string]any{"user": "alice", "password": AlicePassword}, nil, 401,
			`{"success":false,"error":"totp-required","status":"error","details":{"method":"totp","availableMethods":["totp"]},"message":"TOTP Required"}`},
		{"wrong code", map[string]any{"user": "alice", "password": AlicePassword, "code": "000000"}, nil, 401,
			`{"success":false,"error":"totp-invalid","status":"error","details":{"method":"totp"},"message":"TOTP Invalid"}`},
		{"wrong password before totp", map[string]any{"user": "alice", "password": "bad"}, nil, 401,
			`{"success":false,"error":403,"status":"error","message":"Incorrect password"}`},
		{"code in body", map[string]any{"user": "alice", "password": AlicePassword, "code": "123456"}, nil, 200, ""},
		{"code in header", map[string]any{"user": "alice", "password": AlicePassword}, []string{"x-2fa-code", "123456"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.do("POST", "/api/v1/login", tc.body, tc.hdr...)
			assert.Equal(t, tc.wantStatus, r.status, "body %s", r.body)
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, string(r.body))
			} else {
				assert.Equal(t, AliceUserID, r.json(t)["data"].(map[string]any)["userId"])
			}
		})
	}
	s.SetTOTP(AliceUsername, "")
	r := c.post("/api/v1/login", map[string]any{"user": "alice", "password": AlicePassword})
	assert.Equal(t, 200, r.status, "TOTP turned off")
}

// Checklist 9: logout deletes exactly the token it was called with, a
// personal access token too.
func TestLogout(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			s := startServer(t)
			bot := botClient(t, s)
			sess1 := bot.login(BotUsername, BotPassword)
			sess2 := bot.login(BotUsername, BotPassword)

			r := sess1.do(method, "/api/v1/logout", nil)
			require.Equal(t, 200, r.status)
			assert.JSONEq(t, `{"status":"success","data":{"message":"You've been logged out!"}}`, string(r.body))
			assert.Equal(t, 401, sess1.get("/api/v1/me").status, "the logged-out token is gone")
			assert.Equal(t, 200, sess2.get("/api/v1/me").status, "another session survives")
			assert.Equal(t, 200, bot.get("/api/v1/me").status, "the PAT survives")

			// Logout with the PAT deletes the PAT.
			r = bot.do(method, "/api/v1/logout", nil)
			require.Equal(t, 200, r.status)
			assert.Equal(t, 401, bot.get("/api/v1/me").status, "the PAT is deleted")
			assert.Equal(t, 200, sess2.get("/api/v1/me").status)
			r = bot.as("", "").post("/api/v1/login", map[string]any{"resume": BotToken})
			assert.Equal(t, 401, r.status, "the deleted PAT cannot resume")
		})
	}
}

func TestMe(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.SetTOTP(AdminUsername, "111111")
	c := botClient(t, s)
	cases := []struct {
		name      string
		client    *tclient
		id, uname string
		roles     []any
		typ       string
		totp      bool
	}{
		{"bot", c, BotUserID, BotUsername, []any{"user"}, "user", false},
		{"admin", c.as(s.CreateToken(AdminUsername)), AdminUserID, AdminUsername, []any{"admin", "user"}, "user", true},
		{"rocket.cat", c.as(s.CreateToken(RocketCatUsername)), RocketCatUserID, RocketCatUsername, []any{"bot"}, "bot", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.client.get("/api/v1/me")
			require.Equal(t, 200, r.status)
			m := r.json(t)
			assert.Equal(t, true, m["success"])
			assert.Equal(t, tc.id, m["_id"])
			assert.Equal(t, tc.uname, m["username"])
			assert.Equal(t, tc.roles, m["roles"])
			assert.Equal(t, tc.typ, m["type"])
			for _, k := range []string{"name", "status", "statusConnection", "utcOffset", "active", "settings", "avatarUrl", "isOAuthUser", "services"} {
				assert.Contains(t, m, k)
			}
			assert.True(t, strings.HasSuffix(m["avatarUrl"].(string), "/avatar/"+tc.uname))
			services := m["services"].(map[string]any)
			assert.NotContains(t, string(r.body), "-password", "no password in me")
			_, hasTOTP := services["totp"]
			assert.Equal(t, tc.totp, hasTOTP)
		})
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	r := c.as("", "").get("/api/info")
	require.Equal(t, 200, r.status)
	m := r.json(t)
	assert.Equal(t, "8.7", m["version"])
	assert.NotContains(t, m, "info", "no info without auth")

	r = c.get("/api/info")
	require.Equal(t, 200, r.status)
	m = r.json(t)
	assert.Equal(t, "8.7", m["version"])
	info := m["info"].(map[string]any)
	for _, k := range []string{"version", "build", "commit", "marketplaceApiVersion"} {
		assert.Contains(t, info, k)
	}
	assert.Equal(t, 404, c.get("/api/v1/info").status, "info lives at /api/info only")
}

func TestUsersInfo(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	cases := []struct {
		name       string
		query      url.Values
		wantStatus int
		wantID     string
		wantBody   string
	}{
		{"by userId", url.Values{"userId": {AliceUserID}}, 200, AliceUserID, ""},
		{"by username", url.Values{"username": {"bob"}}, 200, BobUserID, ""},
		{"by email", url.Values{"email": {"carol@rclua.test"}}, 200, CarolUserID, ""},
		{"with includeUserRooms", url.Values{"username": {"bob"}, "includeUserRooms": {"false"}}, 200, BobUserID, ""},
		{"none", url.Values{}, 400, "",
			`{"success":false,"errorType":"error-invalid-params","error":"must match exactly one schema in oneOf"}`},
		{"both", url.Values{"userId": {AliceUserID}, "username": {"alice"}}, 400, "",
			`{"success":false,"errorType":"error-invalid-params","error":"must match exactly one schema in oneOf"}`},
		{"unknown param", url.Values{"username": {"bob"}, "fields": {"{}"}}, 400, "",
			`{"success":false,"errorType":"error-invalid-params","error":"must NOT have additional properties"}`},
		{"unknown user", url.Values{"username": {"mallory"}}, 400, "", `{"success":false,"error":"User not found."}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/api/v1/users.info?" + tc.query.Encode())
			assert.Equal(t, tc.wantStatus, r.status, "body %s", r.body)
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, string(r.body))
				return
			}
			m := r.json(t)
			assert.Equal(t, true, m["success"])
			u := m["user"].(map[string]any)
			assert.Equal(t, tc.wantID, u["_id"])
			for _, k := range []string{"username", "name", "type", "status", "active"} {
				assert.Contains(t, u, k)
			}
		})
	}
}
