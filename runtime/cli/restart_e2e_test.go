package cli

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2ERestartCatchesUp: the built daemon keeps its subscription cursor
// in the state dir, so a change made while it was stopped reaches the
// handler once after the restart, and what the first run handled is not
// handled again.
func TestE2ERestartCatchesUp(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), t.TempDir()
	writeScript(t, filepath.Join(dir, "watcher.lua"), `
rc.on("subscription", function(action, sub)
  rc.log.info("saw", { action = action, rid = sub.rid or sub._id })
end)
`)
	args := []string{"run", "--scripts", dir, "--state-dir", state, "--events", "poll",
		"--poll-interval", "1s", "--admin-addr", "off", "--log-format", "json"}
	saw := func(out, rid string) int { return strings.Count(out, `"rid":"`+rid+`"`) }

	first := startChild(t, botEnv(s), args...)
	waitForText(t, first.stderr, "rclua started", 15*time.Second)
	// The first poll is the baseline: a change must come after it.
	waitFor(t, 10*time.Second, "the baseline poll", func() bool { return endpointCount(s, "subscriptions.get") >= 2 }) // the second starts after the first ended
	_, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "@"+rctest.BotUsername+" one")
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the first run sees #random change", func() bool { return saw(first.stderr.String(), rctest.RandomRoomID) == 1 })
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, first.wait(t, 15*time.Second), first.stderr.String())
	assert.Zero(t, saw(first.stderr.String(), rctest.GeneralRoomID), "the first start is a baseline: #general's old state is not an event")

	// While the daemon is down.
	_, err = s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" while you were away")
	require.NoError(t, err)

	second := startChild(t, botEnv(s), args...)
	waitFor(t, 15*time.Second, "the restart delivers the change made while stopped", func() bool {
		return saw(second.stderr.String(), rctest.GeneralRoomID) == 1
	})
	// A live change after the catch-up still arrives, and by then the
	// catch-up is over: nothing of the first run came again.
	_, err = s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "@"+rctest.BotUsername+" live")
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "a live change after the restart", func() bool { return saw(second.stderr.String(), rctest.OpsRoomID) == 1 })
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, second.wait(t, 15*time.Second), second.stderr.String())
	out := second.stderr.String()
	assert.Zero(t, saw(out, rctest.RandomRoomID), "the change the first run handled is not delivered again:\n%s", out)
	assert.Equal(t, 1, saw(out, rctest.GeneralRoomID), "once:\n%s", out)
}
