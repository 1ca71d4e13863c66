package rctest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 7, 2, 18, 7, 35, 267_000_000, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tclient speaks to a Server through real HTTP.
type tclient struct {
	t     *testing.T
	base  string
	hc    *http.Client
	uid   string
	token string
}

func startServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// botClient is a client authenticated with the bot's personal access token.
func botClient(t *testing.T, s *Server) *tclient {
	return newClient(t, s.URL, BotUserID, BotToken)
}

func newClient(t *testing.T, base, uid, token string) *tclient {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &tclient{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, uid: uid, token: token}
}

func (c *tclient) as(uid, token string) *tclient {
	cp := *c
	cp.uid, cp.token = uid, token
	return &cp
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body %s", r.body)
	return m
}

// do sends a request; body is sent as JSON when not nil (a string is sent
// verbatim).
func (c *tclient) do(method, path string, body any, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case io.Reader:
		rd, ct = b, "application/json"
	default:
		data, err := json.Marshal(b)
		require.NoError(c.t, err)
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	require.NoError(c.t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if c.uid != "" {
		req.Header.Set("X-User-Id", c.uid)
	}
	if c.token != "" {
		req.Header.Set("X-Auth-Token", c.token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func (c *tclient) get(path string) response            { c.t.Helper(); return c.do("GET", path, nil) }
func (c *tclient) post(path string, body any) response { c.t.Helper(); return c.do("POST", path, body) }

// login logs in and returns a client with the new token.
func (c *tclient) login(user, password string) *tclient {
	c.t.Helper()
	r := c.as("", "").post("/api/v1/login", map[string]any{"user": user, "password": password})
	require.Equal(c.t, 200, r.status, "login %s: %s", user, r.body)
	data := r.json(c.t)["data"].(map[string]any)
	return c.as(data["userId"].(string), data["authToken"].(string))
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "time value %v is not a string", v)
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, s)
	tm, err := time.Parse(timeLayout, s)
	require.NoError(t, err)
	return tm
}

// subsByRoom indexes a subscriptions.get "update" list by rid.
func subsByRoom(t *testing.T, body map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, x := range body["update"].([]any) {
		m := x.(map[string]any)
		out[m["rid"].(string)] = m
	}
	return out
}
