package cli

import (
	"context"
	"net"
	"net/http"
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

// countLua counts its loads in rc.store and logs the count.
const countLua = `local n = assert(rc.store.incr("loads"))
print("loads " .. n)
`

// TestE2EStoreStateDir: the built daemon keeps rc.store in --state-dir
// across a restart; a second daemon on the same state dir exits at once
// naming it; rclua store cannot delete while a daemon holds the lock, and
// lists, gets and deletes once it stopped.
func TestE2EStoreStateDir(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	writeScript(t, filepath.Join(dir, "count.lua"), countLua)
	args := []string{"run", "--scripts", dir, "--state-dir", state, "--log-format", "json", "--shutdown-timeout", "2s"}

	a := startChild(t, botEnv(s), args...)
	waitForText(t, a.stderr, "loads 1", 15*time.Second)

	code, _, stderr := runChild(t, botEnv(s), args...)
	assert.Equal(t, 1, code, "a second daemon: %s", stderr)
	assert.Contains(t, stderr, "another rclua holds the state dir")
	assert.Contains(t, stderr, state, "names the dir")
	assert.NotContains(t, stderr, "connecting", "it stops before connecting")

	code, _, stderr = runChild(t, nil, "store", "delete", "--state-dir", state, "count", "loads")
	assert.Equal(t, 1, code, "store delete while the daemon runs: %s", stderr)
	assert.Contains(t, stderr, "a running rclua daemon holds the state dir "+state)

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, a.wait(t, 15*time.Second), a.stderr.String())

	code, stdout, stderr := runChild(t, nil, "store", "get", "--state-dir", state, "count", "loads")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1\n", stdout)
	code, stdout, _ = runChild(t, nil, "store", "list", "--state-dir", state)
	require.Equal(t, 0, code)
	assert.Regexp(t, `count\s+1`, stdout)

	b := startChild(t, botEnv(s), args...)
	waitForText(t, b.stderr, "loads 2", 15*time.Second)
	require.NoError(t, b.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, b.wait(t, 15*time.Second), b.stderr.String())

	code, stdout, _ = runChild(t, nil, "store", "list", "--state-dir", state, "count")
	require.Equal(t, 0, code)
	assert.Regexp(t, `"loads"\s+1\s+never`, stdout)
	code, stdout, _ = runChild(t, nil, "store", "list", "--state-dir", state, "count.lua")
	require.Equal(t, 0, code)
	assert.Regexp(t, `"loads"\s+1\s+never`, stdout, "count.lua is script count, as the control commands take it")
	code, stdout, stderr = runChild(t, nil, "store", "list", "--state-dir", state, "cuont")
	assert.Equal(t, 1, code, "a mistyped script name: %s", stdout)
	assert.Contains(t, stderr, `script "cuont" has no state`)
	code, _, stderr = runChild(t, nil, "store", "delete", "--state-dir", state, "--all", "count")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runChild(t, nil, "store", "get", "--state-dir", state, "count", "loads")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `script "count" has no key "loads"`)
}

// TestE2EExecRemembers: rclua exec uses the real store (the script's
// namespace), so a cron-run script counts across runs.
func TestE2EExecRemembers(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "scripts", "count.lua")
	require.NoError(t, os.Mkdir(filepath.Dir(path), 0o755))
	writeScript(t, path, countLua)
	for i, want := range []string{"loads 1", "loads 2"} {
		code, stdout, stderr := runChild(t, botEnv(s), "exec", "--log-format", "json", path)
		require.Equal(t, 0, code, "run %d: %s", i, stderr)
		assert.Contains(t, stdout+stderr, want, "run %d", i)
	}
	// The default state dir is beside the scripts folder.
	code, stdout, stderr := runChild(t, nil, "store", "get", "--state-dir", filepath.Join(dir, ".rclua-state"), "count", "loads")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "2\n", stdout)
}

// TestE2EExecWhileDaemonRuns: with a daemon holding the state dir, exec
// of a script that does not use rc.store succeeds, and one that does gets
// nil, err (error_type "unavailable", naming the dir) from every rc.store
// call, the rest of its top level running; the daemon's state is
// untouched.
func TestE2EExecWhileDaemonRuns(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	writeScript(t, filepath.Join(dir, "count.lua"), countLua)
	a := startChild(t, botEnv(s), "run", "--scripts", dir, "--state-dir", state, "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, a.stderr, "loads 1", 15*time.Second)

	other := t.TempDir()
	plain := filepath.Join(other, "plain.lua")
	writeScript(t, plain, `print("plain ran")`)
	code, stdout, stderr := runChild(t, botEnv(s), "exec", "--state-dir", state, "--log-format", "json", plain)
	assert.Equal(t, 0, code, "exec without rc.store while the daemon runs: %s", stderr)
	assert.Contains(t, stdout+stderr, "plain ran")

	uses := filepath.Join(other, "count.lua")
	writeScript(t, uses, `
for _, call in ipairs({
  function() return rc.store.get("loads") end,
  function() return rc.store.incr("loads") end,
  function() return rc.store.set("k", 1) end,
  function() return rc.store.delete("k") end,
  function() return rc.store.keys() end,
  function() return rc.store.update("k", function() return 1 end) end,
}) do
  local v, err = call()
  assert(v == nil and err, "a store call succeeded")
  print("store: " .. err.error_type .. ": " .. err.message)
end
print("after the store")
`)
	code, stdout, stderr = runChild(t, botEnv(s), "exec", "--state-dir", state, "--log-format", "json", uses)
	require.Equal(t, 0, code, "exec with rc.store while the daemon runs: %s", stderr)
	out := stdout + stderr
	assert.Equal(t, 6, strings.Count(out, "store: unavailable: the state dir "+state+" is held by a running rclua daemon"), out)
	assert.Contains(t, out, "after the store")

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, a.wait(t, 15*time.Second), a.stderr.String())
	code, stdout, stderr = runChild(t, nil, "store", "get", "--state-dir", state, "count", "loads")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "1\n", stdout, "exec changed nothing")
}

// TestE2EStoreNoStateCreatesNothing: rclua store on a state dir that has
// no store.db (a mistyped --state-dir or --scripts) fails with "no state
// in D" for every verb, delete and delete --all included, and creates
// neither the dir nor the file.
func TestE2EStoreNoStateCreatesNothing(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	missing := filepath.Join(root, "typo")
	empty := filepath.Join(root, "empty")
	require.NoError(t, os.Mkdir(empty, 0o700))
	for _, args := range [][]string{
		{"list"}, {"list", "s"}, {"get", "s", "k"}, {"delete", "s", "k"}, {"delete", "--all", "s"},
	} {
		for _, dir := range []string{missing, empty} {
			code, _, stderr := runChild(t, nil, append([]string{"store", args[0], "--state-dir", dir}, args[1:]...)...)
			assert.Equal(t, 1, code, "%v in %s: %s", args, dir, stderr)
			assert.Contains(t, stderr, "no state in "+dir, "%v", args)
			_, err := os.Stat(filepath.Join(dir, "store.db"))
			assert.ErrorIs(t, err, os.ErrNotExist, "%v made a store in %s", args, dir)
		}
		// The default state dir beside a mistyped --scripts.
		code, _, stderr := runChild(t, nil, append([]string{"store", args[0], "--scripts", filepath.Join(root, "scirpts")}, args[1:]...)...)
		assert.Equal(t, 1, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "no state in "+filepath.Join(root, ".rclua-state"))
	}
	// A flag before the verb is a usage error that says where it goes,
	// and the store's own help names the flags.
	code, _, stderr := runChild(t, nil, "store", "--state-dir", missing, "list")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "the flags come after it (rclua store list --state-dir")
	code, stdout, _ := runChild(t, nil, "store", "--help")
	assert.Equal(t, 0, code)
	for _, f := range []string{"--state-dir", "--scripts", "--all"} {
		assert.Contains(t, stdout, f, "rclua store --help names %s", f)
	}
	_, err := os.Stat(missing)
	assert.ErrorIs(t, err, os.ErrNotExist, "the missing dir was made")
	_, err = os.Stat(filepath.Join(root, ".rclua-state"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the default dir was made")
}

// TestE2EStoreWhileDaemonRuns: while a daemon holds the state dir, rclua
// store list and get answer through its control socket with what they
// print once it stopped (a key that needs escaping, an expiry included);
// delete and delete --all are refused, and so are writes sent to the
// socket's store routes directly: the keys are still there.
func TestE2EStoreWhileDaemonRuns(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, state := t.TempDir(), filepath.Join(t.TempDir(), "state")
	writeScript(t, filepath.Join(dir, "count.lua"), `
assert(rc.store.set("odd key & =?/é", {a = 1}))
assert(rc.store.set("ttl", "x", {ttl = "1h"}))
`+countLua)
	a := startChild(t, botEnv(s), "run", "--scripts", dir, "--state-dir", state, "--log-format", "json", "--shutdown-timeout", "2s")
	waitForText(t, a.stderr, "loads 1", 15*time.Second)
	sock := filepath.Join(state, "control.sock")
	waitFor(t, 15*time.Second, "the control socket", func() bool { _, err := os.Stat(sock); return err == nil })

	reads := [][]string{
		{"list"}, {"list", "count"}, {"get", "count", "loads"}, {"get", "count", "odd key & =?/é"}, {"get", "count", "ttl"},
	}
	running := make([]string, len(reads))
	for i, r := range reads {
		code, stdout, stderr := runChild(t, nil, append([]string{"store", r[0], "--state-dir", state}, r[1:]...)...)
		require.Equal(t, 0, code, "%v while the daemon runs: %s", r, stderr)
		running[i] = stdout
	}
	assert.Regexp(t, `count\s+3`, running[0])
	assert.Regexp(t, `"odd key & =\?/é"\s+7\s+never`, running[1])
	assert.Regexp(t, `"ttl"\s+3\s+20\d\d-`, running[1])
	assert.Equal(t, []string{"1\n", `{"a":1}` + "\n", `"x"` + "\n"}, running[2:])
	code, _, stderr := runChild(t, nil, "store", "get", "--state-dir", state, "count", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `script "count" has no key "nope"`, "a missing key through the daemon")

	for _, args := range [][]string{{"delete", "count", "loads"}, {"delete", "--all", "count"}} {
		code, _, stderr := runChild(t, nil, append([]string{"store", args[0], "--state-dir", state}, args[1:]...)...)
		assert.Equal(t, 1, code, "%v while the daemon runs: %s", args, stderr)
		assert.Contains(t, stderr, "a running rclua daemon holds the state dir "+state+": stop it first")
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		for _, p := range []string{"/store/get?script=count&key=loads", "/store/list?script=count", "/store/delete?script=count&key=loads"} {
			req, err := http.NewRequestWithContext(context.Background(), m, "http://rclua"+p, strings.NewReader(`{"scripts":["count"]}`))
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Contains(t, []int{http.StatusMethodNotAllowed, http.StatusNotFound}, resp.StatusCode, "%s %s", m, p)
		}
	}

	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, a.wait(t, 15*time.Second), a.stderr.String())
	for i, r := range reads {
		code, stdout, stderr := runChild(t, nil, append([]string{"store", r[0], "--state-dir", state}, r[1:]...)...)
		require.Equal(t, 0, code, "%v once it stopped: %s", r, stderr)
		assert.Equal(t, stdout, running[i], "%v prints the same from the file", r)
	}
}
