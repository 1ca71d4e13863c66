package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// adminAddrRe finds the admin endpoint's address in the JSON log.
var adminAddrRe = regexp.MustCompile(`"admin_addr":"([^"]+)",.*"message":"admin endpoint`)

// adminURL waits for the daemon to log its admin endpoint and returns its
// base URL.
func adminURL(t *testing.T, c *child) string {
	t.Helper()
	waitForText(t, c.stderr, `"message":"admin endpoint: `, 15*time.Second)
	m := adminAddrRe.FindStringSubmatch(c.stderr.String())
	require.NotNil(t, m, "admin address in the log:\n%s", c.stderr.String())
	return "http://" + m[1]
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, base+"/metrics")
	require.Equal(t, http.StatusOK, code)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err, "the exposition parses")
	return fams
}

// value returns the value of the series of name whose labels include
// want; ok false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// rcluaSeries counts the rclua_ series and collects their label values.
func rcluaSeries(fams map[string]*dto.MetricFamily) (int, []string) {
	n := 0
	var values []string
	for name, f := range fams {
		if !strings.HasPrefix(name, "rclua_") {
			continue
		}
		for _, m := range f.GetMetric() {
			n++
			for _, l := range m.GetLabel() {
				values = append(values, l.GetValue())
			}
		}
	}
	return n, values
}

// countScript handles every subscription event and fails for #random's.
const countScript = `rc.on("subscription", function(action, sub)
  if sub.rid == "` + rctest.RandomRoomID + `" then error("random is not welcome") end
end)
`

// TestE2EMetricsScrape scrapes the real endpoint of a daemon against
// rctest: the exposition parses, carries the handler, event, REST, source
// and Go/process metrics, and its series do not grow with traffic: two
// rounds of changes to 60 rooms add no series, and no label carries a
// room or subscription id.
func TestE2EMetricsScrape(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer(rctest.WithSubscriptions(60))
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "count.lua"), countScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--admin-addr", "127.0.0.1:0",
		"--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	waitFor(t, 10*time.Second, "ready", func() bool { code, _ := get(t, base+"/readyz"); return code == http.StatusOK })

	handled := func() float64 {
		v, _ := value(scrape(t, base), "rclua_handler_calls_total", map[string]string{"script": "count", "trigger": "subscription"})
		return v
	}
	ids, err := s.TouchSubscriptions(rctest.BotUsername)
	require.NoError(t, err)
	require.Greater(t, len(ids), 60)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon output:\n%s", c.stderr.String())
		}
	})
	waitFor(t, 20*time.Second, "the first round handled", func() bool { return handled() >= float64(len(ids)) })
	first := scrape(t, base)
	n1, _ := rcluaSeries(first)

	_, err = s.TouchSubscriptions(rctest.BotUsername)
	require.NoError(t, err)
	waitFor(t, 20*time.Second, "the second round handled", func() bool { return handled() >= float64(2*len(ids)) })
	second := scrape(t, base)
	n2, values := rcluaSeries(second)
	assert.Equal(t, n1, n2, "a second round of changes to %d rooms adds no series", len(ids))
	assert.Less(t, n1, len(ids), "series are not per room")
	joined := strings.Join(values, " ")
	for _, id := range ids {
		if !assert.NotContains(t, joined, id, "no label carries a subscription id") {
			break
		}
	}
	assert.NotContains(t, joined, rctest.RandomRoomID, "no label carries a room id")

	for _, want := range []struct {
		name   string
		labels map[string]string
	}{
		{"rclua_events_received_total", map[string]string{"source": "realtime", "kind": "subscription"}},
		{"rclua_events_delivered_total", map[string]string{"source": "realtime", "kind": "subscription"}},
		{"rclua_handler_errors_total", map[string]string{"script": "count", "trigger": "subscription", "reason": "error"}},
		{"rclua_handler_duration_seconds", map[string]string{"script": "count", "trigger": "subscription"}},
		{"rclua_rest_requests_total", map[string]string{"endpoint": "subscriptions.get", "class": "2xx"}},
		{"rclua_rest_request_duration_seconds", map[string]string{"endpoint": "me"}},
		{"rclua_script_loads_total", map[string]string{"result": "ok"}},
		{"rclua_scripts", map[string]string{"state": "running"}},
		{"rclua_event_source_up", map[string]string{"source": "realtime"}},
		{"rclua_event_source_needed", map[string]string{"source": "realtime"}},
		{"rclua_scripts_backed_off", nil},
		{"rclua_event_source_state", map[string]string{"source": "realtime", "state": "realtime"}},
		{"rclua_event_source_lag_seconds", map[string]string{"source": "realtime"}},
		{"rclua_ready", nil},
		{"go_goroutines", nil},
		{"process_cpu_seconds_total", nil},
	} {
		v, ok := value(second, want.name, want.labels)
		if assert.True(t, ok, "%s%v", want.name, want.labels) && !strings.HasSuffix(want.name, "lag_seconds") &&
			want.name != "process_cpu_seconds_total" && want.name != "rclua_scripts_backed_off" {
			assert.Positive(t, v, "%s%v", want.name, want.labels)
		}
	}
	paused, _ := value(second, "rclua_scripts_backed_off", nil)
	assert.Zero(t, paused, "no script is backed off")
	v, _ := value(second, "rclua_handler_calls_total", map[string]string{"script": "count"})
	assert.GreaterOrEqual(t, v, float64(2*len(ids)))
	for _, path := range []string{"/metrics", "/status", "/readyz"} { // read-only over TCP
		resp, err := http.Post(base+path, "application/json", strings.NewReader(`{"scripts":["count"]}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "POST %s", path)
	}
	for _, path := range []string{"/reload", "/disable", "/enable"} {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(`{"scripts":["count"]}`))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, "nothing mutating on TCP: POST %s", path)
	}
}

// readyBody is the JSON of /readyz.
type readyBody struct {
	Ready   bool         `json:"ready"`
	Failing []readyCheck `json:"failing"`
}

func readyz(t *testing.T, base string) (int, readyBody) {
	t.Helper()
	code, body := get(t, base+"/readyz")
	var rb readyBody
	require.NoError(t, json.Unmarshal(body, &rb), "%s", body)
	return code, rb
}

// TestE2EReadyzSourceDown: with --events realtime, a dropped stream that
// cannot reconnect (upgrades refused) makes /readyz 503 naming the event
// source; it recovers when the server accepts upgrades again. /healthz
// stays 200 throughout: the process is alive.
func TestE2EReadyzSourceDown(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--events", "realtime", "--admin-addr", "127.0.0.1:0",
		"--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitFor(t, 15*time.Second, "ready", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })

	s.RefuseUpgrade(true)
	s.DropSessions()
	var rb readyBody
	waitFor(t, 15*time.Second, "not ready", func() bool {
		var code int
		code, rb = readyz(t, base)
		return code == http.StatusServiceUnavailable
	})
	assert.False(t, rb.Ready)
	require.Len(t, rb.Failing, 1, "%+v", rb.Failing)
	assert.Equal(t, "event_source", rb.Failing[0].Name)
	assert.Equal(t, "realtime: connecting", rb.Failing[0].Detail)
	code, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while not ready")
	fams := scrape(t, base)
	up, _ := value(fams, "rclua_event_source_up", map[string]string{"source": "realtime"})
	assert.Zero(t, up)

	s.RefuseUpgrade(false)
	waitFor(t, 30*time.Second, "ready again", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })
}

// TestE2EReadyzPollFailing: with --events poll, polls that fail (the
// server answers 5xx... here: the server is gone) make /readyz name the
// event source as failing.
func TestE2EReadyzPollFailing(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--events", "poll", "--poll-interval", "1s",
		"--admin-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitFor(t, 15*time.Second, "ready", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })
	s.Close()
	var rb readyBody
	waitFor(t, 20*time.Second, "not ready", func() bool {
		var code int
		code, rb = readyz(t, base)
		return code == http.StatusServiceUnavailable
	})
	require.Len(t, rb.Failing, 1)
	assert.Equal(t, "event_source", rb.Failing[0].Name)
	assert.Equal(t, "poll: the last poll failed", rb.Failing[0].Detail)
}

// TestE2EControl drives a daemon through the built binary: status (text
// and JSON), reload of one script, disable (persisted: a restart keeps it
// disabled, and status says so), enable; the socket has mode 0600; with
// no daemon, one clear message.
func TestE2EControl(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "st")
	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v1"))
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	env := append(botEnv(s), "RCLUA_STATE_DIR="+state)
	args := []string{"run", "--scripts", dir, "--admin-addr", "off", "--log-format", "json", "--shutdown-timeout", "2s"}

	code, _, stderr := runChild(t, env, "status")
	assert.Equal(t, 1, code)
	assert.Equal(t, "rclua: no rclua daemon is running with the state folder "+state+" (no control socket answers at "+
		filepath.Join(state, "control.sock")+"): start one with rclua run, or give the daemon's --state-dir (a --dev daemon logs its temporary one at start)\n", stderr, "one clear message")

	c := startChild(t, env, args...)
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	fi, err := os.Stat(filepath.Join(state, "control.sock"))
	require.NoError(t, err)
	assert.Equal(t, os.ModeSocket|0o600, fi.Mode(), "only the daemon's user may connect")

	code, out, stderr := runChild(t, env, "status")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "user "+rctest.BotUsername)
	assert.Regexp(t, `probe\s+running\s+[0-9a-f]{12}`, out)
	assert.Contains(t, out, "every 1s (probe.lua:3)")
	assert.Regexp(t, `probe: next every 1s \(probe\.lua:3\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in [01]s\)`, out, "when the timer ticks next")
	if pt := scriptOf(t, statusJSON(t, env), "probe").Timers; assert.Len(t, pt, 1) && assert.NotNil(t, pt[0].Next) {
		assert.Equal(t, "every 1s (probe.lua:3)", pt[0].Trigger)
		assert.WithinDuration(t, time.Now(), *pt[0].Next, 2*time.Second)
	}

	code, out, stderr = runChild(t, env, "reload", "probe")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "reloaded probe\n", out, "a named reload answers once it loaded")
	assert.Equal(t, 2, posted(s, "loaded v1"), "its top level ran again before the answer")

	// A broken file: the command fails with the load's file:line (it once
	// said "reloading" and exited 0), and the running version goes on.
	writeScript(t, filepath.Join(dir, "probe.lua"), "rc.every(1, function() end)\nlocal x = nil\nx.y = 1\n")
	waitFor(t, 10*time.Second, "the edit's failed load", func() bool { return scriptOf(t, statusJSON(t, env), "probe").FileBroken })
	code, out, stderr = runChild(t, env, "reload", "probe", "relay")
	assert.Equal(t, 1, code, "%s%s", out, stderr)
	assert.Contains(t, stderr, "reloaded relay")
	assert.Contains(t, stderr, "probe: not reloaded: ")
	assert.Contains(t, stderr, "probe.lua:3:")
	p := scriptOf(t, statusJSON(t, env), "probe")
	assert.Equal(t, "running", p.State, "the old version goes on")
	assert.True(t, p.FileBroken)
	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v1"))
	waitFor(t, 10*time.Second, "the fixed file", func() bool { return !scriptOf(t, statusJSON(t, env), "probe").FileBroken })

	code, _, stderr = runChild(t, env, "disable", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `script "nope": no such script`)
	code, _, stderr = runChild(t, env, "disable")
	assert.Equal(t, 2, code, "disable names one script")
	assert.Contains(t, stderr, "name one script")

	code, out, stderr = runChild(t, env, "disable", "probe")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "disabled probe\n", out)
	doc := statusJSON(t, env)
	p = scriptOf(t, doc, "probe")
	assert.Equal(t, "disabled", p.State)
	assert.True(t, p.Disabled)

	// A restart keeps it disabled.
	require.NoError(t, c.cmd.Process.Signal(os.Interrupt))
	require.Equal(t, 0, c.wait(t, 15*time.Second))
	loadedBefore := posted(s, "loaded v1")
	c = startChild(t, env, args...)
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	doc = statusJSON(t, env)
	p = scriptOf(t, doc, "probe")
	assert.Equal(t, "disabled", p.State, "disabled across a restart")
	assert.True(t, p.Disabled)
	assert.Equal(t, "running", scriptOf(t, doc, "relay").State)
	assert.Equal(t, loadedBefore, posted(s, "loaded v1"), "the disabled script did not load")
	var started map[string]any
	for _, line := range strings.Split(c.stderr.String(), "\n") {
		if strings.Contains(line, `"rclua started"`) {
			require.NoError(t, json.Unmarshal([]byte(line), &started))
		}
	}
	assert.Equal(t, "probe", started["disabled_scripts"], "the start line: %v", started)
	assert.Nil(t, started["failed_scripts"], "disabled is not failed")
	assert.Equal(t, "info", started["level"])

	code, out, stderr = runChild(t, env, "enable", "probe")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "enabled probe\n", out)
	waitFor(t, 10*time.Second, "probe loads", func() bool { return posted(s, "loaded v1") == loadedBefore+1 })
	assert.Equal(t, "running", scriptOf(t, statusJSON(t, env), "probe").State)
	data, err := os.ReadFile(filepath.Join(state, "disabled.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"disabled":[]}`, string(data))
}

func statusJSON(t *testing.T, env []string) statusDoc {
	t.Helper()
	code, out, stderr := runChild(t, env, "status", "--json")
	require.Equal(t, 0, code, stderr)
	var doc statusDoc
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	return doc
}

func scriptOf(t *testing.T, doc statusDoc, name string) scriptDoc {
	t.Helper()
	for _, s := range doc.Scripts {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no script %s in the status: %+v", name, doc.Scripts)
	return scriptDoc{}
}

// TestE2EAdminWhileConnecting: the admin endpoint serves while the daemon
// is still reaching the server: /healthz is 200 (the process runs its
// connect loop), /readyz is 503 naming the credentials ("connecting") and
// the initial load; once the server answers, the daemon becomes ready.
func TestE2EAdminWhileConnecting(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	s.Fault("me", rctest.Fault{Status: http.StatusServiceUnavailable})
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--events", "poll", "--poll-interval", "1s",
		"--admin-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitForText(t, c.stderr, "cannot reach the Rocket.Chat server; retrying", 15*time.Second)
	code, _ := get(t, base+"/healthz")
	assert.Equal(t, http.StatusOK, code, "alive while connecting")
	code, rb := readyz(t, base)
	assert.Equal(t, http.StatusServiceUnavailable, code)
	failing := map[string]string{}
	for _, f := range rb.Failing {
		failing[f.Name] = f.Detail
	}
	assert.Equal(t, "connecting to the server", failing["credentials"])
	assert.Contains(t, failing, "initial_load")
	assert.NotContains(t, c.stderr.String(), "rclua started")

	s.ClearFaults()
	waitFor(t, 30*time.Second, "ready once connected", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })
}

// TestE2ESourceNotNeeded: with no rc.on handler the event source never
// starts, so rclua_event_source_up is 0 while rclua_event_source_needed is
// 0 too (the README's alert needs both) and the daemon is ready.
func TestE2ESourceNotNeeded(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v1"))
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--admin-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitFor(t, 15*time.Second, "ready", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })
	fams := scrape(t, base)
	needed, ok := value(fams, "rclua_event_source_needed", map[string]string{"source": "realtime"})
	require.True(t, ok)
	assert.Zero(t, needed)
	up, ok := value(fams, "rclua_event_source_up", map[string]string{"source": "realtime"})
	require.True(t, ok)
	assert.Zero(t, up, "the source does not run without a listener")
	idle, ok := value(fams, "rclua_event_source_state", map[string]string{"source": "realtime", "state": "idle"})
	require.True(t, ok)
	assert.Equal(t, 1.0, idle, "idle, not the never-run source's connecting")
}
