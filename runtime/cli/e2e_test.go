package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
)

// examplesDir is the project's example scripts, seen from this package.
const examplesDir = repoRoot + "/scripts"

// The binary is built once per test binary, on first use, and removed by
// TestMain.
var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// rcluaBinary builds the rclua binary (once) and returns its path.
func rcluaBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rclua-e2e-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "rclua")
		out, err := exec.Command("go", "build", "-ldflags", "-X github.com/rclua/rclua/runtime/cli.version=v0.0.0-e2e",
			"-o", buildPath, "github.com/rclua/rclua").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return buildPath
}

// child is a running rclua process.
type child struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// childEnv is exactly env as a child's environment. exec.Cmd runs a child
// with a nil Env in the test process's own environment (RC_URL, RC_TOKEN,
// RCLUA_LOG_LEVEL of the machine), so nil becomes an empty one.
func childEnv(env []string) []string {
	if env == nil {
		return []string{}
	}
	return env
}

// startChild starts the binary with exactly env as its environment.
func startChild(t testing.TB, env []string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(rcluaBinary(t), args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Env = childEnv(env)
	c.cmd.Stderr = c.stderr
	c.cmd.Stdout = c.stderr
	require.NoError(t, c.cmd.Start())
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// wait waits for the child to exit within timeout and returns its exit code.
func (c *child) wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		t.Fatalf("rclua did not exit within %v; output:\n%s", timeout, c.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, c.err)
	return 0
}

// runChild runs the binary to completion and returns exit code, stdout, stderr.
func runChild(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	bin := rcluaBinary(t) // before the deadline starts: a cold build may take long
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = childEnv(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, stdout.String(), stderr.String()
}

// writeScript replaces a script the way editors do: a temp file renamed
// over the original.
func writeScript(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

// posted counts chat.postMessage requests whose body contains text.
func posted(s *rctest.Server, text string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Endpoint == "chat.postMessage" && bytes.Contains(r.Body, []byte(text)) {
			n++
		}
	}
	return n
}

func botEnv(s *rctest.Server) []string {
	return []string{"RC_URL=" + s.URL, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + rctest.BotToken}
}

// probeScript posts "loaded <v>" at load and "tick <v>" every second.
func probeScript(v string) string {
	return `-- probe: shows which version runs
rc.chat.post_message { channel = "#general", text = "loaded ` + v + `" }
rc.every("1s", function()
  rc.chat.post_message { channel = "#general", text = "tick ` + v + `" }
end)
`
}

// TestE2EDaemon runs the built binary against rctest: an edit takes effect,
// a broken edit keeps the old version, SIGHUP reloads, SIGTERM exits 0.
func TestE2EDaemon(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, "probe.lua")
	writeScript(t, script, probeScript("v1"))

	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--debounce", "50ms",
		"--poll-interval", "1s", "--shutdown-timeout", "3s", "--log-format", "json")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	assert.Contains(t, c.stderr.String(), `"scripts":"probe"`, "the start-up line lists the scripts")
	assert.Contains(t, c.stderr.String(), `"server":"`+s.URL+`"`, "the start-up line gives the server")
	assert.NotContains(t, c.stderr.String(), rctest.BotToken, "no secret in the logs")
	waitFor(t, 5*time.Second, "loaded v1", func() bool { return posted(s, "loaded v1") == 1 })
	waitFor(t, 5*time.Second, "tick v1", func() bool { return posted(s, "tick v1") >= 1 })

	// An edit takes effect.
	writeScript(t, script, probeScript("v2"))
	waitFor(t, 5*time.Second, "loaded v2", func() bool { return posted(s, "loaded v2") == 1 })
	waitFor(t, 5*time.Second, "tick v2", func() bool { return posted(s, "tick v2") >= 1 })

	// A broken edit is logged with file:line and the old version keeps running.
	writeScript(t, script, "-- broken\nrc.every(\"1s\", function()\n  this is not lua\nend)\n")
	waitForText(t, c.stderr, "script load failed", 5*time.Second)
	// The file and the line (runtime logs gopher-lua's syntax error text).
	assert.Regexp(t, `probe\.lua(:| line:)3`, c.stderr.String(), "the failure names file and line")
	s.ResetRequests()
	waitFor(t, 5*time.Second, "tick v2 after the broken edit", func() bool { return posted(s, "tick v2") >= 2 })
	assert.Zero(t, posted(s, "loaded"), "the broken version never ran")

	// A fix loads; SIGHUP reloads it again although it did not change.
	writeScript(t, script, probeScript("v3"))
	waitFor(t, 5*time.Second, "loaded v3", func() bool { return posted(s, "loaded v3") == 1 })
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGHUP))
	waitFor(t, 5*time.Second, "reload on SIGHUP", func() bool { return posted(s, "loaded v3") == 2 })

	// SIGTERM: exit 0 within the shutdown bound.
	start := time.Now()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	code := c.wait(t, 3*time.Second+5*time.Second)
	assert.Equal(t, 0, code, "SIGTERM exits 0; output:\n%s", c.stderr.String())
	assert.Less(t, time.Since(start), 3*time.Second+2*time.Second, "exit within --shutdown-timeout")
	assert.Contains(t, c.stderr.String(), `"message":"stopped"`)
}

// TestE2EDev runs "rclua run --dev" with the example scripts: the fake
// server's activity mentions the bot and mention_alert reacts.
func TestE2EDev(t *testing.T) {
	t.Parallel()
	c := startChild(t, nil, "run", "--dev", "--dev-addr", "127.0.0.1:0", "--dev-activity", "200ms",
		"--poll-interval", "1s", "--scripts", examplesDir, "--log-format", "json", "--shutdown-timeout", "3s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	out := c.stderr.String()
	examples, err := runtime.ScriptFiles([]string{examplesDir})
	require.Empty(t, err)
	assert.Contains(t, out, fmt.Sprintf(`"loaded":%d`, len(examples)), "every example script loads, and no test file")
	assert.Contains(t, out, "curl -s -H 'X-User-Id: "+rctest.BotUserID+"' -H 'X-Auth-Token: "+rctest.BotToken+"'", "a ready-to-paste curl line")
	assert.Contains(t, out, "curl -s -H 'X-User-Id: "+rctest.AliceUserID+"' -H 'X-Auth-Token: "+rctest.AliceToken+"' -d channel=%23general --data-urlencode 'text=hello @"+rctest.BotUsername+"' http://",
		"a ready-to-paste curl line to mention the bot as alice (TestDevCurlLines runs it)")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "curl ") {
			assert.NotContains(t, line, `\`, "nothing JSON-escaped in a curl line: it pastes as printed")
		}
	}
	waitForText(t, c.stderr, "alerted the owner", 20*time.Second)
	assert.Regexp(t, `"script":"mention_alert"[^\n]*"message":"alerted the owner"`, c.stderr.String(), "script log lines carry the script's name")
	// The temporary state dir is named, with the command that reaches the
	// daemon through it (a plain "rclua status" looks in ./.rclua-state).
	m := regexp.MustCompile(`--dev: control this daemon with: rclua status --state-dir (\S+) `).FindStringSubmatch(c.stderr.String())
	if assert.NotNil(t, m, "the control hint") {
		code, stdout, stderr := runChild(t, nil, "status", "--state-dir", m[1])
		assert.Equal(t, 0, code, "%s%s", stdout, stderr)
		assert.Contains(t, stdout, "mention_alert", "the status of the --dev daemon")
	}
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 0, c.wait(t, 10*time.Second), "SIGINT exits 0")
}

// TestE2EDevBot: the --dev bot has the bot role, so post_message's alias
// and avatar work as they do for a real bot account (facts page §5); a
// 15 MiB post gets the fake server's 413, not a misleading validation
// error about a missing channel.
func TestE2EDevBot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "imp.lua"), `
local m, err = rc.chat.post_message{channel = "#general", text = "hi", alias = "Deploy", avatar = "https://example.com/a.png"}
if m then rc.log.info("impersonated", {alias = m.alias, avatar = m.avatar}) else rc.log.error("refused", {err = err}) end
local big, berr = rc.chat.post_message{channel = "#general", text = string.rep("a", 15 * 1024 * 1024)}
rc.log.info("big post", {status = berr and berr.status, err = berr and berr.error})
`)
	c := startChild(t, nil, "run", "--dev", "--dev-addr", "127.0.0.1:0", "--scripts", dir,
		"--log-format", "json", "--shutdown-timeout", "3s")
	waitForText(t, c.stderr, "rclua started", 15*time.Second)
	out := c.stderr.String()
	assert.Regexp(t, `"alias":"Deploy","avatar":"https://example.com/a.png"[^\n]*"message":"impersonated"`, out)
	assert.NotContains(t, out, "refused")
	assert.Regexp(t, `"status":413,"err":"rctest: request body larger than 8 MiB \(the fake server's limit\)"[^\n]*"message":"big post"`, out)
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 0, c.wait(t, 10*time.Second), "SIGINT exits 0")
}

func TestE2EExec(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.lua")
	require.NoError(t, os.WriteFile(good, []byte(`local msg = assert(rc.chat.post_message { channel = "#general", text = "from exec" })
rc.every("1m", function() assert(rc.chat.post_message { channel = "#general", text = "from the timer" }) end)
`), 0o644))
	syntax := filepath.Join(dir, "syntax.lua")
	require.NoError(t, os.WriteFile(syntax, []byte("local x = 1\nlocal y = = 2\n"), 0o644))
	rterr := filepath.Join(dir, "rterr.lua")
	require.NoError(t, os.WriteFile(rterr, []byte("local t = {}\n\nerror(\"boom\")\n"), 0o644))

	code, _, stderr := runChild(t, botEnv(s), "exec", "--log-format", "json", good)
	assert.Equal(t, 0, code, "good script: %s", stderr)
	var texts []string
	for _, m := range s.Messages(rctest.GeneralRoomID) {
		texts = append(texts, m.Text)
	}
	assert.Contains(t, texts, "from exec", "the script ran against the server")
	assert.NotContains(t, texts, "from the timer")
	assert.Contains(t, stderr, "ignored", "triggers are reported as ignored in exec mode")

	code, _, stderr = runChild(t, botEnv(s), "exec", "--fire", good)
	assert.Equal(t, 0, code, "--fire: %s", stderr)
	texts = nil
	for _, m := range s.Messages(rctest.GeneralRoomID) {
		texts = append(texts, m.Text)
	}
	assert.Contains(t, texts, "from the timer", "--fire calls the timer's handler once")
	assert.Contains(t, stderr, "timer fired once")

	code, _, stderr = runChild(t, botEnv(s), "exec", syntax)
	assert.Equal(t, 1, code, "syntax error")
	assert.Contains(t, stderr, "syntax.lua:2", "syntax error names file:line")

	code, _, stderr = runChild(t, botEnv(s), "exec", rterr)
	assert.Equal(t, 1, code, "runtime error")
	assert.Contains(t, stderr, "rterr.lua:3", "runtime error names file:line")
	assert.Contains(t, stderr, "boom")

	code, _, stderr = runChild(t, []string{"RC_URL=" + s.URL, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}, "exec", good)
	assert.Equal(t, 3, code, "exec with a refused token: %s", stderr)
	assert.Contains(t, stderr, "401")
	assert.NotContains(t, stderr, secretToken)

	code, _, stderr = runChild(t, nil, "exec", good)
	assert.Equal(t, 2, code, "exec without configuration")
	assert.Contains(t, stderr, "nothing configured")
}

func TestE2ECheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"good.lua":   "rc.on(\"subscription\", function(action, sub) end)\nrc.cron(\"0 9 * * 1-5\", function() end)\n",
		"syntax.lua": "local x = 1\nlocal y = = 2\n",
		"rterr.lua":  "local t = {}\n\nerror(\"boom\")\n",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	code, stdout, stderr := runChild(t, nil, "check", filepath.Join(dir, "good.lua"))
	assert.Equal(t, 0, code, "good script: %s%s", stdout, stderr)
	assert.Empty(t, stdout)

	code, stdout, _ = runChild(t, nil, "check", filepath.Join(dir, "syntax.lua"))
	assert.Equal(t, 1, code, "syntax error")
	assert.Contains(t, stdout, "syntax.lua:2:", "file:line: message")

	code, stdout, _ = runChild(t, nil, "check", filepath.Join(dir, "rterr.lua"))
	assert.Equal(t, 1, code, "runtime error at load")
	assert.Contains(t, stdout, "rterr.lua:3:")
	assert.Contains(t, stdout, "boom")

	code, stdout, _ = runChild(t, nil, "check", dir)
	assert.Equal(t, 1, code, "a folder with two bad scripts")
	assert.Len(t, strings.Split(strings.TrimSpace(stdout), "\n"), 2, "one line per error:\n%s", stdout)

	code, stdout, _ = runChild(t, nil, "check", filepath.Join(dir, "missing.lua"))
	assert.Equal(t, 1, code, "missing file")
	assert.Contains(t, stdout, "missing.lua")

	code, stdout, stderr = runChild(t, nil, "check", examplesDir)
	assert.Equal(t, 0, code, "the example scripts pass check: %s%s", stdout, stderr)

	code, stdout, _ = runChild(t, nil, "version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "rclua v0.0.0-e2e\n", stdout, "-ldflags sets the version")
}

// TestE2EGracefulShutdown: SIGTERM during a handler lets it finish (its
// last request reaches the server) and exits 0.
func TestE2EGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	writeScript(t, filepath.Join(dir, "slow.lua"), `-- slow: a handler that takes a while
local busy = false
rc.every("1s", function()
  if busy then return end
  busy = true
  rc.chat.post_message { channel = "#general", text = "handler started" }
  local t0 = os.clock()
  while os.clock() - t0 < 1.5 do end
  rc.chat.post_message { channel = "#general", text = "handler finished" }
end)
`)
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--shutdown-timeout", "8s", "--log-format", "json")
	waitFor(t, 10*time.Second, "the handler to start", func() bool { return posted(s, "handler started") == 1 })
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, c.wait(t, 10*time.Second), "exit 0 after SIGTERM; output:\n%s", c.stderr.String())
	assert.Equal(t, 1, posted(s, "handler finished"), "the running handler finished before exit")
}

// TestE2EChildEnvironmentIsolated: the children of these tests see only
// the environment the test gives them, never the machine's own RC_* and
// RCLUA_* variables.
func TestE2EChildEnvironmentIsolated(t *testing.T) {
	t.Setenv("RC_URL", "http://127.0.0.1:1")
	t.Setenv("RC_USER_ID", "machine-user")
	t.Setenv("RC_TOKEN", "machine-token")
	good := filepath.Join(t.TempDir(), "good.lua")
	require.NoError(t, os.WriteFile(good, []byte("local x = 1\n"), 0o644))
	code, _, stderr := runChild(t, nil, "exec", good)
	assert.Equal(t, 2, code, "exec with an empty environment: %s", stderr)
	assert.Contains(t, stderr, "nothing configured", "the machine's RC_URL must not reach the child")
}

// TestE2EDevKeptStateDirHasNoStaleCursor: two --dev runs on one kept
// state dir and one address: the second's fake server is a new one, so it
// starts with a baseline, not from the first's cursor (whose catch-up
// would read the new server's seed as changes made while stopped), while
// the scripts' store is kept.
func TestE2EDevKeptStateDirHasNoStaleCursor(t *testing.T) {
	t.Parallel()
	dir, state := t.TempDir(), t.TempDir()
	writeScript(t, filepath.Join(dir, "w.lua"), `
rc.store.incr("starts")
rc.log.info("starts", { n = rc.store.get("starts") })
rc.on("subscription", function(action, sub) rc.log.info("saw", { action = action }) end)
`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	args := []string{"run", "--dev", "--dev-addr", addr, "--dev-activity", "100ms", "--poll-interval", "1s",
		"--scripts", dir, "--state-dir", state, "--log-format", "json", "--log-level", "debug", "--admin-addr", "off"}
	for i, want := range []string{`"n":1`, `"n":2`} {
		c := startChild(t, nil, args...)
		waitForText(t, c.stderr, `"message":"saw"`, 20*time.Second)
		// Past the first second: a cursor was saved, if one is.
		waitFor(t, 10*time.Second, "more events", func() bool { return strings.Count(c.stderr.String(), `"message":"saw"`) >= 3 })
		require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
		require.Equal(t, 0, c.wait(t, 15*time.Second), c.stderr.String())
		out := c.stderr.String()
		assert.Contains(t, out, want, "run %d: the store is kept", i+1)
		assert.Contains(t, out, "subscriptions baseline taken", "run %d: a new fake server, a baseline:\n%s", i+1, out)
	}
}
