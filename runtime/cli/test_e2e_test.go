package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2ETest runs "rclua test" as a built binary: a failing assertion is
// reported with the test file's file:line and both values, the exit
// status is 1 on a failure, 0 when all pass, 2 for a usage error; --run
// selects, --json gives one object per test, and the default folder is
// --scripts / RCLUA_SCRIPTS.
func TestE2ETest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("echo.lua", `rc.hear("^echo (.*)", function(msg, what) msg:reply(what) end)`+"\n")
	write("echo_test.lua", `function test_echo()
  t.post { room = "#general", text = "echo hi" }
  t.eq(t.posted(), { { room = "#general", text = "hi" } })
end

function test_wrong()
  t.post { room = "#general", text = "echo hi" }
  t.eq(t.posted()[1].text, "bye", "the reply")
end
`)
	code, stdout, stderr := runChild(t, nil, "test", dir)
	assert.Equal(t, 1, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "--- FAIL: test_wrong ("+filepath.Join(dir, "echo_test.lua")+":8)\n")
	assert.Contains(t, stdout, `the reply: t.eq: got "hi", want "bye"`)
	assert.NotContains(t, stdout, "FAIL: test_echo")
	assert.Contains(t, stdout, "FAIL\t"+filepath.Join(dir, "echo_test.lua")+"\t2 tests")
	assert.Contains(t, stdout, "1 passed, 1 failed\n")

	write("other.lua", "rc.log.info(\"loaded\")\n")
	write("other_test.lua", "function test_other() end\n")
	code, stdout, stderr = runChild(t, []string{"RCLUA_SCRIPTS=" + dir}, "test", "--run", "^test_echo$")
	assert.Equal(t, 0, code, "the default folder, one test selected: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "ok  \t"+filepath.Join(dir, "echo_test.lua")+"\t1 test\t")
	assert.Contains(t, stdout, "ok  \t"+filepath.Join(dir, "other_test.lua")+"\t[no tests to run]\n", "a file without a match says so")
	assert.Contains(t, stdout, "1 passed, 0 failed\n")

	code, stdout, stderr = runChild(t, nil, "test", "--json", filepath.Join(dir, "echo_test.lua"))
	assert.Equal(t, 1, code)
	assert.True(t, strings.HasPrefix(stderr, "1 passed, 1 failed\n"), "the summary goes to stderr with --json: %q", stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 2, stdout)
	var rec testRecord
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	assert.Equal(t, "test_wrong", rec.Test)
	assert.Equal(t, "fail", rec.Result)
	assert.Equal(t, filepath.Join(dir, "echo_test.lua")+":8", rec.Where)
	assert.Contains(t, rec.Message, `got "hi", want "bye"`)

	for _, args := range [][]string{
		{"test", "--run", "(", dir},
		{"test", filepath.Join(dir, "missing")},
		{"test", filepath.Join(dir, "echo.lua")}, // a script, not a test file
		{"test", t.TempDir()},                    // no tests there
	} {
		code, _, stderr = runChild(t, nil, args...)
		assert.Equal(t, 2, code, "usage error %v: %s", args, stderr)
	}

	code, stdout, stderr = runChild(t, nil, "test", examplesDir)
	assert.Equal(t, 0, code, "the example scripts' tests pass: %s%s", stdout, stderr)
}

// TestE2ETestPrintKeepsJSON: print in a test file (at its top level and in
// a test) goes to stderr, so that --json's stdout stays one JSON object per
// line; the script's own print is still its log, seen by t.logs.
func TestE2ETestPrintKeepsJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.lua"), []byte(`print("from the script")`+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p_test.lua"), []byte(`print("top level")
function test_print()
  print("debugging", 42, {})
  t.eq(t.logs()[1].message, "from the script")
end
`), 0o644))
	code, stdout, stderr := runChild(t, nil, "test", "--json", dir)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 1, "only the result on stdout: %q", stdout)
	var rec testRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec), lines[0])
	assert.Equal(t, "pass", rec.Result)
	assert.Contains(t, stderr, "top level\n")
	assert.Contains(t, stderr, "debugging\t42\ttable: ")

	code, stdout, stderr = runChild(t, nil, "test", dir)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.NotContains(t, stdout, "debugging")
	assert.Contains(t, stderr, "debugging")
}

// TestE2ETestLoopingHandler: a test of a handler that never returns
// passes: the handler is stopped at the tests' --handler-timeout (well
// before the test's own --timeout) and t.errors() holds the stop; a
// --timeout not above --handler-timeout is a usage error.
func TestE2ETestLoopingHandler(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "loop.lua"),
		[]byte(`rc.hear("^loop$", function(msg) while true do end end)`+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "loop_test.lua"), []byte(`function test_loop()
  t.post { room = "#general", user = "bob", text = "loop" }
  local errs = t.errors()
  t.eq(#errs, 1)
  assert(tostring(errs[1]):find("ran longer than the handler timeout (200ms)", 1, true), tostring(errs[1]))
end
`), 0o644))
	code, stdout, stderr := runChild(t, nil, "test", "--handler-timeout", "200ms", dir)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "1 passed, 0 failed\n")
	code, _, stderr = runChild(t, nil, "test", "--handler-timeout", "2s", "--timeout", "1s", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--timeout (1s) must be more than --handler-timeout (2s)")
}

// TestE2ETestMemoryLimit: rclua test runs the script under test under the
// memory watchdog: a handler that keeps everything it allocates fails its
// test with the memory error at its file:line, long before --timeout,
// and the next test runs (rclua test once had no memory bound but its
// timeouts, and a hog took the machine's memory until then).
func TestE2ETestMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hog.lua"), []byte(`rc.hear("^hog$", function(msg)
  local t = {}
  while true do t[#t + 1] = string.rep("x", 64) .. #t end
end)
rc.hear("^ping$", function(msg) msg:reply("pong") end)
`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hog_test.lua"), []byte(`function test_hog()
  t.post { room = "#general", user = "bob", text = "hog" }
  local errs = t.errors()
  t.eq(#errs, 1)
  assert(tostring(errs[1]):find("memory limit exceeded", 1, true), tostring(errs[1]))
  assert(tostring(errs[1]):find("hog.lua:3:", 1, true), tostring(errs[1]))
end

function test_ping_after()
  t.post { room = "#general", user = "bob", text = "ping" }
  t.eq(t.posted()[1].text, "pong")
end
`), 0o644))
	code, stdout, stderr := runChild(t, nil, "test", "--memory-limit", "64MiB", "--handler-timeout", "50s", "--timeout", "55s", dir)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "2 passed, 0 failed\n")

	code, _, stderr = runChild(t, nil, "test", "--memory-limit", "1MiB", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "--memory-limit 1MiB is too small")
}
