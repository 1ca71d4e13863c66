package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EMemoryLimitNotOvershot: a handler allocating as fast as it can
// is stopped near --memory-limit, not several times past it (a process
// manager's hard limit above it, as the README's MemoryMax, is not hit):
// the heap the watchdog reports when it stops the handler is under twice
// the limit, and the process's peak resident size under 2.5 times it.
func TestE2EMemoryLimitNotOvershot(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "mem.lua"), `
rc.every("1s", function()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 1000) .. i end
end)
`)
	const limit = 64 << 20
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--events", "poll", "--admin-addr", "off",
		"--log-format", "json", "--memory-limit", "64MiB", "--handler-timeout", "20s")
	waitFor(t, 30*time.Second, "three stops", func() bool {
		return strings.Count(c.stderr.String(), "handler stopped: memory limit exceeded") >= 3
	})
	hwm := peakRSS(t, c.cmd.Process.Pid)
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, c.wait(t, 15*time.Second), c.stderr.String())
	var worst uint64
	for _, line := range strings.Split(c.stderr.String(), "\n") {
		var l struct {
			Message string `json:"message"`
			Heap    uint64 `json:"heap_bytes"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "heap over the memory limit: running handlers and loads stopped" {
			worst = max(worst, l.Heap)
		}
	}
	require.NotZero(t, worst, "the watchdog's stop was logged:\n%s", c.stderr.String())
	t.Logf("heap at the stop: %d MiB, peak RSS %d MiB (limit %d MiB)", worst>>20, hwm>>20, limit>>20)
	assert.Less(t, worst, uint64(2*limit), "stopped near the limit")
	if hwm > 0 {
		// The process's peak: the heap, the GC's headroom, the runtime.
		assert.Less(t, hwm, uint64(5*limit/2), "the process stays near the limit (it reached 5.7 times it when the watchdog collected first)")
	}
}

// peakRSS is the peak resident size of process pid (VmHWM), 0 where
// /proc does not give it.
func peakRSS(t *testing.T, pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Logf("no peak RSS: %v", err)
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(t, err, line)
			return kb << 10
		}
	}
	return 0
}
