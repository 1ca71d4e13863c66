package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime"
)

// TestControlDisableEnableConcurrentSaves: many disable and enable
// requests at once through the control handler leave disabled.json equal
// to the host's set after each round: no request saves an older set last.
func TestControlDisableEnableConcurrentSaves(t *testing.T) {
	t.Parallel()
	dir, stateDir := t.TempDir(), t.TempDir()
	const n = 12
	for i := range n {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%d.lua", i)), []byte(`rc.log.info("hi")`), 0o644))
	}
	host, err := runtime.New(runtime.Config{ScriptsDir: dir, MemoryLimit: -1}, runtime.Deps{}, zerolog.Nop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- host.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-host.Loaded()
	h := controlHandler(&daemonState{host: host, stateDir: stateDir}, zerolog.Nop())

	post := func(path string, i int) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(fmt.Sprintf(`{"scripts":["s%d"]}`, i)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code, "%s s%d: %s", path, i, rec.Body.String())
	}
	round := func(path string, want func(i int) bool) {
		var wg sync.WaitGroup
		for i := range n {
			if want(i) {
				wg.Go(func() { post(path, i) })
			}
		}
		wg.Wait()
		saved, err := loadDisabled(stateDir)
		require.NoError(t, err)
		assert.ElementsMatch(t, host.Disabled(), saved, "after %s: the file is the host's set", path)
	}
	for range 3 {
		round("/disable", func(int) bool { return true })
		require.Len(t, host.Disabled(), n)
		round("/enable", func(i int) bool { return i%2 == 0 })
		require.Len(t, host.Disabled(), n/2)
		round("/enable", func(int) bool { return true })
		require.Empty(t, host.Disabled())
	}
}

// TestConnectingStatusRedacts: the last connection error the status shows
// while connecting never holds a secret, even when the error quotes one.
func TestConnectingStatusRedacts(t *testing.T) {
	t.Parallel()
	d := &daemonState{server: "https://chat.example.com", keeper: newAuthKeeper(credentials{}, "https://chat.example.com", zerolog.Nop()),
		started: time.Now(), now: time.Now}
	d.connectFailed(2, fmt.Errorf("proxy said: bad password %s", secretToken), "", secretToken)
	doc := d.status()
	require.NotNil(t, doc.Connecting)
	assert.Equal(t, 2, doc.Connecting.Attempts)
	assert.Equal(t, "proxy said: bad password [redacted]", doc.Connecting.LastError)
	var buf strings.Builder
	printStatus(&buf, doc)
	assert.Contains(t, buf.String(), "connecting to https://chat.example.com since ")
	assert.NotContains(t, buf.String(), secretToken)
}

// TestPrintStatusPausedTimers: a backed-off script's timers say they are
// paused until the back-off ends, not "next ... (in 0s)" (their ticks
// wait); a running script's say when they fire.
func TestPrintStatusPausedTimers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local)
	until, next := now.Add(30*time.Minute), now.Add(-time.Minute)
	later := now.Add(time.Hour)
	doc := statusDoc{Started: now, Ready: true, Scripts: []scriptDoc{
		{Name: "paused", State: "running", BackoffStep: 2, BackedOffUntil: &until, Timers: []timerDoc{{Trigger: "every 5s (p.lua:1)", Next: &next}}},
		{Name: "fine", State: "running", Timers: []timerDoc{{Trigger: "every 1h0m0s (f.lua:1)", Next: &later}}},
	}}
	var buf strings.Builder
	printStatus(&buf, doc)
	out := buf.String()
	assert.Contains(t, out, "paused: every 5s (p.lua:1) paused until "+until.Format(time.DateTime)+" (back-off)")
	assert.NotContains(t, out, "paused: next")
	assert.Contains(t, out, "fine: next every 1h0m0s (f.lua:1) at "+later.Format(time.DateTime)+" (in 1h0m0s)")
}

// TestPrintStatusEscapesScriptText: what scripts and the server choose
// (a last error, a trigger label, a note, a check's detail, a connection
// error) is printed with its control characters escaped: no terminal
// escape, no forged line, no tab breaking the table.
func TestPrintStatusEscapesScriptText(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local)
	evil := "\x1b[31mERR\x1b[0m\nFORGED\tcol\r\u202e"
	doc := statusDoc{Started: now, Ready: false, Checks: []readyCheck{{Name: "source", Detail: evil}},
		Scripts: []scriptDoc{{Name: "inj", State: "running", LastError: "inj.lua:4: " + evil, LastErrorAt: &now,
			Note: evil, Triggers: []string{"hear " + evil}, Timers: []timerDoc{{Trigger: "every " + evil, Next: &now}}}}}
	var buf strings.Builder
	printStatus(&buf, doc)
	out := buf.String()
	assert.NotContains(t, out, "\x1b", "no terminal escape")
	assert.NotContains(t, out, "\r")
	assert.NotContains(t, out, "\u202e")
	assert.NotContains(t, out, "\nFORGED", "no line of the script's")
	assert.Contains(t, out, `inj: last error at `+now.Format(time.DateTime)+`: inj.lua:4: \x1b[31mERR\x1b[0m\nFORGED\tcol\r\u202e`)
	for _, line := range strings.Split(out, "\n") {
		assert.NotContains(t, line, "FORGED\t", "a tab of the script's in %q", line)
	}

	doc = statusDoc{Started: now, Connecting: &connectingDoc{Since: now, Attempts: 1, LastError: evil, LastErrorAt: &now}}
	buf.Reset()
	printStatus(&buf, doc)
	assert.NotContains(t, buf.String(), "\x1b")
	assert.NotContains(t, buf.String(), "\nFORGED")
}
