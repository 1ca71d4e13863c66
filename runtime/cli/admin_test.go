package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// testDaemon is a daemonState over a real host of an empty folder.
func testDaemon(t *testing.T) (*daemonState, *metrics) {
	t.Helper()
	host, err := runtime.New(runtime.Config{ScriptsDir: t.TempDir()}, runtime.Deps{}, zerolog.Nop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-host.Loaded()
	creds := credentials{mode: authToken, userID: "u1", token: "secret-token-value"}
	d := &daemonState{host: host, keeper: newAuthKeeper(creds, "https://chat.example.com", zerolog.Nop()),
		server: "https://chat.example.com", started: time.Now(), now: time.Now}
	d.heartbeat()
	return d, newMetrics(d.status)
}

// TestReadyzRevokedToken: once the keeper judges the credentials lost (a
// revoked token), /readyz fails at once, naming the credentials check,
// without the token.
func TestReadyzRevokedToken(t *testing.T) {
	t.Parallel()
	d, m := testDaemon(t)
	srv := httptest.NewServer(adminHandler(d, m))
	defer srv.Close()
	code, rb := readyz(t, srv.URL)
	require.Equal(t, http.StatusOK, code)
	assert.True(t, rb.Ready)

	d.keeper.lose(fmt.Errorf("rc: GET me: %w", rc.ErrUnauthorized))
	code, rb = readyz(t, srv.URL)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	require.Len(t, rb.Failing, 1)
	assert.Equal(t, "credentials", rb.Failing[0].Name)
	assert.Contains(t, rb.Failing[0].Detail, "the server refused the credentials")
	_, body := get(t, srv.URL+"/status")
	assert.NotContains(t, string(body), "secret-token-value")
	fams := scrape(t, srv.URL)
	v, ok := value(fams, "rclua_ready", nil)
	assert.True(t, ok)
	assert.Zero(t, v)
}

// TestHealthzStale: /healthz answers 503 once the daemon's loop stopped
// beating for longer than staleAfter.
func TestHealthzStale(t *testing.T) {
	t.Parallel()
	d, m := testDaemon(t)
	now := time.Now()
	d.now = func() time.Time { return now }
	d.heartbeat()
	srv := httptest.NewServer(adminHandler(d, m))
	defer srv.Close()
	code, _ := get(t, srv.URL+"/healthz")
	assert.Equal(t, http.StatusOK, code)
	now = now.Add(staleAfter + time.Second)
	code, body := get(t, srv.URL+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	var hb map[string]any
	require.NoError(t, json.Unmarshal(body, &hb))
	assert.Equal(t, false, hb["healthy"])
	assert.Contains(t, hb["detail"], "has not run for 16s")
}

// TestAdminAddrChecked: a bad --admin-addr is a configuration error; the
// address given explicitly and taken fails the daemon, naming it.
func TestAdminAddrChecked(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"9464", "localhost", "127.0.0.1:"} {
		err := checkAdminAddr(bad)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "want host:port")
	}
	assert.NoError(t, checkAdminAddr("off"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = serveAdmin(context.Background(), ln.Addr().String(), true, http.NotFoundHandler(), zerolog.Nop())
	require.Error(t, err, "an explicit address that is taken")
	assert.Contains(t, err.Error(), "address already in use")
	stop, err := serveAdmin(context.Background(), ln.Addr().String(), false, http.NotFoundHandler(), zerolog.Nop())
	require.NoError(t, err, "the default address taken: the endpoint is off, with a warning")
	stop()
	assert.True(t, strings.HasPrefix(defaultAdminAddr, "127.0.0.1:"), "loopback by default")
}

// TestHealthzAfterALongConnect: the beat taken before a connect that
// lasted longer than staleAfter does not make /healthz 503 once the host
// is attached: attach beats.
func TestHealthzAfterALongConnect(t *testing.T) {
	t.Parallel()
	d, m := testDaemon(t)
	host := d.host
	now := time.Now()
	d.now = func() time.Time { return now }
	d.host = nil // connecting
	d.heartbeat()
	srv := httptest.NewServer(adminHandler(d, m))
	defer srv.Close()
	now = now.Add(3 * staleAfter) // a connect that retried for long
	code, _ := get(t, srv.URL+"/healthz")
	assert.Equal(t, http.StatusOK, code, "connecting is alive")
	d.attach(host, nil, "bot", "scripts")
	code, body := get(t, srv.URL+"/healthz")
	assert.Equal(t, http.StatusOK, code, "just attached: %s", body)
}

// TestSourceDetail: /readyz words each state of each source once ("realtime:
// realtime" said nothing), and a fallback's polls say the stream is down.
func TestSourceDetail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, state, want string }{
		{"realtime", source.StateRealtime, "realtime: the stream is up"},
		{"realtime", source.StateConnecting, "realtime: connecting"},
		{"realtime", source.StatePolling, "realtime: the stream is unavailable, polling instead: the last poll succeeded"},
		{"realtime", source.StateFailing, "realtime: the stream is unavailable, polling instead: the last poll failed"},
		{"poll", source.StatePolling, "poll: the last poll succeeded"},
		{"poll", source.StateConnecting, "poll: no poll has ended yet"},
		{"poll", source.StateFailing, "poll: the last poll failed"},
	} {
		assert.Equal(t, c.want, sourceDetail(sourceDoc{Name: c.name, State: c.state}), "%s %s", c.name, c.state)
	}
}
