package cli

import (
	"os"
	"path/filepath"
	"strings"
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
	assert.Contains(t, out, "\nevent source: realtime (idle: no script listens)\n", "not the stopped source's stale state")
	src := statusJSON(t, env).Source
	assert.Equal(t, "idle", src.State)
	assert.False(t, src.Up)
}

// TestE2EControlRepliesWithStoredName: a script named by its file name
// ("probe.lua") is replied to, and saved, as the script's name ("probe"),
// for disable, enable and reload alike.
func TestE2EControlRepliesWithStoredName(t *testing.T) {
	t.Parallel()
	d := startProbeDaemon(t)
	state, env, c := d.state, d.env, d.c

	code, out, stderr := runChild(t, env, "disable", "probe.lua")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "disabled probe\n", out)
	data, err := os.ReadFile(filepath.Join(state, "disabled.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"disabled":["probe"]}`, string(data), "the reply names what is stored")
	waitForText(t, c.stderr, `"scripts":["probe"],"time"`, 5*time.Second)
	assert.NotContains(t, c.stderr.String(), `"scripts":["probe.lua"]`, "the log names it as stored too")

	code, out, stderr = runChild(t, env, "enable", "probe.lua")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "enabled probe\n", out)
	code, out, stderr = runChild(t, env, "reload", "probe.lua")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "reloaded probe\n", out)

	// A disabled script is not reloaded, and the command says so.
	code, _, stderr = runChild(t, env, "disable", "probe")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runChild(t, env, "reload", "probe")
	assert.Equal(t, 1, code, stderr)
	assert.Contains(t, stderr, "probe: not reloaded: the script is disabled: rclua enable loads it")
}

// TestE2EErrorsNameNoPackage: a refused control request's message is the
// daemon's own words after "rclua: ", with no internal package name
// ("rclua: runtime: ...") in front, for disable, enable and reload.
func TestE2EErrorsNameNoPackage(t *testing.T) {
	t.Parallel()
	d := startProbeDaemon(t)
	dir, env := d.dir, d.env
	for _, cmd := range []string{"disable", "enable", "reload"} {
		code, _, stderr := runChild(t, env, cmd, "nope")
		assert.Equal(t, 1, code, cmd)
		assert.Equal(t, `rclua: script "nope": no such script in `+dir+" (scripts: probe)\n", stderr, cmd)
		code, _, stderr = runChild(t, env, cmd, "a/b")
		assert.Equal(t, 1, code, cmd)
		assert.True(t, strings.HasPrefix(stderr, `rclua: "a/b" is not a script name`), "%s: %s", cmd, stderr)
	}
}

// TestE2EDisabledStatusHasNoLoadTime: a disabled script has no running
// version: status shows "-" for both VERSION and SINCE (and the JSON has
// neither hash nor loaded_at), not the hash gone and the old load time
// kept; enabling it shows both again.
func TestE2EDisabledStatusHasNoLoadTime(t *testing.T) {
	t.Parallel()
	d := startProbeDaemon(t)
	env := d.env
	_, out, _ := runChild(t, env, "status")
	assert.Regexp(t, `\nprobe\s+running\s+[0-9a-f]{12}\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s`, out)

	code, _, stderr := runChild(t, env, "disable", "probe")
	require.Equal(t, 0, code, stderr)
	waitFor(t, 10*time.Second, "disabled", func() bool { return scriptOf(t, statusJSON(t, env), "probe").State == "disabled" })
	p := scriptOf(t, statusJSON(t, env), "probe")
	assert.Empty(t, p.Hash)
	assert.Nil(t, p.LoadedAt, "no running version, no load time")
	_, out, _ = runChild(t, env, "status")
	assert.Regexp(t, `\nprobe\s+disabled\s+-\s+-\s+\d`, out, "VERSION and SINCE both -")

	code, _, stderr = runChild(t, env, "enable", "probe")
	require.Equal(t, 0, code, stderr)
	waitFor(t, 10*time.Second, "running", func() bool { return scriptOf(t, statusJSON(t, env), "probe").LoadedAt != nil })
}

// probeDaemon is a daemon running probe.lua (probeScript("v1")) against
// its own rctest, with a state folder of its own.
type probeDaemon struct {
	dir, state string   // the scripts and state folders
	env        []string // the daemon's environment: what reaches its control socket
	c          *child
}

// startProbeDaemon starts a probeDaemon and waits until it has started.
func startProbeDaemon(t *testing.T) probeDaemon {
	t.Helper()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	d := probeDaemon{dir: t.TempDir(), state: filepath.Join(t.TempDir(), "st")}
	writeScript(t, filepath.Join(d.dir, "probe.lua"), probeScript("v1"))
	d.env = append(botEnv(s), "RCLUA_STATE_DIR="+d.state)
	d.c = startChild(t, d.env, "run", "--scripts", d.dir, "--admin-addr", "off", "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, d.c.stderr, "rclua started", 15*time.Second)
	return d
}

// TestE2EBrokenFileIsVisible: a broken edit that keeps the old version
// running shows in rclua status ("running (file broken)"), in /status
// (file_broken) and in rclua_script_file_broken, which the README's
// RcluaScriptBroken alert reads; a fixing edit clears all three.
func TestE2EBrokenFileIsVisible(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "st")
	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v1"))
	env := append(botEnv(s), "RCLUA_STATE_DIR="+state)
	c := startChild(t, env, "run", "--scripts", dir, "--admin-addr", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "2s")
	base := adminURL(t, c)
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	broken := func() float64 {
		v, _ := value(scrape(t, base), "rclua_script_file_broken", map[string]string{"script": "probe"})
		return v
	}
	assert.Zero(t, broken())

	writeScript(t, filepath.Join(dir, "probe.lua"), "rc.every(\"soon\", function() end)\n")
	waitFor(t, 15*time.Second, "the failed load", func() bool { return statusJSON(t, env).Scripts[0].FileBroken })
	_, out, _ := runChild(t, env, "status")
	assert.Contains(t, out, "running (file broken)")
	assert.Equal(t, 1.0, broken())

	writeScript(t, filepath.Join(dir, "probe.lua"), probeScript("v2"))
	waitFor(t, 15*time.Second, "the fix", func() bool { return !statusJSON(t, env).Scripts[0].FileBroken })
	_, out, _ = runChild(t, env, "status")
	assert.NotContains(t, out, "file broken")
	assert.Zero(t, broken())
}
