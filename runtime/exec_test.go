package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
)

func TestExec(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ok := filepath.Join(dir, "once.lua")
	writeFile(t, ok, "rc.log.info(\"ran once\")\nrc.every(\"5m\", function() end)\n")
	logs := &logSink{}
	log := zerolog.New(logs)
	require.NoError(t, Exec(context.Background(), ok, Config{}, &luabind.Module{}, ExecOptions{}, log))
	assert.Equal(t, 1, logs.count("ran once", "script", "once"))
	assert.Equal(t, 1, logs.count("trigger ignored in exec mode", "trigger", "every 5m0s ("+ok+":2)"))

	bad := filepath.Join(dir, "bad.lua")
	writeFile(t, bad, "local x = nil\nx.y = 1\n")
	err := Exec(context.Background(), bad, Config{}, nil, ExecOptions{}, log)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), bad+":2:"), "file:line: %q", err)
}

// TestExecMemoryLimit: exec's top level runs under the memory watchdog:
// over the limit it is stopped with the memory error (a script's
// file:line first), not left to grow until the timeout or the kernel's
// OOM killer; with the watchdog off the same reading stops nothing.
func TestExecMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hog := filepath.Join(dir, "hog.lua")
	writeFile(t, hog, "local t = {}\nwhile true do t[#t % 1000 + 1] = {} end\n")
	cfg := Config{MemoryLimit: testMemLimit, LoadTimeout: time.Minute, memRead: func() uint64 { return 2 * testMemLimit }}
	err := Exec(context.Background(), hog, cfg, &luabind.Module{}, ExecOptions{}, zerolog.Nop())
	var se *scriptError
	require.ErrorAs(t, err, &se)
	assert.True(t, se.Memory, "%v", err)
	assert.Contains(t, err.Error(), "memory limit exceeded (96.0 MiB heap): top level stopped")
	assert.True(t, strings.HasPrefix(err.Error(), hog+":2:"), "where it was stopped: %q", err)

	short := filepath.Join(dir, "short.lua")
	writeFile(t, short, "local t = {}\nfor i = 1, 100000 do t[i] = {i} end\nrc.log.info(\"built\")\n")
	logs := &logSink{}
	cfg.MemoryLimit = -1 // off
	require.NoError(t, Exec(context.Background(), short, cfg, &luabind.Module{}, ExecOptions{}, zerolog.New(logs)))
	assert.Equal(t, 1, logs.count("built"))
}

// TestCheckMemoryLimit: rclua check loads each script under the memory
// watchdog too: a top level over the limit fails with the memory error
// at its file:line, and the next script is checked as usual.
func TestCheckMemoryLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hog := filepath.Join(dir, "a_hog.lua")
	writeFile(t, hog, "local t = {}\nwhile true do t[#t % 1000 + 1] = {} end\n")
	writeFile(t, filepath.Join(dir, "b_fine.lua"), "rc.log.info('fine')\n")
	var over atomic.Bool
	over.Store(true)
	cfg := Config{MemoryLimit: testMemLimit, LoadTimeout: 20 * time.Second, memRead: func() uint64 {
		if over.Load() {
			return 2 * testMemLimit
		}
		return 0
	}}
	errs := Check(context.Background(), []string{hog}, cfg)
	require.Len(t, errs, 1, "%v", errs)
	assert.True(t, strings.HasPrefix(errs[0].Error(), hog+":2:"), "%q", errs[0])
	assert.Contains(t, errs[0].Error(), "memory limit exceeded")
	over.Store(false)
	cfg.LoadTimeout = 100 * time.Millisecond
	errs = Check(context.Background(), []string{dir}, cfg)
	require.Len(t, errs, 1, "b_fine passes: %v", errs)
	assert.True(t, strings.HasPrefix(errs[0].Error(), hog+":"), "%q", errs[0])
	assert.NotContains(t, errs[0].Error(), "memory limit", "under the limit, a_hog fails on its load timeout alone")
}

// TestCheckExplainsAGenericLoadError: a top level that fails with
// gopher-lua's "attempt to call a non-function object", which names
// nothing, is reported with the finding of its line that says what is
// missing; a load error with a message of its own stays.
func TestCheckExplainsAGenericLoadError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unpack := filepath.Join(dir, "unpack.lua")
	writeFile(t, unpack, "local x = 1\nlocal a, b = table.unpack({1, 2})\n")
	errs := Check(context.Background(), []string{unpack}, Config{})
	require.Len(t, errs, 1, "%v", errs)
	assert.True(t, strings.HasPrefix(errs[0].Error(), unpack+":2: table.unpack does not exist (Lua 5.1 has unpack;"), "%q", errs[0])

	// A finding of another kind on the line does not explain it.
	other := filepath.Join(dir, "other.lua")
	writeFile(t, other, "local f\nf(); rc.me(1)\n") // rc.me(1) is a call-arg finding
	errs = Check(context.Background(), []string{other}, Config{})
	require.Len(t, errs, 1, "%v", errs)
	assert.Contains(t, errs[0].Error(), other+":2: attempt to call a non-function object")

	own := filepath.Join(dir, "own.lua")
	writeFile(t, own, "error(\"stop \" .. tostring(table.unpack))\n")
	errs = Check(context.Background(), []string{own}, Config{})
	require.Len(t, errs, 1, "%v", errs)
	assert.Contains(t, errs[0].Error(), own+":1: stop nil", "the load's own message")
}

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "good.lua"), `
local me, err = rc.me()
assert(me == nil and tostring(err):find("no network in check mode"), tostring(err))
rc.cron("0 9 * * 1-5", function() end)
`)
	writeFile(t, filepath.Join(dir, "syntax.lua"), "local = 1\n")
	writeFile(t, filepath.Join(dir, "trigger.lua"), "\nrc.cron(\"bogus\", function() end)\n")
	writeFile(t, filepath.Join(dir, ".hidden.lua"), "error('x')")
	writeFile(t, filepath.Join(dir, "good_test.lua"), "t.undefined()") // a test file: not checked as a script
	errs := Check(context.Background(), []string{dir}, Config{})
	require.Len(t, errs, 2, "two failing scripts: %v", errs)
	assert.True(t, strings.HasPrefix(errs[0].Error(), filepath.Join(dir, "syntax.lua")+":1:"), "%q", errs[0])
	assert.True(t, strings.HasPrefix(errs[1].Error(), filepath.Join(dir, "trigger.lua")+":2:"), "%q", errs[1])
	assert.Empty(t, Check(context.Background(), []string{filepath.Join(dir, "good.lua")}, Config{}))
	assert.Len(t, Check(context.Background(), []string{filepath.Join(dir, "missing.lua")}, Config{}), 1)
}

// TestCheckReadsTheHandlers: rclua check reports what the load never
// runs (a handler's misspelt rc path and undefined global), after the
// load's own error and in line order, without repeating a finding on the
// line where the load failed.
func TestCheckReadsTheHandlers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "handlers.lua")
	writeFile(t, p, `rc.on("subscription", function(action, sub)
  rc.subscriptions.raed(sub.rid)
end)
rc.every("1m", function() undefined_fn() end)
rc.chat.postMessage{text = "at load"}
`)
	errs := Check(context.Background(), []string{p}, Config{})
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
	}
	require.Len(t, got, 3, "%q", got)
	assert.True(t, strings.HasPrefix(got[0], p+":2: rc.subscriptions.raed does not exist (did you mean rc.subscriptions.read?"), got[0])
	assert.Equal(t, p+":4: undefined global undefined_fn", got[1])
	assert.True(t, strings.HasPrefix(got[2], p+":5: rc.chat.postMessage does not exist"), "the load's error, once: %q", got[2])

	writeFile(t, p, "rc.on(\"subscription\", function(action, sub) rc.subscriptions.read(sub.rid) end)\n")
	assert.Empty(t, Check(context.Background(), []string{p}, Config{}))
}

func TestScriptFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"b.lua", "a.lua", ".hidden.lua", "notes.txt", "a.lua~", "#a.lua#", "a_test.lua"} {
		writeFile(t, filepath.Join(dir, name), "-- x\n")
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.lua"), 0o755))
	empty := t.TempDir()
	single := filepath.Join(dir, "notes.txt")

	testFile := filepath.Join(dir, "a_test.lua")
	files, errs := ScriptFiles([]string{dir, single, empty, filepath.Join(dir, "missing.lua"), testFile})
	assert.Equal(t, []string{filepath.Join(dir, "a.lua"), filepath.Join(dir, "b.lua"), single}, files,
		"a folder gives its scripts sorted, without its test files; a file stands for itself")
	require.Len(t, errs, 3, "%v", errs)
	assert.Equal(t, empty+": no *.lua scripts in this folder", errs[0].Error())
	assert.Equal(t, filepath.Join(dir, "missing.lua")+": no such file or directory", errs[1].Error())
	assert.Equal(t, testFile+": a test file, not a script (run it with rclua test)", errs[2].Error())

	// A file named twice, by a folder, its own path and another spelling
	// of it, is one file (rclua test ran such a test file twice).
	files, errs = ScriptFiles([]string{filepath.Join(dir, "b.lua"), dir, dir + "/./b.lua"})
	assert.Empty(t, errs)
	assert.Equal(t, []string{filepath.Join(dir, "b.lua"), filepath.Join(dir, "a.lua")}, files)
	tests, errs := TestFiles([]string{testFile, testFile, dir})
	assert.Empty(t, errs)
	assert.Equal(t, []string{testFile}, tests)
}

// TestCheckFolderWithAPipe: a named pipe called *.lua in a checked folder
// is reported, not opened (reading it would block until a writer came).
func TestCheckFolderWithAPipe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.lua"), 0o600))
	writeFile(t, filepath.Join(dir, "good.lua"), "local x = 1\n")
	errs := Check(context.Background(), []string{dir}, Config{})
	require.Len(t, errs, 1, "%v", errs)
	assert.Equal(t, filepath.Join(dir, "pipe.lua")+": not a regular file", errs[0].Error())
}

// TestDaemonIgnoresAPipe: a named pipe called *.lua in the scripts folder
// is not a script; the others load.
func TestDaemonIgnoresAPipe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "pipe.lua"), 0o600))
	th := startHost(t, Config{ScriptsDir: dir}, nil, map[string]string{"real.lua": `rc.log.info("real loaded")`})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("real loaded") == 1 }, "the real script")
	assert.Len(t, th.h.Status(), 1)
}

// TestDaemonKeepsAScriptReplacedByAPipe: a pipe renamed over a running
// script, or a symlink to a device put in its place, is a broken edit:
// the running version goes on (it was stopped as if the file were
// removed), with an error saying why; a regular file again loads.
func TestDaemonKeepsAScriptReplacedByAPipe(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"s.lua": `rc.log.info("s v1")`})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("s v1") == 1 }, "s loads")
	path := filepath.Join(th.dir, "s.lua")
	fifo := filepath.Join(th.dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	require.NoError(t, os.Rename(fifo, path))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("cannot read script: keeping the running version") == 1 }, "the pipe is read as a broken edit")
	assert.Equal(t, StateRunning, statusOf(th.h, "s").State, "the running version goes on")
	assert.Zero(t, th.logs.count("script file removed: stopping"))

	renameOver(t, path, `rc.log.info("s v2")`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("s v2") == 1 }, "a regular file loads again")

	link := filepath.Join(th.dir, "link")
	require.NoError(t, os.Symlink("/dev/null", link))
	require.NoError(t, os.Rename(link, path))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("cannot read script: keeping the running version") == 2 }, "a device too")
	assert.Equal(t, StateRunning, statusOf(th.h, "s").State)
	assert.Zero(t, th.logs.count("script file removed: stopping"))
}

// TestDaemonIgnoresTestFiles: a *_test.lua file in the scripts folder is a
// script's test (rclua test), never loaded by the daemon, while the script
// beside it is.
func TestDaemonIgnoresTestFiles(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"real.lua":      `rc.log.info("real loaded")`,
		"real_test.lua": `rc.log.info("test file loaded")`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("real loaded") == 1 }, "the real script")
	assert.Len(t, th.h.Status(), 1)
	assert.Zero(t, th.logs.count("test file loaded"))
}

// TestExecFireTimers: with FireTimers, exec calls each timer's handler
// once after the top level, in registration order, skipping one its handle
// stopped, and not the event handlers; a failing handler ends the run
// with its file:line; without it the timers are only logged as ignored.
func TestExecFireTimers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rule.lua")
	writeFile(t, path, `rc.log.info("top")
rc.cron("0 9 * * *", function() rc.log.info("cron") end)
rc.on("message", function() rc.log.info("message") end)
rc.every("1h", function() rc.log.info("every") end)
local h = rc.every("5m", function() rc.log.info("stopped one") end)
h:stop()
`)
	messages := func(logs *logSink) []string {
		var out []string
		for _, e := range logs.entries() {
			if m, _ := e["message"].(string); m == "top" || m == "cron" || m == "every" || m == "message" || m == "stopped one" {
				out = append(out, m)
			}
		}
		return out
	}
	logs := &logSink{}
	require.NoError(t, Exec(context.Background(), path, Config{}, &luabind.Module{}, ExecOptions{FireTimers: true}, zerolog.New(logs)))
	assert.Equal(t, []string{"top", "cron", "every"}, messages(logs))
	assert.Equal(t, 1, logs.count("timer fired once", "trigger", `cron "0 9 * * *" (`+path+":2)"))
	assert.Equal(t, 1, logs.count("trigger ignored in exec mode", "trigger", "on message ("+path+":3)"))

	logs = &logSink{}
	require.NoError(t, Exec(context.Background(), path, Config{}, &luabind.Module{}, ExecOptions{}, zerolog.New(logs)))
	assert.Equal(t, []string{"top"}, messages(logs), "without FireTimers")
	assert.Equal(t, 4, logs.count("trigger ignored in exec mode"))

	bad := filepath.Join(dir, "bad.lua")
	writeFile(t, bad, "rc.every(\"1h\", function() local x = nil; return x.y end)\nrc.every(\"2h\", function() rc.log.info(\"after\") end)\n")
	logs = &logSink{}
	err := Exec(context.Background(), bad, Config{}, &luabind.Module{}, ExecOptions{FireTimers: true}, zerolog.New(logs))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), bad+":1:"), "%q", err)
	assert.Zero(t, logs.count("after"), "the run ends at the first failure")
}
