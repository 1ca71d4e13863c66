package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime/source"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// version script: logs "loaded <v>" at load and "tick <v>" on a timer.
func versionScript(v string) string {
	return `local v = "` + v + `"
rc.log.info("loaded " .. v)
rc.every(0.01, function() rc.log.info("tick " .. v) end)
`
}

func TestReloadValidEditSwaps(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	st := th.waitStatus("a", "running v1", func(s ScriptStatus) bool { return s.State == StateRunning })
	assert.Equal(t, hashOf(versionScript("v1")), st.Hash, "hash of v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v1", "script", "a") > 0 }, "v1 ticks")

	renameOver(t, filepath.Join(th.dir, "a.lua"), versionScript("v2"))
	th.waitStatus("a", "running v2", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v2")) })
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2", "script", "a") > 2 }, "v2 ticks")
	v1 := th.logs.count("tick v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 6 }, "more v2 ticks")
	assert.Equal(t, v1, th.logs.count("tick v1"), "old version's timers stopped")
	assert.Equal(t, 1, th.logs.count("script reloaded", "script", "a"), "one reload line")
	assert.Equal(t, 1, th.logs.count("loaded v2"), "v2 loaded once")
}

func TestReloadBrokenEditKeepsOldUntilFixed(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	path := filepath.Join(th.dir, "a.lua")

	broken := "local x = 1\nrc.every(\"soon\", function() end)\n"
	writeFile(t, path, broken)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 1 }, "load failure logged")
	st, _ := th.status("a")
	assert.Equal(t, StateRunning, st.State, "old version still running")
	assert.Equal(t, hashOf(versionScript("v1")), st.Hash, "old hash kept")
	assert.True(t, strings.HasPrefix(st.LastError, "a.lua:2:"), "last error has file:line: %q", st.LastError)
	assert.True(t, st.FileBroken, "the file is broken, an older version runs")
	n := th.logs.count("tick v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v1") > n+2 }, "old version keeps ticking")

	// Same broken content again: not retried. b.lua is created after it,
	// so once b runs, a's quiet period is over too.
	writeFile(t, path, broken)
	writeFile(t, filepath.Join(th.dir, "b.lua"), `rc.log.info("b here")`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("b here") == 1 }, "b loaded")
	assert.Equal(t, 1, th.logs.count("script load failed", "script", "a"), "broken content not retried")

	writeFile(t, path, versionScript("v3"))
	st = th.waitStatus("a", "fixed", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v3")) && s.LastError == "" })
	assert.False(t, st.FileBroken)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v3") > 0 }, "fixed version runs")
}

func TestDeleteStopsCreateStarts(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	require.NoError(t, os.Remove(filepath.Join(th.dir, "a.lua")))
	th.waitStatus("a", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	n := th.logs.count("tick v1")

	writeFile(t, filepath.Join(th.dir, "c.lua"), versionScript("c1"))
	th.waitStatus("c", "started", func(s ScriptStatus) bool { return s.State == StateRunning })
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick c1") > 3 }, "new script ticks")
	assert.Equal(t, n, th.logs.count("tick v1"), "deleted script ticks no more")
}

func TestIgnoredFilesAreNotLoaded(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, nil)
	for _, name := range []string{".hidden.lua", ".#a.lua", "a.lua~", "#a.lua#", ".a.lua.swp", "4913", "notes.txt", "a.lua.tmp"} {
		writeFile(t, filepath.Join(th.dir, name), `rc.log.info("ignored file loaded")`)
	}
	writeFile(t, filepath.Join(th.dir, "real.lua"), `rc.log.info("real loaded")`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("real loaded") == 1 }, "real script")
	th.h.ReloadAll()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("real loaded") == 2 }, "reload all")
	assert.Zero(t, th.logs.count("ignored file loaded"), "temp, swap and dot files ignored")
	assert.Len(t, th.h.Status(), 1)
}

func TestBurstOfWritesReloadsOnce(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{Debounce: 150 * time.Millisecond}, nil, map[string]string{"a.lua": versionScript("v0")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	path := filepath.Join(th.dir, "a.lua")
	for i := 1; i <= 50; i++ {
		writeFile(t, path, versionScript("w"+strconv.Itoa(i)))
	}
	final := versionScript("w50")
	th.waitStatus("a", "final content", func(s ScriptStatus) bool { return s.Hash == hashOf(final) })
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick w50") > 0 }, "final version ticks")
	assert.Equal(t, 1, th.logs.count("script reloaded", "script", "a"), "exactly one reload")
	assert.Equal(t, 2, th.logs.count("script loaded")+th.logs.count("script reloaded"), "initial load + one reload")
}

func TestSaveStyles(t *testing.T) {
	t.Parallel()
	t.Run("rename over", func(t *testing.T) {
		th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
		renameOver(t, filepath.Join(th.dir, "a.lua"), versionScript("v2"))
		th.waitStatus("a", "v2", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v2")) })
		th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 0 }, "v2 ticks")
		assert.Equal(t, 1, th.logs.count("script reloaded"), "one reload")
	})
	t.Run("in place truncate and write", func(t *testing.T) {
		th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
		f, err := os.OpenFile(filepath.Join(th.dir, "a.lua"), os.O_WRONLY|os.O_TRUNC, 0)
		require.NoError(t, err)
		content := versionScript("v2")
		_, err = f.WriteString(content[:10])
		require.NoError(t, err)
		_, err = f.WriteString(content[10:])
		require.NoError(t, err)
		require.NoError(t, f.Close())
		th.waitStatus("a", "v2", func(s ScriptStatus) bool { return s.Hash == hashOf(content) })
		th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 0 }, "v2 ticks")
		assert.Equal(t, 1, th.logs.count("script reloaded"), "one reload")
		assert.Zero(t, th.logs.count("script load failed"), "never saw a half-written file")
	})
}

// TestConfigMapSymlinkSwap mimics a Kubernetes ConfigMap volume: the files
// are symlinks into ..data, itself a symlink swapped atomically.
func TestConfigMapSymlinkSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mk := func(gen, content string) {
		require.NoError(t, os.Mkdir(filepath.Join(dir, gen), 0o755))
		writeFile(t, filepath.Join(dir, gen, "a.lua"), content)
	}
	mk("..2024_01", versionScript("v1"))
	require.NoError(t, os.Symlink("..2024_01", filepath.Join(dir, "..data")))
	require.NoError(t, os.Symlink("..data/a.lua", filepath.Join(dir, "a.lua")))

	th := startHost(t, Config{ScriptsDir: dir}, nil, nil)
	th.waitStatus("a", "v1", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v1")) })

	mk("..2024_02", versionScript("v2"))
	require.NoError(t, os.Symlink("..2024_02", filepath.Join(dir, "..data_tmp")))
	require.NoError(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "..2024_01")))

	th.waitStatus("a", "v2", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v2")) })
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 0 }, "v2 ticks")
	assert.Equal(t, 1, th.logs.count("script reloaded"), "exactly one reload")
	assert.Equal(t, 1, th.logs.count("loaded v2"), "v2 loaded once")
}

func TestFailingScriptBesideHealthyOne(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"good.lua": versionScript("good"),
		"bad.lua":  "local t = {}\nt.x.y = 1\n",
	})
	bad, _ := th.status("bad")
	assert.Equal(t, StateFailed, bad.State)
	assert.True(t, strings.HasPrefix(bad.LastError, "bad.lua:2:"), "file:line: %q", bad.LastError)
	good, _ := th.status("good")
	assert.Equal(t, StateRunning, good.State)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick good") > 2 }, "good ticks")
	assert.Equal(t, 1, th.logs.count("script load failed", "script", "bad"), "one failure line")
	for _, e := range th.logs.entries() {
		if match(e, "script load failed", "script", "bad") {
			assert.Contains(t, e["error"], "bad.lua:2:", "error field")
			assert.Contains(t, e["traceback"], "stack traceback", "traceback field")
		}
	}
}

func TestHandlerTimeoutIsolated(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{HandlerTimeout: 300 * time.Millisecond}, nil, map[string]string{
		"loop.lua": `local n = 0
rc.every(0.02, function()
  n = n + 1
  if n == 1 then rc.log.info("looping"); while true do end end
  rc.log.info("loop alive " .. n)
end)`,
		"other.lua": `rc.every(0.02, function() rc.log.info("other tick") end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loop alive 2", "script", "loop") == 1 }, "next event after the timeout")
	st, _ := th.status("loop")
	assert.Equal(t, uint64(1), st.Timeouts, "one timeout counted")
	assert.Equal(t, StateRunning, st.State)
	assert.Equal(t, 1, th.logs.count("handler stopped at its deadline", "script", "loop", "trigger", "every 20ms (loop.lua:2)"), "timeout logged with script and trigger")
	for _, e := range th.logs.entries() {
		if match(e, "handler stopped at its deadline") {
			took, ok := e["took"].(string)
			require.True(t, ok, "took is a duration string like the load lines': %v", e["took"])
			d, err := time.ParseDuration(took)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, d, 300*time.Millisecond)
		}
	}
	// other.lua ticked while loop.lua was stuck.
	var during, stuck bool
	for _, e := range th.logs.entries() {
		switch {
		case match(e, "looping"):
			stuck = true
		case match(e, "handler stopped at its deadline"):
			stuck = false
		case stuck && match(e, "other tick"):
			during = true
		}
	}
	assert.True(t, during, "other script handled events while one was stuck")
}

// A handler stopped at its deadline while it holds many contexts derived
// from its call's (each coroutine gopher-lua makes derives one): they are
// cancelled with its error while the next call runs, and the daemon goes
// on (it once panicked in the timer's goroutine).
func TestHandlerTimeoutWithCoroutines(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{HandlerTimeout: 200 * time.Millisecond}, nil, map[string]string{
		"co.lua": `local n = 0
rc.every(0.02, function()
  n = n + 1
  if n <= 2 then while true do coroutine.create(function() end) end end
  rc.log.info("co alive " .. n)
end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("co alive 3", "script", "co") == 1 }, "the call after two timeouts")
	st, _ := th.status("co")
	assert.Equal(t, uint64(2), st.Timeouts, "two timeouts counted")
}

func TestHandlerErrorLoggedWithTraceback(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"e.lua": "local function inner() error(\"boom\") end\nrc.every(0.02, function() inner() end)\n",
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("handler failed", "script", "e") > 1 }, "errors logged")
	for _, e := range th.logs.entries() {
		if match(e, "handler failed") {
			assert.Equal(t, "e.lua:1: boom", e["error"])
			assert.Contains(t, e["traceback"], "e.lua:1", "traceback")
			assert.Equal(t, "every 20ms (e.lua:2)", e["trigger"])
		}
	}
	st, _ := th.status("e")
	assert.GreaterOrEqual(t, st.Errors, uint64(2))
	assert.Equal(t, StateRunning, st.State, "a failing handler does not stop the script")
}

func TestShutdownWhileHandlerRuns(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{HandlerTimeout: time.Minute, ShutdownTimeout: 200 * time.Millisecond}, nil, map[string]string{
		"busy.lua": `rc.every(0.01, function() rc.log.info("busy start"); while true do end end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("busy start") == 1 }, "handler started")
	start := time.Now()
	th.shutdown()
	assert.Less(t, time.Since(start), 5*time.Second, "shutdown bounded by the grace")
	st, _ := th.status("busy")
	assert.Equal(t, StateStopped, st.State)
	assert.Equal(t, 1, th.logs.count("busy start"), "no new event after shutdown began")
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	h := newHost(Config{ScriptsDir: filepath.Join(t.TempDir(), "missing")}, env{}, nil, zerolog.Nop())
	err := h.Run(context.Background())
	require.Error(t, err, "missing folder")
	select {
	case <-h.Loaded():
	default:
		t.Fatal("Loaded not closed after Run failed")
	}
}

// TestSlowTimerDoesNotFloodTheQueue: a timer whose handler is slower than
// its period keeps at most one tick queued, so it never fills the mailbox
// (which would drop the script's subscription events).
func TestSlowTimerDoesNotFloodTheQueue(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{QueueLen: 4}, nil, map[string]string{
		"slow.lua": `local n = 0
rc.every(0.001, function()
  n = n + 1
  local until_ = os.clock() + 0.02
  while os.clock() < until_ do end
  rc.log.info("slow tick " .. n)
end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("slow tick 10", "script", "slow") == 1 }, "ten slow ticks")
	st, _ := th.status("slow")
	assert.Zero(t, st.Waits, "ticks of a slow timer coalesce instead of filling the queue")
	th.h.mu.Lock()
	a := th.h.actors["slow.lua"]
	th.h.mu.Unlock()
	assert.LessOrEqual(t, a.queued(), 1, "at most one tick queued")
	assert.Zero(t, th.logs.count("event queue full: the source waits for the script"), "no wait warning")
}

// TestHandlerRanLoggedAtDebug: a handler that succeeds leaves a debug
// line naming its trigger (at info, nothing: one line per call would
// flood the log), so that --log-level debug shows what ran.
func TestHandlerRanLoggedAtDebug(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"tick.lua": "rc.every(0.01, function() end)\n"})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("handler ran", "script", "tick", "trigger", "every 10ms (tick.lua:1)") >= 2
	}, "a debug line per call")
	for _, e := range th.logs.entries() {
		if e["message"] == "handler ran" {
			assert.Equal(t, "debug", e["level"])
			assert.NotEmpty(t, e["took"])
		}
	}
}

// TestRemovedScriptsAreForgottenPastMaxRemoved: files that come and go
// (a deploy's versioned names) do not grow the status and the metrics
// without bound: the last MaxRemoved removed scripts stay listed as
// stopped, older ones are forgotten (the observer told, so that their
// series go), and a forgotten name whose file comes back runs again.
func TestRemovedScriptsAreForgottenPastMaxRemoved(t *testing.T) {
	t.Parallel()
	const n = MaxRemoved + 3
	files := map[string]string{"keep.lua": "rc.log.info('kept')\n"}
	for i := range n {
		files[fmt.Sprintf("gen_%03d.lua", i)] = "rc.log.info('gen')\n"
	}
	obs := newRecObserver()
	th := startHostObs(t, Config{}, env{module: &luabind.Module{}}, nil, files, obs)
	require.Len(t, th.h.Status(), n+1)
	for i := range n {
		require.NoError(t, os.Remove(filepath.Join(th.dir, fmt.Sprintf("gen_%03d.lua", i))))
	}
	th.logs.eventually(t, waitFor, func() bool { return len(obs.forgotten()) == n-MaxRemoved }, "the oldest forgotten")
	stopped, running := 0, 0
	for _, s := range th.h.Status() {
		switch s.State {
		case StateStopped:
			stopped++
		case StateRunning:
			running++
		}
	}
	assert.Equal(t, MaxRemoved, stopped, "the last removed stay listed")
	assert.Equal(t, 1, running)
	back := obs.forgotten()[0]
	writeFile(t, filepath.Join(th.dir, back+".lua"), "rc.log.info('back')\n")
	th.waitStatus(back, "running again", func(s ScriptStatus) bool { return s.State == StateRunning })
	assert.Len(t, th.h.Status(), MaxRemoved+2)
}

// TestScriptComingBackIsNotCountedRemoved: a file removed and written
// again, over and over (a deploy that deletes and copies), takes no place
// among the MaxRemoved removed scripts: one removed for good stays listed.
func TestScriptComingBackIsNotCountedRemoved(t *testing.T) {
	t.Parallel()
	obs := newRecObserver()
	th := startHostObs(t, Config{Debounce: time.Millisecond}, env{module: &luabind.Module{}}, nil,
		map[string]string{"gone.lua": "rc.log.info('x')\n", "flip.lua": "rc.log.info('x')\n"}, obs)
	require.NoError(t, os.Remove(filepath.Join(th.dir, "gone.lua")))
	th.waitStatus("gone", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	for i := range MaxRemoved + 2 {
		require.NoError(t, os.Remove(filepath.Join(th.dir, "flip.lua")))
		th.waitStatus("flip", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
		writeFile(t, filepath.Join(th.dir, "flip.lua"), fmt.Sprintf("rc.log.info('%d')\n", i))
		th.waitStatus("flip", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	}
	_, listed := th.status("gone")
	assert.True(t, listed, "still listed")
	assert.Empty(t, obs.forgotten())
}

// TestLastListenerOfAKindGoingIsLogged: while the source runs for
// another kind, the events of a kind whose last listener went are done
// with, nobody listening: the log says so once, when the first of them
// comes, and again after a listener came back and went again.
func TestLastListenerOfAKindGoingIsLogged(t *testing.T) {
	t.Parallel()
	src := newTestSource(source.KindSubscription, source.KindMessage)
	th := startHost(t, Config{}, src, map[string]string{
		"subs.lua": `rc.on("subscription", function() end)`,
		"ping.lua": `rc.on("message", function(msg) rc.log.info("got " .. msg._id) end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { r, _ := src.running(); return r }, "the source to run")
	const deaf = "no running script listens to these events any more: they are dropped, and a script that listens again later does not get them"
	require.True(t, src.send(msgEvent("m1")))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("got m1") == 1 }, "m1")
	done := msgEvent("m0")
	done.Done = []string{"ping"} // redelivered after a restart, ping done with it already
	require.True(t, src.send(done))
	require.True(t, src.send(msgEvent("m1b")))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("got m1b") == 1 }, "m1b")
	assert.Zero(t, th.logs.count(deaf), "ping still listens: an event it was done with is no sign of deafness")
	require.NoError(t, th.h.Disable("ping"))
	th.waitStatus("ping", "disabled", func(s ScriptStatus) bool { return s.State == StateDisabled })
	require.True(t, src.send(msgEvent("m2")))
	require.True(t, src.send(msgEvent("m3")))
	require.True(t, src.send(subEvent(source.ActionUpdated, "s", 1)))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(deaf, "kind", "message") == 1 }, "the log line")
	require.NoError(t, th.h.Enable("ping"))
	th.waitStatus("ping", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	require.True(t, src.send(msgEvent("m4")))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("got m4") == 1 }, "m4")
	assert.Zero(t, th.logs.count("got m2"), "as the README says: not delivered")
	assert.Equal(t, 1, th.logs.count(deaf), "once per period without a listener")
	assert.Zero(t, th.logs.count(deaf, "kind", "subscription"))
}

// TestPostLimitKeptAcrossReloads: a script's post limit is its own and
// survives its reloads (each reload's top level posting again cannot
// reset it), and another script has its own.
func TestPostLimitKeptAcrossReloads(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	poster := func(tag string) string {
		return `for i = 1, 2 do
  local m, err = rc.chat.post_message { channel = "#general", text = "` + tag + ` " .. i }
  if not m then rc.log.warn("refused", { error = err.error_type }) end
end
`
	}
	e := env{module: luabind.FromClient(botClient(t, s), zerolog.Nop())}
	th := startHostEnv(t, Config{PostLimit: 3}, e, nil, map[string]string{"a.lua": poster("a1"), "b.lua": poster("b1")})
	th.waitStatus("a", "loaded", func(st ScriptStatus) bool { return st.State == StateRunning })
	writeFile(t, filepath.Join(th.dir, "a.lua"), poster("a2"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("refused", "script", "a", "error", "limit") == 1 }, "a's 4th post refused")
	var texts []string
	for _, m := range s.Messages(rctest.GeneralRoomID) {
		texts = append(texts, m.Text)
	}
	for _, want := range []string{"a1 1", "a1 2", "a2 1", "b1 1", "b1 2"} {
		assert.Contains(t, texts, want)
	}
	assert.NotContains(t, texts, "a2 2", "past a's limit of 3, reload or not")
	assert.Zero(t, th.logs.count("refused", "script", "b"), "b has its own limit")
}
