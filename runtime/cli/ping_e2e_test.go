package cli

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EPingExampleOverRealtime: the shipped ping.lua in the built
// daemon, with events from rctest's realtime API: a "!ping" posted by a
// user is answered "pong" in its thread, once, and a deploy request
// addressed to the bot gets its reaction and its reply.
func TestE2EPingExampleOverRealtime(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "scripts", "ping.lua"))
	require.NoError(t, err)
	writeScript(t, filepath.Join(dir, "ping.lua"), string(src))
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	waitFor(t, 10*time.Second, "the stream", func() bool { return len(s.Sessions()) == 1 && len(s.Sessions()[0].Subs) == 2 })

	ping, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "!ping")
	require.NoError(t, err)
	replies := func(threadID, text string) int {
		n := 0
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.Username == rctest.BotUsername && m.ThreadID == threadID && m.Text == text {
				n++
			}
		}
		return n
	}
	waitFor(t, 10*time.Second, "pong in the thread", func() bool { return replies(ping.ID, "pong") == 1 })

	deploy, err := s.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "@"+rctest.BotUsername+" deploy staging")
	require.NoError(t, err)
	waitFor(t, 10*time.Second, "the deploy reaction", func() bool {
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.ID == deploy.ID && len(m.Reactions[":rocket:"]) == 1 {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "the deploy reply", func() bool {
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.Username == rctest.BotUsername && m.ThreadID == deploy.ID {
				return true
			}
		}
		return false
	})
	assert.Equal(t, 1, replies(ping.ID, "pong"), "answered once: the bot's own reply is not heard")
}
