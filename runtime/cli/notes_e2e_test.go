package cli

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// hearScript has its first message trigger on line 3, after a
// subscription one; the hear on line 4 sorts first among the labels, but
// registration order decides which the note names.
const hearScript = `-- pinger
rc.on("subscription", function() end)
rc.respond("hello", function(msg) msg:reply("hi") end)
rc.hear("^!ping$", function(msg) msg:reply("pong") end)
`

// TestE2EPollWarnsOfMessageTriggers: with --events poll, a script with
// message triggers is warned of once (its first message trigger's
// file:line and why), and status and /status carry the note; a script
// without message triggers gets none.
func TestE2EPollWarnsOfMessageTriggers(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "pinger.lua"), hearScript)
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	env := append(botEnv(s), "RCLUA_STATE_DIR="+filepath.Join(t.TempDir(), "st"))
	c := startChild(t, env, "run", "--scripts", dir, "--events", "poll", "--poll-interval", "1s",
		"--admin-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitForText(t, c.stderr, "this script's message triggers never fire", 15*time.Second)
	out := c.stderr.String()
	assert.Regexp(t, `"script":"pinger"[^\n]*"trigger":"respond \\"hello\\" \(pinger\.lua:3\)"[^\n]*"why":"--events poll`, out)
	assert.NotContains(t, out, `"script":"relay","trigger"`, "no warning for a script without message triggers")

	doc := statusJSON(t, env)
	assert.Equal(t, `its message triggers never fire (first: respond "hello" (pinger.lua:3)): --events poll polls the subscriptions and cannot deliver messages: run with --events auto or realtime`,
		scriptOf(t, doc, "pinger").Note)
	assert.Empty(t, scriptOf(t, doc, "relay").Note)
	code, text, stderr := runChild(t, env, "status")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, text, "pinger: note: its message triggers never fire")
	code, body := get(t, base+"/status")
	require.Equal(t, 200, code)
	assert.Contains(t, string(body), `"note": "its message triggers never fire`)

	// Once per script: later beats do not repeat it.
	waitFor(t, 10*time.Second, "a few beats", func() bool { return endpointCount(s, "subscriptions.get") >= 3 })
	assert.Equal(t, 1, strings.Count(c.stderr.String(), "message triggers never fire\""), "one warning:\n%s", c.stderr.String())

	// Disabling the script ends its note, but its triggers do not "fire
	// again": the source still cannot deliver messages.
	code, _, stderr = runChild(t, env, "disable", "pinger")
	require.Equal(t, 0, code, stderr)
	waitFor(t, 10*time.Second, "the note gone", func() bool { return scriptOf(t, statusJSON(t, env), "pinger").Note == "" })
	polls := endpointCount(s, "subscriptions.get")
	waitFor(t, 10*time.Second, "beats after the disable", func() bool { return endpointCount(s, "subscriptions.get") >= polls+2 })
	assert.NotContains(t, c.stderr.String(), "fire again", "the source never came back")
}

// TestE2EAutoFallbackPollsMessages: --events auto polling because the
// server refuses the websocket upgrade (a proxy without websockets) still
// answers messages, from its polls: a "!ping" in a room where the bot is
// already alerted, which changes no subscription of the bot's (§2.7), gets
// its "pong" once (the room's change tells of it), and no script is noted
// as deaf.
func TestE2EAutoFallbackPollsMessages(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // the server's clock runs ahead by it
	s := rctest.NewServer(rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	defer s.Close()
	s.RefuseUpgrade(true)
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "pinger.lua"), hearScript)
	env := append(botEnv(s), "RCLUA_STATE_DIR="+filepath.Join(t.TempDir(), "st"))
	c := startChild(t, env, "run", "--scripts", dir, "--poll-interval", "1s", "--admin-addr", "off", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "polling subscriptions.get instead", 15*time.Second)
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	rounds := func(n int) {
		t.Helper()
		polls := endpointCount(s, "subscriptions.get")
		waitFor(t, 15*time.Second, "polls", func() bool { return endpointCount(s, "subscriptions.get") >= polls+n })
	}

	// A message the bot does not answer alerts it in #random; later a
	// mention elsewhere moves the poll's cursor past that change.
	_, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "hello there")
	require.NoError(t, err)
	rounds(2)
	offset.Store(int64(time.Minute))
	_, err = s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "@"+rctest.BotUsername+" hi")
	require.NoError(t, err)
	rounds(3)
	before, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	_, err = s.PostMessage(rctest.BobUsername, rctest.RandomRoomID, "!ping")
	require.NoError(t, err)
	after, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	require.Equal(t, before.UpdatedAt, after.UpdatedAt, "the alerted subscription did not change")

	pongs := func() int {
		n := 0
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.Username == rctest.BotUsername && m.Text == "pong" {
				n++
			}
		}
		return n
	}
	waitFor(t, 15*time.Second, "the pong", func() bool { return pongs() == 1 })
	rounds(2)
	assert.Equal(t, 1, pongs(), "answered once")
	assert.NotContains(t, c.stderr.String(), "never fire")
	assert.Empty(t, scriptOf(t, statusJSON(t, env), "pinger").Note)
}
