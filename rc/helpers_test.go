package rc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind (a request
// still in flight, a retry wait that did not end, a server not closed).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testUserID = "testUserId123"
	testToken  = "s3cr3t-t0ken-value"
	testPass   = "p4ssw0rd-value"
)

// setup starts an httptest server with a mux mounted under /api/v1/ (and
// /api/info) and a catch-all that fails the test, and a client for it with
// a token. The client's sleep is recorded instead of slept (see fakeClock).
func setup(t *testing.T, opts ...Option) (*Client, *http.ServeMux, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	api := http.NewServeMux()
	api.Handle("/api/v1/", http.StripPrefix("/api/v1", mux))
	api.Handle("/api/info", mux)
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request to %s %s", r.Method, r.URL.Path)
		http.Error(w, "unexpected", http.StatusNotImplemented)
	})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, append([]Option{WithToken(testUserID, testToken)}, opts...)...)
	require.NoError(t, err)
	return c, mux, srv
}

// fakeClock replaces a client's clock: now is fixed (advanced by sleeps),
// and every sleep is recorded and returns at once (or the context's error).
type fakeClock struct {
	mu     sync.Mutex
	t      time.Time
	sleeps []time.Duration
}

func installFakeClock(c *Client, start time.Time) *fakeClock {
	fc := &fakeClock{t: start}
	c.now = fc.now
	c.sleep = fc.sleep
	return fc
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	f.sleeps = append(f.sleeps, d)
	f.t = f.t.Add(d)
	f.mu.Unlock()
	return ctx.Err()
}

func (f *fakeClock) slept() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.sleeps...)
}

func testMethod(t *testing.T, r *http.Request, want string) {
	t.Helper()
	assert.Equal(t, want, r.Method, "method of %s", r.URL.Path)
}

func testQuery(t *testing.T, r *http.Request, want url.Values) {
	t.Helper()
	got := r.URL.Query()
	if len(want) == 0 {
		assert.Empty(t, got, "query of %s", r.URL.Path)
		return
	}
	assert.Equal(t, want, got, "query of %s", r.URL.Path)
}

func testAuth(t *testing.T, r *http.Request, userID, token string) {
	t.Helper()
	assert.Equal(t, userID, r.Header.Get("X-User-Id"), "X-User-Id of %s", r.URL.Path)
	assert.Equal(t, token, r.Header.Get("X-Auth-Token"), "X-Auth-Token of %s", r.URL.Path)
}

// testBody checks that the request body is exactly the JSON want (as
// objects: key order and spacing aside), or empty when want is "".
func testBody(t *testing.T, r *http.Request, want string) {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	if want == "" {
		assert.Empty(t, b, "body of %s", r.URL.Path)
		return
	}
	assert.JSONEq(t, want, string(b), "body of %s", r.URL.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"), "content type of %s", r.URL.Path)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// newRecorder is a server that records the path of the last request and
// answers {"success":true}.
func newRecorder(t *testing.T, path *string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*path = r.URL.Path
		mu.Unlock()
		writeJSON(w, http.StatusOK, `{"success":true,"subscription":null,"version":"8.7"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func jsonDecode(r *http.Request, v any) error {
	return json.NewDecoder(r.Body).Decode(v)
}
