package cli

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EControlWhileConnecting: while the daemon retries an unreachable
// server, its control socket answers: status says it is connecting (the
// server, since when, the last error, no secret, no script), reload is
// refused with a clear message (exit 1), disable is saved and applies at
// the load once the server answers, an unknown name is still refused, and
// rclua store list and get read the store instead of contradicting
// themselves.
func TestE2EControlWhileConnecting(t *testing.T) {
	t.Parallel()
	// A port nobody listens on, for now: the server starts there later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	url := "http://" + addr

	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "st")
	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v1"))
	writeScript(t, filepath.Join(dir, "other.lua"), `rc.chat.post_message { channel = "#general", text = "other loaded" }`+"\n")
	env := []string{"RC_URL=" + url, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + rctest.BotToken, "RCLUA_STATE_DIR=" + state}
	c := startChild(t, env, "run", "--scripts", dir, "--admin-addr", "off", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "cannot reach the Rocket.Chat server; retrying", 15*time.Second)

	code, out, stderr := runChild(t, env, "status", "--json")
	require.Equal(t, 0, code, "status answers while connecting: %s", stderr)
	var doc statusDoc
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.NotNil(t, doc.Connecting, "the status says the daemon is connecting:\n%s", out)
	assert.Equal(t, url, doc.Server)
	assert.GreaterOrEqual(t, doc.Connecting.Attempts, 1)
	assert.Contains(t, doc.Connecting.LastError, "connection refused")
	assert.NotNil(t, doc.Connecting.LastErrorAt)
	assert.False(t, doc.Ready)
	assert.Empty(t, doc.Scripts, "no script before the load")
	assert.Equal(t, dir, doc.ScriptsDir)
	assert.NotContains(t, out, rctest.BotToken, "no secret in the status")

	code, out, stderr = runChild(t, env, "status")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "connecting to "+url+" since ")
	assert.Contains(t, out, "connection refused")
	assert.Contains(t, out, "no script is loaded until the server answers")

	code, _, stderr = runChild(t, env, "reload")
	assert.Equal(t, 1, code, "reload while connecting")
	assert.Equal(t, "rclua: the daemon is connecting to "+url+"; try again once it is ready (rclua status shows its state)\n", stderr)
	assert.NotContains(t, stderr, "no rclua daemon is running")

	code, _, stderr = runChild(t, env, "disable", "nope")
	assert.Equal(t, 1, code, "an unknown script is refused while connecting too")
	assert.Contains(t, stderr, `script "nope": no such script`)
	code, _, stderr = runChild(t, env, "disable", "../probe")
	assert.Equal(t, 1, code, "a path is no script name")
	assert.Contains(t, stderr, "not a script name")

	code, out, stderr = runChild(t, env, "disable", "probe")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "disabled probe (saved: the daemon is still connecting to "+url+" and will not load it)\n", out)
	data, err := os.ReadFile(filepath.Join(state, "disabled.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"disabled":["probe"]}`, string(data))

	code, out, stderr = runChild(t, env, "store", "list")
	assert.Equal(t, 0, code, "store list reads the connecting daemon's store: %s", stderr)
	assert.Contains(t, out, "SCRIPT")
	code, _, stderr = runChild(t, env, "store", "get", "probe", "k")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `script "probe" has no key "k"`)
	code, _, stderr = runChild(t, env, "store", "list", "probe")
	assert.Equal(t, 1, code, "through the daemon too, a script without state: %s", stderr)
	assert.Contains(t, stderr, `script "probe" has no state`)
	assert.NotContains(t, stderr, "no rclua daemon is running")

	// The server comes up: the saved disable applies at the load.
	s, err := rctest.Listen(addr)
	require.NoError(t, err)
	defer s.Close()
	waitForText(t, c.stderr, "rclua started", 90*time.Second)
	waitFor(t, 10*time.Second, "other loads", func() bool { return posted(s, "other loaded") == 1 })
	doc = statusJSON(t, env)
	assert.Nil(t, doc.Connecting, "connected")
	assert.Equal(t, "disabled", scriptOf(t, doc, "probe").State, "the disable queued while connecting applied")
	assert.Zero(t, posted(s, "loaded v1"), "the disabled script never ran")

	code, out, stderr = runChild(t, env, "enable", "probe")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "enabled probe\n", out)
	waitFor(t, 10*time.Second, "probe loads", func() bool { return posted(s, "loaded v1") == 1 })
}
