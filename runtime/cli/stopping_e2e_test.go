package cli

import (
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EStoppingIsNotReady: after SIGTERM, while a handler still runs
// (its request held by the server), /readyz answers 503 naming the
// "stopping" check, rclua status says so, and the "stopping" log line
// names the running handler by script and trigger. The handler then
// finishes and the daemon exits 0.
func TestE2EStoppingIsNotReady(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	state := filepath.Join(t.TempDir(), "st")
	writeScript(t, filepath.Join(dir, "slow.lua"), `-- slow: one handler that waits on the server
local busy = false
rc.every("1s", function()
  if busy then return end
  busy = true
  rc.chat.post_message { channel = "#general", text = "handler started" }
  rc.me()
  rc.chat.post_message { channel = "#general", text = "handler finished" }
end)
`)
	env := append(botEnv(s), "RCLUA_STATE_DIR="+state)
	c := startChild(t, env, "run", "--scripts", dir, "--admin-addr", "127.0.0.1:0", "--shutdown-timeout", "20s",
		"--handler-timeout", "20s", "--log-format", "json")
	base := adminURL(t, c)
	waitFor(t, 15*time.Second, "ready", func() bool { code, _ := readyz(t, base); return code == http.StatusOK })
	s.Fault("me", rctest.Fault{Delay: 6 * time.Second, Times: 1})
	waitFor(t, 10*time.Second, "the handler to start", func() bool { return posted(s, "handler started") == 1 })

	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	waitForText(t, c.stderr, `"message":"stopping: no new events; letting running handlers finish"`, 5*time.Second)
	assert.Regexp(t, `"running":\["slow: every 1s \(slow\.lua:3\) \(for \d+s\)"\][^\n]*"message":"stopping`, c.stderr.String(),
		"the log line names the running handler")
	code, rb := readyz(t, base)
	assert.Equal(t, http.StatusServiceUnavailable, code, "not ready once stopping")
	if assert.Len(t, rb.Failing, 1, "%+v", rb.Failing) {
		assert.Equal(t, "stopping", rb.Failing[0].Name)
	}
	code, out, stderr := runChild(t, env, "status")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "NOT READY: stopping (the daemon is stopping", "status says stopping")
	assert.Regexp(t, `slow: running every 1s \(slow\.lua:3\) for \d`, out, "status names the handler still running")
	if r := scriptOf(t, statusJSON(t, env), "slow").Running; assert.NotNil(t, r) {
		assert.Equal(t, "every 1s (slow.lua:3)", r.Trigger)
		assert.WithinDuration(t, time.Now(), r.Since, 10*time.Second)
	}
	assert.Zero(t, posted(s, "handler finished"), "all of this while the handler still ran")

	assert.Equal(t, 0, c.wait(t, 25*time.Second), "exit 0 after SIGTERM; output:\n%s", c.stderr.String())
	assert.Equal(t, 1, posted(s, "handler finished"), "the running handler finished before exit")
}
