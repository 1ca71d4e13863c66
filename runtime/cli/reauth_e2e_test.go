package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// relayScript posts "event N" in #general for every change of the bot's
// subscription to #random: the poller's events, seen from the server.
const relayScript = `-- relay: shows that subscription events arrive
local n = 0
rc.on("subscription", function(action, sub)
  if sub.rid == "` + rctest.RandomRoomID + `" then
    n = n + 1
    rc.chat.post_message { channel = "#general", text = "event " .. n }
  end
end)
`

// tickScript posts every second: a daemon whose only requests are a
// timer's, with no poller running.
const tickScript = `-- ticker: timers only
rc.every("1s", function()
  rc.chat.post_message { channel = "#general", text = "tick" }
end)
`

// revokeToken ends a personal access token the way its owner can: a
// logout made with it deletes it on the server.
func revokeToken(t *testing.T, s *rctest.Server, userID, token string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/api/v1/logout", nil)
	require.NoError(t, err)
	req.Header.Set("X-User-Id", userID)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "logout with the token")
}

// mentionInRandom makes the bot's #random subscription change.
func mentionInRandom(t *testing.T, s *rctest.Server, text string) {
	t.Helper()
	_, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "@"+rctest.BotUsername+" "+text)
	require.NoError(t, err)
}

func endpointCount(s *rctest.Server, endpoint string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// TestE2ERevokedTokenExits3 (issue 9, item 9): a personal access token
// revoked while the daemon runs stops it with exit status 3 and the
// start-up message naming the variables, whether the poller, only a timer
// or the realtime API (at its next login) meets the refusal; never a
// daemon logging 401s forever.
func TestE2ERevokedTokenExits3(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		script, events string
	}{
		"poller":     {relayScript, eventsPoll},
		"timer only": {tickScript, eventsPoll},
		// The realtime API meets the revoked token when it logs in again
		// after a disconnection.
		"realtime": {relayScript, eventsRealtime},
	} {
		script := c.script
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := rctest.NewServer()
			defer s.Close()
			uid, tok := s.CreateToken(rctest.BotUsername)
			dir := t.TempDir()
			writeScript(t, filepath.Join(dir, "probe.lua"), script)
			env := []string{"RC_URL=" + s.URL, "RC_USER_ID=" + uid, "RC_TOKEN=" + tok}
			c := startChild(t, env, "run", "--scripts", dir, "--events", c.events, "--poll-interval", "1s", "--log-format", "json", "--shutdown-timeout", "2s")
			waitForText(t, c.stderr, "rclua started", 15*time.Second)
			if script == relayScript {
				// A change before the baseline is part of it, not an event.
				waitFor(t, 10*time.Second, "the baseline", func() bool {
					if name == "realtime" && (len(s.Sessions()) != 1 || len(s.Sessions()[0].Subs) != 2) {
						return false
					}
					return endpointCount(s, "subscriptions.get") >= 1
				})
				mentionInRandom(t, s, "one")
				waitFor(t, 10*time.Second, "the first event", func() bool { return posted(s, "event 1") == 1 })
			} else {
				waitFor(t, 10*time.Second, "a tick", func() bool { return posted(s, "tick") >= 1 })
			}

			revokeToken(t, s, uid, tok)
			if name == "realtime" {
				s.DropSessions()
			}
			code := c.wait(t, 20*time.Second)
			out := c.stderr.String()
			assert.Equal(t, 3, code, "a revoked token: exit status 3; output:\n%s", out)
			last := lastLine(out)
			assert.True(t, strings.HasPrefix(last, "rclua: the server refused the credentials (401 unauthorized"), "the start-up message: %s", last)
			assert.Contains(t, last, "check RC_USER_ID and RC_TOKEN")
			assert.NotContains(t, out, tok, "the token is never printed")
			assert.Zero(t, endpointCount(s, "logout")-1, "rclua itself never logs out a token")
		})
	}
}

// TestE2EExpiredSessionLogsInAgain (issue 9, item 9): when the server
// ends a password login's session, the daemon logs in again at its next
// poll and events keep arriving; when the new login is refused, it exits 3 naming the
// password variables. The password is never printed.
func TestE2EExpiredSessionLogsInAgain(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(rctest.BotPassword+"\n"), 0o600))
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	env := []string{"RC_URL=" + s.URL, "RC_USER=" + rctest.BotUsername, "RC_PASSWORD_FILE=" + pwFile}
	c := startChild(t, env, "run", "--scripts", dir, "--events", "poll", "--poll-interval", "1s", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	// A change before the baseline is part of it, not an event: the second
	// poll starts after the first (the baseline) ended.
	waitFor(t, 10*time.Second, "the baseline", func() bool { return endpointCount(s, "subscriptions.get") >= 2 })
	mentionInRandom(t, s, "one")
	waitFor(t, 10*time.Second, "the first event", func() bool { return posted(s, "event 1") == 1 })
	require.Equal(t, 1, endpointCount(s, "login"))

	require.Equal(t, 1, s.ExpireSessions(rctest.BotUsername), "the daemon's session")
	waitForText(t, c.stderr, "logged in again", 15*time.Second)
	mentionInRandom(t, s, "two")
	waitFor(t, 10*time.Second, "an event after the new login", func() bool { return posted(s, "event 2") == 1 })
	assert.Equal(t, 2, endpointCount(s, "login"), "one new login")
	select {
	case <-c.done:
		t.Fatalf("the daemon exited after a renewable session expiry:\n%s", c.stderr.String())
	default:
	}

	// The password no longer works: the next expiry stops the daemon.
	s.Fault("login", rctest.Fault{Status: http.StatusUnauthorized,
		Body: `{"status":"error","error":403,"message":"Incorrect password"}`})
	require.Equal(t, 1, s.ExpireSessions(rctest.BotUsername))
	code := c.wait(t, 20*time.Second)
	out := c.stderr.String()
	assert.Equal(t, 3, code, "a refused new login: exit status 3; output:\n%s", out)
	last := lastLine(out)
	assert.Contains(t, last, "password login of "+rctest.BotUsername)
	assert.Contains(t, last, "check RC_USER and RC_PASSWORD (or RC_PASSWORD_FILE)")
	assert.NotContains(t, out, rctest.BotPassword, "the password is never printed")
}

// lastLine is the last non-empty line of out.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}
