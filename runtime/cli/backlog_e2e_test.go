package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EStopWithABacklogHandlesEachOnce: a burst of commands reaches a
// script whose replies are slow (the server holds each chat.postMessage),
// and the daemon is stopped (SIGTERM) in the middle of the backlog. After
// the restart every command has been answered exactly once: the ones
// handled before the stop are not delivered again, the ones still queued
// are caught up; a quick script beside it, which had handled all of them
// when the stop came, gets none of them again.
func TestE2EStopWithABacklogHandlesEachOnce(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), t.TempDir()
	writeScript(t, filepath.Join(dir, "jobs.lua"), `
rc.respond("^job (%d+)$", function(msg, n)
  msg:reply("done " .. n)
end)
`)
	// A quick script beside it: done with every command long before the
	// slow one, so the stop finds it ahead.
	writeScript(t, filepath.Join(dir, "fast.lua"), `
rc.respond("^job (%d+)$", function(msg, n)
  print("fast " .. n)
end)
rc.respond("^probe$", function() print("probe seen") end)
`)
	args := []string{"run", "--scripts", dir, "--state-dir", state, "--events", "realtime",
		"--admin-addr", "off", "--log-format", "json"}
	const jobs = 30
	replies := func() map[string]int {
		got := map[string]int{}
		for _, m := range s.Messages(rctest.OpsRoomID) {
			if n, ok := strings.CutPrefix(m.Text, "done "); ok && m.Username == rctest.BotUsername {
				got[n]++
			}
		}
		return got
	}
	total := func() int {
		n := 0
		for _, c := range replies() {
			n += c
		}
		return n
	}

	first := startChild(t, botEnv(s), args...)
	waitForText(t, first.stderr, "rclua started", 15*time.Second)
	waitFor(t, 10*time.Second, "the stream", func() bool { return len(s.Sessions()) == 1 && len(s.Sessions()[0].Subs) > 0 })
	// A message posted before the first baseline is done is older than
	// the daemon's start, never delivered: the jobs wait until a probe
	// came through (the stream's subscriptions alone did not say so, and
	// a loaded CI machine posted every job before the baseline).
	_, err := s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "@"+rctest.BotUsername+" probe")
	require.NoError(t, err)
	waitForText(t, first.stderr, "probe seen", 15*time.Second)
	s.Fault("chat.postMessage", rctest.Fault{Delay: 100 * time.Millisecond})
	for i := range jobs {
		_, err := s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, fmt.Sprintf("@%s job %d", rctest.BotUsername, i))
		require.NoError(t, err)
	}
	waitFor(t, 20*time.Second, "a few answered", func() bool { return total() >= 5 })
	require.NoError(t, first.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, first.wait(t, 15*time.Second), first.stderr.String())
	before := total()
	require.Less(t, before, jobs, "the stop came in the middle of the backlog")
	s.ClearFaults()

	second := startChild(t, botEnv(s), args...)
	waitFor(t, 20*time.Second, "every command answered", func() bool { return total() >= jobs })
	// Anything delivered twice would be answered by now too: the catch-up
	// and the stream's backlog are done once the last one is.
	_, err = s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "@"+rctest.BotUsername+" job live")
	require.NoError(t, err)
	_, err = s.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "@"+rctest.BotUsername+" job 999")
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "a live command after the catch-up", func() bool { return replies()["999"] == 1 })
	require.NoError(t, second.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, second.wait(t, 15*time.Second), second.stderr.String())
	got := replies()
	logs := first.stderr.String() + second.stderr.String()
	for i := range jobs {
		assert.Equal(t, 1, got[fmt.Sprint(i)], "job %d answered once (%d answered before the stop)", i, before)
		assert.Equal(t, 1, strings.Count(logs, fmt.Sprintf(`"message":"fast %d"`, i)),
			"job %d handled once by the quick script too: not again after the restart", i)
	}
}
