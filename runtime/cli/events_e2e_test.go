package cli

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2ERealtimeEvents: by default (--events auto) the daemon takes its
// events from the realtime API: a change reaches the script with no
// subscriptions.get after the baseline, even with a poll interval of a
// day.
func TestE2ERealtimeEvents(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--poll-interval", "24h", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	waitFor(t, 10*time.Second, "the stream and the baseline", func() bool {
		return len(s.Sessions()) == 1 && len(s.Sessions()[0].Subs) == 2 && endpointCount(s, "subscriptions.get") == 1
	})
	mentionInRandom(t, s, "one")
	waitFor(t, 10*time.Second, "the event", func() bool { return posted(s, "event 1") == 1 })
	assert.Equal(t, 1, endpointCount(s, "subscriptions.get"), "the baseline only")
}

// TestE2EEventsAutoFallsBack: with the websocket upgrade refused (a proxy
// without websockets), --events auto polls and says why, once.
func TestE2EEventsAutoFallsBack(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	s.RefuseUpgrade(true)
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--poll-interval", "1s", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "realtime events unavailable: polling subscriptions.get instead", 15*time.Second)
	waitForText(t, c.stderr, "websocket upgrade refused", time.Second)
	waitFor(t, 10*time.Second, "the baseline poll", func() bool { return endpointCount(s, "subscriptions.get") >= 1 })
	mentionInRandom(t, s, "one")
	waitFor(t, 10*time.Second, "the event by polling", func() bool { return posted(s, "event 1") == 1 })
	assert.Zero(t, s.DDPStats().Sessions)
}

// TestE2ERealtimePasswordSessionRenewed: when the server ends a password
// login's session, the realtime API's next login (after a disconnection)
// is refused; the daemon renews the session through REST, connects again
// with the new token and events keep arriving, without exiting.
func TestE2ERealtimePasswordSessionRenewed(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(rctest.BotPassword+"\n"), 0o600))
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	env := []string{"RC_URL=" + s.URL, "RC_USER=" + rctest.BotUsername, "RC_PASSWORD_FILE=" + pwFile}
	c := startChild(t, env, "run", "--scripts", dir, "--events", "realtime", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	waitFor(t, 10*time.Second, "the stream", func() bool { return len(s.Sessions()) == 1 && len(s.Sessions()[0].Subs) == 2 })

	require.Equal(t, 1, s.ExpireSessions(rctest.BotUsername))
	s.DropSessions()
	waitForText(t, c.stderr, "logged in again", 15*time.Second)
	waitFor(t, 10*time.Second, "the stream again", func() bool {
		return s.DDPStats().LoginsRefused == 1 && len(s.Sessions()) == 1 && len(s.Sessions()[0].Subs) == 2
	})
	mentionInRandom(t, s, "one")
	waitFor(t, 10*time.Second, "an event after the new login", func() bool { return posted(s, "event 1") == 1 })
	select {
	case <-c.done:
		t.Fatalf("the daemon exited after a renewable session expiry:\n%s", c.stderr.String())
	default:
	}
	assert.NotContains(t, c.stderr.String(), rctest.BotPassword)
}

// TestEventsFlagChecked: an unknown --events (or RCLUA_EVENTS) is a
// configuration error naming the values, before any connection; a bad
// --catch-up too.
func TestEventsFlagChecked(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	env := map[string]string{"RC_URL": "https://chat.example.com", "RC_USER_ID": "u1", "RC_TOKEN": "t1"}
	res := runNow(t, env, "run", "--scripts", scripts, "--events", "websocket")
	require.Error(t, res.err)
	assert.Equal(t, 2, exitCode(res.err, io.Discard))
	assert.Contains(t, res.err.Error(), `--events "websocket": want auto, realtime or poll`)

	env["RCLUA_EVENTS"] = "push"
	res = runNow(t, env, "run", "--scripts", scripts, "--catch-up", "0s")
	require.Error(t, res.err)
	assert.Contains(t, res.err.Error(), `--events "push"`)
	assert.Contains(t, res.err.Error(), "--catch-up must be a positive duration")
}

// TestE2EDevUsesRealtime: --dev takes its events from the realtime API of
// the in-process fake server.
func TestE2EDevUsesRealtime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	c := startChild(t, nil, "run", "--dev", "--dev-addr", "127.0.0.1:0", "--scripts", dir,
		"--log-level", "debug", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "realtime events connected", 15*time.Second)
	assert.NotContains(t, c.stderr.String(), "realtime events unavailable")
}
