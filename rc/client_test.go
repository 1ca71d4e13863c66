package rc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		opts    []Option
		wantErr string
		wantAPI string
	}{
		{name: "plain", url: "https://chat.example.com", wantAPI: "https://chat.example.com/api/v1/"},
		{name: "trailing slash", url: "https://chat.example.com/", wantAPI: "https://chat.example.com/api/v1/"},
		{name: "sub-path", url: "https://example.com/chat", wantAPI: "https://example.com/chat/api/v1/"},
		{name: "sub-path slash", url: "https://example.com/chat//", wantAPI: "https://example.com/chat/api/v1/"},
		{name: "port", url: "http://127.0.0.1:3000", wantAPI: "http://127.0.0.1:3000/api/v1/"},
		{name: "empty", url: "", wantErr: `invalid base URL "": not a URL`},
		{name: "fragment before a query", url: "https://chat.example.com/#" + testToken + "?x=1", wantErr: "#(fragment hidden): it must not have a query or a fragment"},
		{name: "query before a fragment", url: "https://chat.example.com/?t=" + testToken + "#x", wantErr: "?(query hidden): it must not have a query or a fragment"},
		{name: "user info", url: "https://bot:" + testPass + "@chat.example.com", wantErr: "must not contain credentials"},
		{name: "fragment", url: "https://chat.example.com/#" + testToken, wantErr: "query or a fragment"},
		{name: "API address", url: "https://chat.example.com/api/v1/", wantErr: "must not end in /api/v1: give the server's address, e.g. https://chat.example.com"},
		{name: "no scheme", url: "chat.example.com", wantErr: "scheme must be http or https"},
		{name: "ftp", url: "ftp://chat.example.com", wantErr: "scheme must be http or https"},
		{name: "no host", url: "https:///x", wantErr: "no host"},
		{name: "query", url: "https://chat.example.com/?a=1", wantErr: "query or a fragment"},
		{name: "bad escape", url: "https://chat.example.com/%zz", wantErr: "invalid base URL"},
		{name: "control char", url: "https://user:" + testPass + "@chat.example.com/\x7f", wantErr: "invalid base URL"},
		{name: "empty user id", url: "https://x", opts: []Option{WithToken("", testToken)}, wantErr: "empty user id"},
		{name: "empty token", url: "https://x", opts: []Option{WithToken("u", "")}, wantErr: "empty token"},
		{name: "nil http client", url: "https://x", opts: []Option{WithHTTPClient(nil)}, wantErr: "nil *http.Client"},
		{name: "negative timeout", url: "https://x", opts: []Option{WithTimeout(-1)}, wantErr: "negative duration"},
		{name: "empty user agent", url: "https://x", opts: []Option{WithUserAgent("")}, wantErr: "empty user agent"},
		{name: "zero body size", url: "https://x", opts: []Option{WithMaxBodySize(0)}, wantErr: "must be positive"},
		{name: "negative retry", url: "https://x", opts: []Option{WithRetry(RetryPolicy{MaxAttempts: -1})}, wantErr: "negative"},
		{name: "min over max backoff", url: "https://x", opts: []Option{WithRetry(RetryPolicy{MinBackoff: time.Minute, MaxBackoff: time.Second})}, wantErr: "larger than MaxBackoff"},
		{name: "nil option ignored", url: "https://x", opts: []Option{nil}, wantAPI: "https://x/api/v1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.url, tt.opts...)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), testPass)
				assert.NotContains(t, err.Error(), testToken)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantAPI, c.apiBase)
		})
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c, err := New("https://chat.example.com")
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, c.timeout)
	assert.Equal(t, int64(32<<20), c.maxBody)
	assert.Nil(t, c.retry, "retries off by default")
	assert.Equal(t, DefaultUserAgent, c.userAgent, "the application sets its own, with its version")
	tr, ok := c.hc.Transport.(*http.Transport)
	require.True(t, ok, "a tuned *http.Transport by default")
	assert.GreaterOrEqual(t, tr.MaxIdleConnsPerHost, 16)
	assert.False(t, tr.DisableKeepAlives)

	c, err = New("https://chat.example.com", WithRetry(RetryPolicy{}), WithUserAgent("bot/1"), WithTimeout(0))
	require.NoError(t, err)
	assert.Equal(t, &RetryPolicy{MaxAttempts: DefaultMaxAttempts, MinBackoff: DefaultMinBackoff,
		MaxBackoff: DefaultMaxBackoff, MaxRateLimitWait: DefaultMaxRateLimitWait}, c.retry)
	assert.Equal(t, "bot/1", c.userAgent)
	assert.Zero(t, c.timeout)
}

func TestCustomHTTPClientAndUserAgent(t *testing.T) {
	t.Parallel()
	var seen []string
	var mu sync.Mutex
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		seen = append(seen, r.URL.String()+" "+r.Header.Get("User-Agent"))
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})
	c, mux, _ := setup(t, WithHTTPClient(&http.Client{Transport: rt}), WithUserAgent("custom/2"))
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "custom/2", r.Header.Get("User-Agent"))
		writeJSON(w, 200, `{"_id":"U","success":true}`)
	})
	_, err := c.MeRaw(context.Background())
	require.NoError(t, err)
	require.Len(t, seen, 1, "the custom client carried the request")
	assert.True(t, strings.HasSuffix(seen[0], "/api/v1/me custom/2"), seen[0])
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	_, mux, srv := setup(t)
	c, err := New(srv.URL) // no token: a login client
	require.NoError(t, err)
	var logouts int
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testAuth(t, r, "", "")
		var body map[string]string
		require.NoError(t, jsonDecode(r, &body))
		assert.Equal(t, "bot", body["user"])
		assert.Equal(t, testPass, body["password"])
		switch body["code"] {
		case "":
			assert.NotContains(t, body, "code", "no code key without a code")
			writeJSON(w, 401, `{"success":false,"error":"totp-required","status":"error","details":{"method":"totp","availableMethods":["totp"]},"message":"TOTP Required"}`)
		case "123456":
			writeJSON(w, 200, `{"status":"success","data":{"userId":"U1","authToken":"`+testToken+`","me":{"_id":"U1"}},"success":true}`)
		default:
			writeJSON(w, 401, `{"success":false,"error":"totp-invalid","status":"error","details":{"method":"totp"},"message":"TOTP Invalid"}`)
		}
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		testAuth(t, r, "U1", testToken)
		writeJSON(w, 200, `{"_id":"U1","username":"bot","success":true}`)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		testMethod(t, r, "POST")
		testAuth(t, r, "U1", testToken)
		logouts++
		w.WriteHeader(200) // 8.x may answer an empty body
	})
	ctx := context.Background()

	err = c.Login(ctx, "bot", testPass)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTOTPRequired)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "totp", e.Details["method"])
	assert.NotContains(t, err.Error(), testPass)
	assert.ErrorIs(t, c.Logout(ctx), ErrNotLoggedIn, "nothing to log out yet")

	err = c.LoginWithTOTP(ctx, "bot", testPass, "000000")
	assert.NotErrorIs(t, err, ErrTOTPRequired)
	assert.ErrorIs(t, err, ErrUnauthorized)

	require.NoError(t, c.LoginWithTOTP(ctx, "bot", testPass, "123456"))
	assert.Contains(t, c.String(), "session")
	u, err := c.Me(ctx)
	require.NoError(t, err)
	assert.Equal(t, "bot", u.Username)

	require.NoError(t, c.Logout(ctx))
	assert.Equal(t, 1, logouts)
	assert.ErrorIs(t, c.Logout(ctx), ErrNotLoggedIn, "the session is forgotten")
	assert.Equal(t, 1, logouts)
}

func TestLogoutRefusesToken(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t) // any request fails the test
	err := c.Logout(context.Background())
	require.ErrorIs(t, err, ErrNotLoggedIn)
	assert.Contains(t, err.Error(), "personal access token")
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{}))
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"success":false,"error":403,"status":"error","message":"Incorrect password"}`)
	})
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`)
	})
	ctx := context.Background()
	loginErr := c.Login(ctx, "bot", testPass)
	require.Error(t, loginErr)
	_, meErr := c.Me(ctx)
	require.Error(t, meErr)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, ctxErr := c.Me(canceled)
	require.Error(t, ctxErr)
	opt := WithToken(testUserID, testToken)
	policy := RetryPolicy{MaxAttempts: 2}

	values := map[string]any{
		"client": c, "client value": struct{ C *Client }{c}, "services": c.Subscriptions,
		"option": opt, "options": []Option{opt}, "policy": policy,
		"login error": loginErr, "me error": meErr, "ctx error": ctxErr,
	}
	var e *Error
	require.ErrorAs(t, meErr, &e)
	values["*Error"] = e
	values["Error"] = *e
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			s := fmt.Sprintf(verb, v)
			assert.NotContains(t, s, testToken, "%s printed with %s", name, verb)
			assert.NotContains(t, s, testPass, "%s printed with %s", name, verb)
		}
	}
	assert.Equal(t, fmt.Sprintf("rc.Client{url=%s auth=token user=%q}", strings.TrimSuffix(c.root, "/"), testUserID), fmt.Sprint(c))
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	mux.HandleFunc("/subscriptions.getOne", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") == "" {
			writeJSON(w, 401, `{"success":false,"error":"no"}`)
			return
		}
		writeJSON(w, 200, `{"subscription":`+subJSON+`,"success":true}`)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"status":"success","data":{"userId":"U2","authToken":"tok2"},"success":true}`)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) })
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				switch {
				case i == 0 && j%5 == 0:
					errs <- c.Login(ctx, "bot", testPass)
				case i == 1 && j%7 == 0:
					if err := c.Logout(ctx); err != nil && !errors.Is(err, ErrNotLoggedIn) {
						errs <- err
					}
				default:
					s, err := c.Subscriptions.GetOne(ctx, "GENERAL")
					if err == nil && s.RoomID != "GENERAL" {
						err = fmt.Errorf("wrong room %q", s.RoomID)
					}
					if errors.Is(err, ErrUnauthorized) {
						err = nil // between a logout and the next login
					}
					errs <- err
				}
				_ = c.String()
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		assert.NoError(t, err)
		n++
	}
	assert.Greater(t, n, 100)
}

func TestRedirectDropsCredentialsAcrossHosts(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		testAuth(t, r, "", "")
		writeJSON(w, 200, `{"_id":"U","success":true}`)
	}))
	t.Cleanup(other.Close)
	c, mux, _ := setup(t)
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/v1/me2", http.StatusFound)
	})
	mux.HandleFunc("/me2", func(w http.ResponseWriter, r *http.Request) {
		testAuth(t, r, testUserID, testToken) // same host: kept
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
	})
	_, err := c.MeRaw(context.Background())
	require.NoError(t, err)
}

// TestRedirectKeepsSecretsOnServer: net/http forwards custom headers such
// as X-Auth-Token to another host, and re-sends a body (a login's password)
// on a 307/308; the client must do neither, with its own *http.Client or
// with one given by WithHTTPClient.
func TestRedirectKeepsSecretsOnServer(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		leaked = append(leaked, r.Method+" "+r.URL.Path+" token="+r.Header.Get("X-Auth-Token")+" body="+string(b))
		mu.Unlock()
		writeJSON(w, 200, `{"status":"success","data":{"userId":"U","authToken":"T"},"_id":"U","success":true}`)
	}))
	t.Cleanup(other.Close)
	clients := map[string][]Option{
		"default client":                 nil,
		"WithHTTPClient":                 {WithHTTPClient(&http.Client{})},
		"WithHTTPClient with own policy": {WithHTTPClient(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }})},
	}
	for name, opts := range clients {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			leaked = nil
			mu.Unlock()
			c, mux, _ := setup(t, opts...)
			mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/me", http.StatusFound)
			})
			mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/login", http.StatusTemporaryRedirect)
			})
			mux.HandleFunc("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+"/post", http.StatusPermanentRedirect)
			})
			ctx := context.Background()
			_, err := c.MeRaw(ctx)
			require.NoError(t, err, "a GET follows the redirect, without credentials")
			err = c.Login(ctx, "bot", testPass)
			require.Error(t, err, "a login is not re-sent to another host")
			assert.NotContains(t, err.Error(), testPass)
			_, err = c.Chat.PostMessageRaw(ctx, &PostMessage{RoomID: "R", Text: "x"})
			require.Error(t, err, "a POST body is not re-sent to another host")
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []string{"GET /me token= body="}, leaked, "what the other host received")
		})
	}
}

func TestRedirectSameHostKeepsCredentials(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithHTTPClient(&http.Client{}))
	mux.HandleFunc("/subscriptions.read", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/api/v1/subscriptions.read2", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/subscriptions.read2", func(w http.ResponseWriter, r *http.Request) {
		testAuth(t, r, testUserID, testToken)
		testBody(t, r, `{"rid":"R"}`)
		writeJSON(w, 200, `{"success":true}`)
	})
	require.NoError(t, c.Subscriptions.Read(context.Background(), "R", nil))
}

func TestHTTPClientAccessor(t *testing.T) {
	t.Parallel()
	tr := &http.Transport{}
	c, err := New("http://chat.example.com", WithHTTPClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	assert.Same(t, tr, c.HTTPClient().Transport, "the given client's transport")
	c, err = New("http://chat.example.com")
	require.NoError(t, err)
	assert.IsType(t, &http.Transport{}, c.HTTPClient().Transport, "the client's own transport")
}
