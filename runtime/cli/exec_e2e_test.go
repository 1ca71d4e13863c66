package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EExecCompilesFirst: exec compiles the script before it reaches
// the server, so a syntax error is the script's file:line (exit 1) with
// the server down or the token refused, and the server is never asked; a
// test file is refused as check refuses it, before any request too.
func TestE2EExecCompilesFirst(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	syntax := filepath.Join(dir, "syntax.lua")
	require.NoError(t, os.WriteFile(syntax, []byte("local x = 1\nlocal y = = 2\n"), 0o644))
	good := filepath.Join(dir, "good.lua")
	require.NoError(t, os.WriteFile(good, []byte("local x = 1\n"), 0o644))
	test := filepath.Join(dir, "good_test.lua")
	require.NoError(t, os.WriteFile(test, []byte("function t.test_x() end\n"), 0o644))

	down := []string{"RC_URL=http://127.0.0.1:1", "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}
	code, _, stderr := runChild(t, down, "exec", syntax)
	assert.Equal(t, 1, code, "a syntax error with the server down: %s", stderr)
	assert.Contains(t, stderr, "syntax.lua:2:", "the syntax error names file:line")
	assert.NotContains(t, stderr, "cannot reach")

	refused := []string{"RC_URL=" + s.URL, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}
	code, _, stderr = runChild(t, refused, "exec", syntax)
	assert.Equal(t, 1, code, "a syntax error with a refused token: %s", stderr)
	assert.Contains(t, stderr, "syntax.lua:2:")
	assert.NotContains(t, stderr, "401 Unauthorized", "the server was not asked (the temporary folder's name may hold the digits 401)")

	code, _, stderr = runChild(t, botEnv(s), "exec", test)
	assert.Equal(t, 2, code, "a test file is refused: %s", stderr)
	assert.Contains(t, stderr, test+": a test file, not a script (run it with rclua test)")
	assert.Empty(t, s.Requests(), "neither the syntax error nor the test file reached the server")

	// A script that compiles still needs the server: the check does not
	// hide the connection's errors.
	code, _, stderr = runChild(t, down, "exec", good)
	assert.Equal(t, 4, code, "the server down: a temporary failure: %s", stderr)
	assert.Contains(t, stderr, "cannot reach the Rocket.Chat server at http://127.0.0.1:1")
	code, _, stderr = runChild(t, refused, "exec", good)
	assert.Equal(t, 3, code, "a refused token: %s", stderr)
	assert.NotContains(t, stderr, secretToken)
}

// TestE2EDateInTheLocalZone: the daemon's os.date (no fake clock) gives
// the process's zone (TZ), with its own abbreviation, offset and "*t"'s
// isdst, in summer and in winter.
func TestE2EDateInTheLocalZone(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	script := filepath.Join(t.TempDir(), "zone.lua")
	require.NoError(t, os.WriteFile(script, []byte(`
local summer = os.time{year = 2026, month = 7, day = 1, hour = 12}
local winter = os.time{year = 2026, month = 1, day = 15, hour = 12}
rc.log.info("zone", {
  summer = os.date("%H:%M %Z %z", summer), summer_dst = os.date("*t", summer).isdst,
  winter = os.date("%H:%M %Z %z", winter), winter_dst = os.date("*t", winter).isdst,
  default = os.date(nil, summer),
})
`), 0o644))
	code, _, stderr := runChild(t, append(botEnv(s), "TZ=Europe/Paris"), "exec", "--log-format", "json", script)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{`"summer":"12:00 CEST +0200"`, `"summer_dst":true`, `"winter":"12:00 CET +0100"`, `"winter_dst":false`, `"default":"Wed Jul  1 12:00:00 2026"`} {
		assert.Contains(t, stderr, want)
	}
}

// TestE2EExecTimeoutBoundsTheRun: --timeout bounds the whole run, not
// only the top level: a server that never answers the login check fails
// the run at the timeout (its retries of 30 s each took 91 s), and a
// script started late is stopped when the run's time is up, with its
// file:line and the timeout given.
func TestE2EExecTimeoutBoundsTheRun(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.lua")
	require.NoError(t, os.WriteFile(loop, []byte("local n = 0\nwhile true do n = n + 1 end\n"), 0o644))

	s.Fault("me", rctest.Fault{Delay: time.Hour})
	code, _, stderr := runChild(t, botEnv(s), "exec", "--timeout", "1s", loop)
	assert.Equal(t, 4, code, "the login check hangs: a temporary failure: %s", stderr)
	assert.Contains(t, stderr, "cannot reach the Rocket.Chat server at "+s.URL+" within the exec timeout (1s)")

	// The login check takes most of the time: the top level gets the rest.
	s.ClearFaults()
	s.Fault("me", rctest.Fault{Delay: 600 * time.Millisecond})
	code, _, stderr = runChild(t, botEnv(s), "exec", "--timeout", "1s", loop)
	assert.Equal(t, 1, code, "the loop is the script's failure: %s", stderr)
	assert.Contains(t, stderr, "loop.lua:2: stopped: the top level ran longer than the exec timeout (1s)")
}

// TestE2EExecMemoryLimit: exec's top level is stopped by the memory
// watchdog once the heap passes --memory-limit (with its file:line and
// exit status 1), long before its timeout; a limit below the minimum is
// refused as for run.
func TestE2EExecMemoryLimit(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	hog := filepath.Join(t.TempDir(), "hog.lua")
	// About 400 MB of tables if nothing stops it, then a loop until the
	// timeout: without the watchdog the run fails with the timeout's error.
	require.NoError(t, os.WriteFile(hog, []byte("local t = {}\nfor i = 1, 3000000 do t[i] = {i} end\nwhile true do end\n"), 0o644))
	code, _, stderr := runChild(t, botEnv(s), "exec", "--memory-limit", "32MiB", "--timeout", "30s", hog)
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "hog.lua:2: memory limit exceeded (32.0 MiB heap): top level stopped")
	assert.NotContains(t, stderr, "exec timeout")

	code, _, stderr = runChild(t, botEnv(s), "exec", "--memory-limit", "1MiB", hog)
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "memory-limit")
}

// TestE2EExecWaitsForAnotherExec: two runs of a cron script that overlap
// share its rc.store: the second waits for the first to release the state
// dir (within its --timeout) instead of failing, so neither run's count
// is lost; a daemon started while an exec holds the state dir waits for
// it too, and then runs with what the exec stored.
func TestE2EExecWaitsForAnotherExec(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	hold := filepath.Join(dir, "count.lua")
	require.NoError(t, os.WriteFile(hold, []byte(`local n = assert(rc.store.incr("runs"))
print("run " .. n)
local until_ = os.time() + 3 -- hold the state dir a while
while os.time() < until_ do end
`), 0o644))
	args := []string{"exec", "--state-dir", state, "--log-format", "json", "--timeout", "20s", hold}

	first := startChild(t, botEnv(s), args...)
	waitForText(t, first.stderr, "run 1", 15*time.Second)
	code, stdout, stderr := runChild(t, botEnv(s), args...)
	assert.Equal(t, 0, code, "the second run: %s", stderr)
	assert.Contains(t, stdout+stderr, "run 2", "it waited for the first run's lock")
	assert.NotContains(t, stdout+stderr, "unavailable")
	assert.Equal(t, 0, first.wait(t, 20*time.Second), first.stderr.String())

	third := startChild(t, botEnv(s), args...)
	waitForText(t, third.stderr, "run 3", 15*time.Second)
	daemon := startChild(t, botEnv(s), "run", "--scripts", dir, "--state-dir", state, "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, daemon.stderr, "holds the state dir: waiting for it", 15*time.Second)
	assert.Equal(t, 0, third.wait(t, 20*time.Second), third.stderr.String())
	waitForText(t, daemon.stderr, "run 4", 20*time.Second)
	require.NoError(t, daemon.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, daemon.wait(t, 15*time.Second), daemon.stderr.String())
}

// TestE2ELockWaitEndsOnSignal: a daemon waiting for the state dir that a
// long exec holds stops waiting at SIGINT, and exits at once.
func TestE2ELockWaitEndsOnSignal(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	hold := filepath.Join(dir, "hold.lua")
	require.NoError(t, os.WriteFile(hold, []byte(`assert(rc.store.set("k", 1))
print("holding")
local until_ = os.time() + 60
while os.time() < until_ do end
`), 0o644))
	holder := startChild(t, botEnv(s), "exec", "--state-dir", state, "--log-format", "json", "--timeout", "90s", hold)
	defer func() { _ = holder.cmd.Process.Kill(); holder.wait(t, 15*time.Second) }()
	waitForText(t, holder.stderr, "holding", 15*time.Second)

	daemon := startChild(t, botEnv(s), "run", "--scripts", t.TempDir(), "--state-dir", state, "--log-format", "json")
	waitForText(t, daemon.stderr, "holds the state dir: waiting for it", 15*time.Second)
	require.NoError(t, daemon.cmd.Process.Signal(syscall.SIGINT))
	code := daemon.wait(t, 8*time.Second) // before the 10 s lock wait ends: it stopped for the signal
	assert.NotEqual(t, 0, code, daemon.stderr.String())
	assert.Contains(t, daemon.stderr.String(), "stopped waiting for it")
}

// TestE2EExecServerErrorIsTemporary: a login check the server answers
// with a 5xx is a temporary failure (4), a script's error is 1.
func TestE2EExecServerErrorIsTemporary(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.lua")
	require.NoError(t, os.WriteFile(bad, []byte("error('half way')\n"), 0o644))
	code, _, stderr := runChild(t, botEnv(s), "exec", bad)
	assert.Equal(t, 1, code, "the script's error: %s", stderr)
	assert.Contains(t, stderr, "bad.lua:1: half way")

	s.Fault("me", rctest.Fault{Status: 503})
	code, _, stderr = runChild(t, botEnv(s), "exec", "--timeout", "20s", bad)
	assert.Equal(t, 4, code, "a 503 at the login check: %s", stderr)
	assert.Contains(t, stderr, "cannot reach the Rocket.Chat server")
	assert.NotContains(t, stderr, "half way", "the script did not run")
}

// TestE2EExecBadAddressIsFinal: an address that retrying cannot fix is
// exit status 3, named: a server whose certificate does not verify, one
// answering JSON that is not Rocket.Chat's ({} for every path); a page
// that is not JSON (a proxy's maintenance page) is retried, as rclua run
// does: 4.
func TestE2EExecBadAddressIsFinal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "x.lua")
	require.NoError(t, os.WriteFile(script, []byte("print('ran')\n"), 0o644))
	page := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body>Welcome</body></html>"))
	})
	tlsSrv := httptest.NewTLSServer(page)
	defer tlsSrv.Close()
	web := httptest.NewServer(page)
	defer web.Close()
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer empty.Close()
	env := func(url string) []string {
		return []string{"RC_URL=" + url, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}
	}

	code, _, stderr := runChild(t, env(tlsSrv.URL), "exec", script)
	assert.Equal(t, 3, code, "a certificate that does not verify: %s", stderr)
	assert.Contains(t, stderr, "TLS certificate does not verify")
	code, _, stderr = runChild(t, env(web.URL), "exec", "--timeout", "5s", script)
	assert.Equal(t, 4, code, "a maintenance page: temporary: %s", stderr)
	code, _, stderr = runChild(t, env(empty.URL), "exec", script)
	assert.Equal(t, 3, code, "JSON, not Rocket.Chat: %s", stderr)
	assert.Contains(t, stderr, "not Rocket.Chat's REST API")
	// The daemon too: it stops at once instead of retrying for ever.
	code, _, stderr = runChild(t, env(empty.URL), "run", "--scripts", dir, "--state-dir", t.TempDir(), "--admin-addr", "off")
	assert.Equal(t, 3, code, "run against a server that is not Rocket.Chat: %s", stderr)
	assert.Contains(t, stderr, "not Rocket.Chat's REST API")
	assert.NotContains(t, stderr, "ran")
	assert.NotContains(t, stderr, secretToken)
}

// TestE2EExecPostLimit: exec's script is held to --post-limit (its third
// post refused, error_type limit, with the warning), and --post-limit off
// lifts it.
func TestE2EExecPostLimit(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	loop := filepath.Join(t.TempDir(), "loop.lua")
	require.NoError(t, os.WriteFile(loop, []byte(`for i = 1, 3 do
  local m, err = rc.chat.post_message { channel = "#general", text = "loop " .. i }
  if not m then rc.log.warn("refused", { n = i, error_type = err.error_type }) end
end
`), 0o644))
	code, _, stderr := runChild(t, botEnv(s), "exec", "--post-limit", "2", "--log-format", "json", loop)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `"n":3,"error_type":"limit"`)
	assert.Contains(t, stderr, "post limit reached")
	code, _, stderr = runChild(t, botEnv(s), "exec", "--post-limit", "off", "--log-format", "json", loop)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stderr, "refused")
	n := 0
	for _, m := range s.Messages(rctest.GeneralRoomID) {
		if strings.HasPrefix(m.Text, "loop ") {
			n++
		}
	}
	assert.Equal(t, 5, n, "2 with the limit, 3 without")
}
