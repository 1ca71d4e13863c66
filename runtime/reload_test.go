package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/watch"
)

// TestItem11UndoingABrokenEditDoesNotReload: a broken edit is refused;
// writing the running content back is recognised by its hash: the top
// level does not run again and the load error is cleared.
func TestItem11UndoingABrokenEditDoesNotReload(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	path := filepath.Join(th.dir, "a.lua")

	writeFile(t, path, "rc.every(\"soon\", function() end)\n")
	th.waitStatus("a", "load error", func(s ScriptStatus) bool { return s.LastError != "" && s.FileBroken })
	writeFile(t, path, versionScript("v1"))
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("script content is the running version again: nothing to reload", "script", "a") == 1
	}, "undo recognised")
	st := th.waitStatus("a", "error cleared", func(s ScriptStatus) bool { return s.LastError == "" })
	assert.Equal(t, StateRunning, st.State)
	assert.False(t, st.FileBroken, "the file holds the running version again")
	assert.Equal(t, hashOf(versionScript("v1")), st.Hash)
	assert.Equal(t, 1, th.logs.count("loaded v1"), "the top level ran once")
	assert.Equal(t, 0, th.logs.count("script reloaded", "script", "a"))

	// A reload asked for still reloads unchanged content.
	th.h.ReloadAll()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loaded v1") == 2 }, "forced reload runs the top level")
}

// TestItem11EmptyFileKeepsTheRunningVersion: a file truncated before it is
// rewritten (or emptied by mistake) does not drop the script's triggers;
// the next real content loads.
func TestItem11EmptyFileKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	path := filepath.Join(th.dir, "a.lua")

	for i, empty := range []string{"", " \n\t\n"} {
		writeFile(t, path, empty)
		th.logs.eventually(t, waitFor, func() bool {
			return th.logs.count("script file is empty: keeping the running version (delete the file to stop the script)", "script", "a") == i+1
		}, "empty file refused")
		n := th.logs.count("tick v1")
		th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v1") > n+2 }, "v1 keeps ticking")
	}
	st, _ := th.status("a")
	assert.Equal(t, hashOf(versionScript("v1")), st.Hash)
	assert.True(t, st.FileBroken, "a restart would load the empty file: the alert must see it")
	assert.Contains(t, st.LastError, "the file is empty")

	writeFile(t, path, versionScript("v2"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 0 }, "the next content loads")
	st = th.waitStatus("a", "v2", func(s ScriptStatus) bool { return s.Hash == hashOf(versionScript("v2")) })
	assert.False(t, st.FileBroken)
}

// TestForcedReloadFailingIsNoBrokenFile: a reload asked for (SIGHUP) of
// the content that runs whose top level fails this time (a slow server)
// records the error, but the file is the running version: not broken.
func TestForcedReloadFailingIsNoBrokenFile(t *testing.T) {
	t.Parallel()
	var loads atomic.Int64
	e := env{extra: func(L *lua.LState) {
		L.SetGlobal("loads", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(loads.Add(1))); return 1 }))
	}}
	th := startHostEnv(t, Config{}, e, nil, map[string]string{"a.lua": "if loads() > 1 then error(\"the server is slow\") end\n"})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	th.h.ReloadAll()
	st := th.waitStatus("a", "the failed reload", func(s ScriptStatus) bool { return strings.Contains(s.LastError, "the server is slow") })
	assert.Equal(t, StateRunning, st.State)
	assert.False(t, st.FileBroken, "the file holds the running version")
}

// TestItem11NewEmptyFileLoads: with no running version there is nothing to
// keep: an empty new script loads (and does nothing).
func TestItem11NewEmptyFileLoads(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"e.lua": ""})
	th.waitStatus("e", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	// A reload asked for (SIGHUP) of the empty script that runs is no
	// broken file: it is what runs.
	th.h.ReloadAll()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script reloaded", "script", "e") >= 1 }, "reloaded")
	st, _ := th.status("e")
	assert.False(t, st.FileBroken)
	assert.Empty(t, st.LastError)
}

// TestItem11EmptyFileSurvivesSIGHUP: a reload asked for (SIGHUP) while the
// file is empty keeps the running version too.
func TestItem11EmptyFileSurvivesSIGHUP(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	const refused = "script file is empty: keeping the running version (delete the file to stop the script)"
	writeFile(t, filepath.Join(th.dir, "a.lua"), "")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(refused, "script", "a") == 1 }, "empty file refused")
	th.h.ReloadAll()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(refused, "script", "a") == 2 }, "refused on SIGHUP too")
	n := th.logs.count("tick v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v1") > n+2 }, "v1 keeps ticking")
}

// TestHugeScriptFileKeepsTheRunningVersion: a file past the size bound is
// not read whole nor loaded shortened: the running version stays, the
// failure is logged once however often the file is touched, and the next
// good content loads.
func TestHugeScriptFileKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"a.lua": versionScript("v1")})
	th.waitStatus("a", "running", func(s ScriptStatus) bool { return s.State == StateRunning })
	path := filepath.Join(th.dir, "a.lua")
	grow := func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(watch.MaxScriptBytes+100)) // sparse
		require.NoError(t, f.Close())
	}
	grow()
	const failed = "cannot read script: keeping the running version"
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(failed) == 1 }, "the huge file refused")
	grow() // touched again: the same failure, not logged again
	writeFile(t, filepath.Join(th.dir, "b.lua"), `rc.log.info("b here")`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("b here") == 1 }, "b loaded after the touch")
	assert.Equal(t, 1, th.logs.count(failed))
	n := th.logs.count("tick v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v1") > n+2 }, "v1 keeps ticking")

	writeFile(t, path, versionScript("v2"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick v2") > 0 }, "the next good content loads")
}
