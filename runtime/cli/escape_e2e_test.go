package cli

import (
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

// escapeScript tries the module("os") escape (gopher-lua's module reads
// the full os table from the registry) to create the file marker.
func escapeScript(marker string) string {
	return `-- escape: reach os.execute through module
local print = print
module("os")
execute("touch ` + marker + `")
print("escaped")
`
}

// walkScript walks everything a script reaches (globals with rc, every
// table's keys and values, metatables of tables and strings, function
// environments, stack levels, a coroutine) and fails naming the first
// withheld library it finds: os (execute with getenv), io (popen), debug
// (getregistry), package (loadlib). The file-loading globals must be the
// sandbox's stubs.
const walkScript = `-- walk: no withheld library is reachable
local seen, path = {}, {}
local function check(t, where)
  local function raw(k) return type(rawget(t, k)) == "function" end
  if raw("execute") and raw("getenv") then error("full os reachable at " .. where, 0) end
  if raw("popen") then error("io reachable at " .. where, 0) end
  if raw("getregistry") then error("debug reachable at " .. where, 0) end
  if raw("loadlib") then error("package reachable at " .. where, 0) end
end
local function visit(v, where)
  local ty = type(v)
  if (ty ~= "table" and ty ~= "function") or seen[v] then return end
  seen[v] = true
  if ty == "table" then
    check(v, where)
    for k, x in next, v do visit(x, where .. "." .. tostring(k)) end
    visit(getmetatable(v), where .. "<mt>")
  else
    visit(getfenv(v), where .. "<env>")
  end
end
visit(_G, "_G")
visit(getmetatable(""), "<string mt>")
for level = 0, 3 do visit(getfenv(level), "<level " .. level .. ">") end
local co = coroutine.create(function() visit(getfenv(0), "<coroutine>") end)
assert(coroutine.resume(co))
for _, name in ipairs({"dofile", "loadfile", "module", "collectgarbage"}) do
  local ok, err = pcall(_G[name], "x")
  assert(not ok and tostring(err):find("disabled in the sandbox"), name .. " is a stub")
end
rc.log.info("walked " .. tostring(#path + 1))
`

// TestE2EModuleEscapeFails: the module("os") escape fails in exec and
// check through the built binary (run loads scripts with the same
// sandbox.New and sandbox.Compile; TestE2EHostileEditKeepsRunning runs a
// hostile edit through run), and nothing withheld is reachable with the
// rc table open.
func TestE2EModuleEscapeFails(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	marker := filepath.Join(dir, "escaped")
	script := filepath.Join(dir, "escape.lua")
	require.NoError(t, os.WriteFile(script, []byte(escapeScript(marker)), 0o644))

	code, _, stderr := runChild(t, botEnv(s), "exec", script)
	assert.Equal(t, 1, code, "exec of the escape: %s", stderr)
	assert.Contains(t, stderr, "escape.lua:3", "the failure names file:line")
	assert.Contains(t, stderr, "module is disabled in the sandbox")
	assert.NotContains(t, stderr, "escaped")

	code, stdout, _ := runChild(t, nil, "check", script)
	assert.Equal(t, 1, code, "check of the escape")
	assert.Contains(t, stdout, "escape.lua:3: module is disabled in the sandbox")

	_, err := os.Stat(marker)
	assert.True(t, os.IsNotExist(err), "os.execute never ran")

	walk := filepath.Join(dir, "walk.lua")
	require.NoError(t, os.WriteFile(walk, []byte(walkScript), 0o644))
	code, _, stderr = runChild(t, botEnv(s), "exec", walk)
	assert.Equal(t, 0, code, "the walk finds nothing withheld: %s", stderr)
	assert.Contains(t, stderr, "walked", "the walk ran to its end")
	code, stdout, _ = runChild(t, nil, "check", walk)
	assert.Equal(t, 0, code, "the walk in check mode: %s", stdout)
}

// TestE2EHostileSourceIsRefused: source that overflowed the Go stack of
// the compiler (a fatal error no recover catches) or compiled for minutes
// is refused by check and exec with file:line, exit status 1.
func TestE2EHostileSourceIsRefused(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	files := map[string]struct{ content, want string }{
		"not.lua":    {"local x = " + strings.Repeat("not ", 60000) + "1\n", "not.lua:1: too deeply nested"},
		"paren.lua":  {"-- deep\nlocal x = " + strings.Repeat("(", 200000) + "\n", "paren.lua:2: too deeply nested"},
		"sum.lua":    {"local y = 1\nlocal x = y" + strings.Repeat("+y", 100000) + "\n", "sum.lua:2: expression too long"},
		"big.lua":    {"local t = {" + strings.Repeat("1, ", 3<<20) + "}\n", "big.lua: 9437197 bytes: larger than the limit of 262144 bytes of a script"},
		"loader.lua": {"local f, err = loadstring((\"not \"):rep(60000) .. \"1\")\nerror(err, 0)\n", "too deeply nested"},
	}
	for name, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(f.content), 0o644))
	}
	for name, f := range files {
		path := filepath.Join(dir, name)
		code, stdout, stderr := runChild(t, nil, "check", path)
		assert.Equal(t, 1, code, "check %s: %s%s", name, stdout, stderr)
		assert.Contains(t, stdout, f.want, "check %s", name)
		assert.NotContains(t, stderr, "fatal error", "check %s", name)

		code, _, stderr = runChild(t, botEnv(s), "exec", path)
		assert.Equal(t, 1, code, "exec %s: %s", name, stderr)
		assert.Contains(t, stderr, f.want, "exec %s", name)
	}
}

// TestE2EHostileEditKeepsRunning: a hostile edit saved over a running
// script is refused at load, the daemon lives on and the old version
// keeps running.
func TestE2EHostileEditKeepsRunning(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, "probe.lua")
	writeScript(t, script, probeScript("v1"))
	c := startChild(t, botEnv(s), "run", "--scripts", dir, "--debounce", "50ms",
		"--poll-interval", "1s", "--shutdown-timeout", "3s", "--log-format", "json")
	waitFor(t, 15*time.Second, "tick v1", func() bool { return posted(s, "tick v1") >= 1 })

	writeScript(t, script, "local x = "+strings.Repeat("not ", 60000)+"1\n")
	waitForText(t, c.stderr, "too deeply nested", 10*time.Second)
	assert.Contains(t, c.stderr.String(), "probe.lua:1: too deeply nested")
	s.ResetRequests()
	waitFor(t, 5*time.Second, "tick v1 after the hostile edit", func() bool { return posted(s, "tick v1") >= 2 })
	select {
	case <-c.done:
		t.Fatalf("the daemon died: %s", c.stderr.String())
	default:
	}
}

// TestE2EScriptNamesCannotCommandTheTerminal: a script file whose name
// holds an escape sequence, a newline or a right-to-left override is not
// loaded (one warning each, the name escaped), so no status table, store
// listing or metric label ever prints it; rclua check names it quoted as
// an error. A good script beside them runs.
func TestE2EScriptNamesCannotCommandTheTerminal(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	bad := []string{"esc\x1b[31mred.lua", "nl\nname.lua", "rtl\u202eaul.lua"}
	for _, name := range bad {
		writeScript(t, filepath.Join(dir, name), `print("bad ran")`)
	}
	writeScript(t, filepath.Join(dir, "good.lua"), `print("good ran")`)
	state := filepath.Join(t.TempDir(), "st")

	code, stdout, stderr := runChild(t, nil, "check", dir)
	assert.Equal(t, 1, code, "check: %s", stderr)
	for _, name := range bad {
		assert.Contains(t, stdout+stderr, strconv.Quote(name)+" has control or format characters")
		assert.NotContains(t, stdout+stderr, name, "never raw")
	}

	c := startChild(t, append(botEnv(s), "RCLUA_STATE_DIR="+state), "run", "--scripts", dir, "--log-format", "json", "--admin-addr", "off", "--shutdown-timeout", "2s")
	waitForText(t, c.stderr, "good ran", 15*time.Second)
	code, stdout, stderr = runChild(t, nil, "status", "--state-dir", state)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "good")
	assert.NotContains(t, stdout, "\x1b", "no escape sequence in the status table")
	assert.NotContains(t, stdout, "\u202e")
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	require.Equal(t, 0, c.wait(t, 15*time.Second), c.stderr.String())
	out := c.stderr.String()
	assert.NotContains(t, out, "bad ran")
	assert.Equal(t, len(bad), strings.Count(out, "a script file name with control or format characters is not loaded"), out)
	assert.NotContains(t, out, "\x1b", "the log escapes the names")
}
