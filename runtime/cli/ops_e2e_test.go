package cli

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EStatusSourceHeader: the status header gives the event source's
// name and its state apart, "realtime (connected)", never "realtime
// realtime"; with no script listening it says so in the same parentheses.
func TestE2EStatusSourceHeader(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "st")
	writeScript(t, filepath.Join(dir, "relay.lua"), relayScript)
	env := append(botEnv(s), "RCLUA_STATE_DIR="+state)
	c := startChild(t, env, "run", "--scripts", dir, "--events", "realtime", "--admin-addr", "off",
		"--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	waitFor(t, 15*time.Second, "the stream", func() bool { return statusJSON(t, env).Source.State == "realtime" })
	code, out, stderr := runChild(t, env, "status")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "\nevent source: realtime (connected)\n")
	assert.NotContains(t, out, "realtime realtime")

	writeScript(t, filepath.Join(dir, "relay.lua"), `rc.log.info("no triggers")`)
	waitFor(t, 15*time.Second, "no listener", func() bool { return !statusJSON(t, env).Source.Needed })
	_, out, _ = runChild(t, env, "status")
	assert.Regexp(t, `\nevent source: realtime \([a-z]+; no script listens\)\n`, out)
}
