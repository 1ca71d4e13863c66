package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// utilModule is a module that logs when its top level runs and tells its
// version.
func utilModule(v string) string {
	return `rc.log.info("util top level ` + v + `")
local M = {}
function M.version() return "` + v + `" end
return M
`
}

const requiringScript = `local util = require("util")
assert(require("util") == util, "cached")
rc.log.info("a loaded with util " .. util.version())
rc.every(0.01, function() rc.log.info("a tick " .. util.version()) end)
`

// A module's top level runs once per state (twice in the same script is
// one run) and the module is loaded in each requiring script's own state.
func TestRequireRunsOncePerState(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"a.lua":        requiringScript,
		"b.lua":        `local u = require("util"); u.mine = "b"; rc.log.info("b sees util " .. u.version())`,
		"c.lua":        `local u = require("util"); rc.log.info("c sees mine " .. tostring(u.mine))`,
		"lib/util.lua": utilModule("v1"),
	})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("a loaded with util v1") == 1 && th.logs.count("b sees util v1") == 1 && th.logs.count("c sees mine nil") == 1
	}, "every script loaded with the module")
	assert.Equal(t, 3, th.logs.count("util top level v1"), "once per state, three states")
	_, ok := th.status("util")
	assert.False(t, ok, "lib/util.lua does not run as a script")
}

// An edit of a module reloads the scripts that required it, and only
// them; a broken edit keeps the running versions (with the old module),
// reported as the module's file:line; the next good edit loads.
func TestModuleEditReloadsDependents(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"a.lua":        requiringScript,
		"b.lua":        `rc.log.info("b loaded")`,
		"lib/util.lua": utilModule("v1"),
	})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("a loaded with util v1") == 1 && th.logs.count("b loaded") == 1
	}, "loaded")
	path := filepath.Join(th.dir, "lib", "util.lua")

	writeFile(t, path, utilModule("v2"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick v2") > 0 }, "a reloaded with util v2")
	assert.Equal(t, 1, th.logs.count("module changed: reloading the scripts that require it", "module", "lib/util.lua"))
	assert.Equal(t, 1, th.logs.count("b loaded"), "b does not require util: not reloaded")

	writeFile(t, path, "local M = {}\nfunction M.version( return 'v3' end\nreturn M\n")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 1 }, "the broken module refused")
	var failure map[string]any
	for _, e := range th.logs.entries() {
		if e["message"] == "script load failed" {
			failure = e
		}
	}
	assert.True(t, strings.HasPrefix(failure["error"].(string), "lib/util.lua:2:"), "the module's file:line: %v", failure["error"])
	assert.Equal(t, true, failure["kept_running_version"])
	n := th.logs.count("a tick v2")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick v2") > n+2 }, "a keeps running with util v2")

	writeFile(t, path, utilModule("v4"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick v4") > 0 }, "the next good module loads")

	require.NoError(t, os.Remove(path))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 2 }, "a removed module is a failed reload")
	n = th.logs.count("a tick v4")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick v4") > n+2 }, "a keeps running")
}

// A script that failed because a module was missing loads once the module
// appears, in a subfolder too.
func TestMissingModuleAppears(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"a.lua": `local m = require("sub.helper"); rc.log.info("a got " .. m)`,
	})
	st := th.waitStatus("a", "failed", func(s ScriptStatus) bool { return s.LastError != "" })
	assert.Contains(t, st.LastError, `require "sub.helper": no lib/sub/helper.lua in the scripts folder`)
	require.NoError(t, os.MkdirAll(filepath.Join(th.dir, "lib", "sub"), 0o755))
	writeFile(t, filepath.Join(th.dir, "lib", "sub", "helper.lua"), `return "help"`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a got help") == 1 }, "a loads once its module exists")
}

// Cycles between module files raise with the chain.
func TestRequireCycleThroughFiles(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"s.lua":     `require("a")`,
		"lib/a.lua": `return require("b")`,
		"lib/b.lua": `return require("a")`,
	})
	st := th.waitStatus("s", "failed", func(s ScriptStatus) bool { return s.LastError != "" })
	assert.Contains(t, st.LastError, "require cycle: a -> b -> a")
	assert.True(t, strings.HasPrefix(st.LastError, "lib/b.lua:1:"), "raised where the cycle closes: %q", st.LastError)
}

// Every other route to a file is refused, naming lib/.
func TestRequireEscapesRefused(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "evil.lua"), `EVIL = true; return "evil"`)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "lib"), 0o755))
	writeFile(t, filepath.Join(dir, "secret.lua"), `return "a script, not a module"`)
	require.NoError(t, os.Symlink(filepath.Join(outside, "evil.lua"), filepath.Join(dir, "lib", "link.lua")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "lib", "out")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "secret.lua"), filepath.Join(dir, "lib", "up.lua")))

	cases := map[string]string{
		"parent":                            `require("../secret")`,
		"dots":                              `require("..secret")`,
		"absolute":                          `require("/etc/passwd")`,
		"slash":                             `require("a/b")`,
		"backslash":                         `require("a\\b")`,
		"empty":                             `require("")`,
		"odd characters":                    `require("a-b")`,
		"nul":                               `require("util\0")`,
		"trailing dot":                      `require("util.")`,
		"script name":                       `require("secret")`,
		"library io":                        `require("io")`,
		"os.execute":                        `require("os.execute")`,
		"symlinked file":                    `require("link")`,
		"symlinked folder":                  `require("out.evil")`,
		"symlink to a script of the folder": `require("up")`,
		"long name":                         `require(("a"):rep(300))`,
	}
	files := map[string]string{}
	for name, code := range cases {
		files[strings.ReplaceAll(name, " ", "_")+".lua"] = `local ok, err = pcall(function() ` + code + ` end)
assert(not ok, "required")
assert(EVIL == nil)
rc.log.info("refused", {err = err})
`
	}
	th := startHost(t, Config{ScriptsDir: dir}, nil, files)
	for name := range cases {
		script := strings.ReplaceAll(name, " ", "_")
		t.Run(name, func(t *testing.T) {
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("refused", "script", script) == 1 }, script)
			for _, e := range th.logs.entries() {
				if e["script"] == script && e["message"] == "refused" {
					assert.Contains(t, e["err"], "lib/", "the error names lib/: %v", e["err"])
				}
			}
		})
	}
}

// handlerModuleScript requires lib/m.lua only in its timer's handler.
const handlerModuleScript = `rc.every(0.01, function() rc.log.info("tick " .. require("m").v) end)
`

// handlerModule is a module that logs when its top level runs.
func handlerModule(v string) string {
	return `rc.log.info("m top level ` + v + `")
return {v = "m ` + v + `"}
`
}

// lastEntry returns the last logged line whose message is msg and whose
// fields match kv (see count).
func (s *logSink) lastEntry(msg string, kv ...string) map[string]any {
	var last map[string]any
	for _, e := range s.entries() {
		if match(e, msg, kv...) {
			last = e
		}
	}
	return last
}

// A module the running version required only in a handler, edited into
// something broken, keeps the running version (it ticks on with the old
// module), the failure reported as for a broken top-level require; the
// next good edit loads, its top level run once in the new version.
func TestBrokenHandlerModuleKeepsRunningVersion(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		broken, err string
		cfg         Config
	}{
		"syntax error":  {broken: `return { v = "m v2" ` + "\n", err: `lib/m.lua:2: syntax error at end of file (required as "m")`},
		"runtime error": {broken: `error("boom")` + "\n", err: `lib/m.lua:1: boom`},
		"endless loop": {broken: "while true do end\n", cfg: Config{LoadTimeout: time.Second},
			err: `lib/m.lua:1: stopped: the top level and the modules the running version required ran longer than the load timeout (1s)`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			th := startHost(t, c.cfg, nil, map[string]string{
				"a.lua":     handlerModuleScript,
				"lib/m.lua": handlerModule("v1"),
			})
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick m v1") > 0 }, "a ticks with m v1")
			path := filepath.Join(th.dir, "lib", "m.lua")

			writeFile(t, path, c.broken)
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 1 }, "the broken module refused")
			failure := th.logs.lastEntry("script load failed", "script", "a")
			assert.Equal(t, c.err, failure["error"])
			assert.Equal(t, true, failure["kept_running_version"])
			n := th.logs.count("tick m v1")
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick m v1") > n+2 }, "a keeps ticking with m v1")
			assert.Zero(t, th.logs.count("script reloaded", "script", "a"), "the running version stays")
			assert.Zero(t, th.logs.count("handler failed", "script", "a"), "its handler never fails")
			st, _ := th.status("a")
			assert.Equal(t, c.err, st.LastError, "the failure is the script's")

			writeFile(t, path, handlerModule("v3"))
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick m v3") > 2 }, "the fixed module loads")
			assert.Equal(t, 1, th.logs.count("script reloaded", "script", "a"))
			assert.Equal(t, 1, th.logs.count("m top level v3"), "the module's top level runs once in the new version")
			assert.Zero(t, th.logs.count("handler failed", "script", "a"))
		})
	}
}

// A module required by a module's function, itself required in a
// handler, is loaded again by the trial too: broken, it keeps the
// running version.
func TestBrokenNestedHandlerModuleKeepsRunningVersion(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"a.lua":         `rc.every(0.01, function() rc.log.info("tick " .. require("m").v()) end)`,
		"lib/m.lua":     `return {v = function() return require("sub.n") end}`,
		"lib/sub/n.lua": `return "n v1"`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick n v1") > 0 }, "a ticks with n v1")
	path := filepath.Join(th.dir, "lib", "sub", "n.lua")

	writeFile(t, path, `local x = nil + 1`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 1 }, "the broken module refused")
	assert.True(t, strings.HasPrefix(th.logs.lastEntry("script load failed", "script", "a")["error"].(string), "lib/sub/n.lua:1:"))
	n := th.logs.count("tick n v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick n v1") > n+2 }, "a keeps ticking with n v1")
	assert.Zero(t, th.logs.count("handler failed", "script", "a"))

	writeFile(t, path, `return "n v2"`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick n v2") > 0 }, "the fixed module loads")
}

// An edit of the script is refused while a module it still requires (in
// a handler) is broken, and loads once it no longer requires it: the
// running version's modules are loaded again only where the new source
// requires them by name.
func TestScriptEditWithBrokenHandlerModule(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		"a.lua":     handlerModuleScript,
		"lib/m.lua": handlerModule("v1"),
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick m v1") > 0 }, "a ticks with m v1")
	require.NoError(t, os.Remove(filepath.Join(th.dir, "lib", "m.lua")))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 1 }, "the removed module refused")

	script := filepath.Join(th.dir, "a.lua")
	writeFile(t, script, `rc.every(0.01, function() rc.log.info("edited " .. require("m").v) end)`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") == 2 }, "the edit still requiring m refused")
	n := th.logs.count("tick m v1")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("tick m v1") > n+2 }, "a keeps ticking with m v1")

	writeFile(t, script, `rc.every(0.01, function() rc.log.info("without m") end)`)
	assert.Equal(t, `a.lua: require "m": no lib/m.lua in the scripts folder (modules are loaded only from lib/): file does not exist`,
		th.logs.lastEntry("script load failed", "script", "a")["error"], "no line: the script's name leads")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("without m") > 0 }, "the edit without m loads")
	assert.Zero(t, th.logs.count("handler failed", "script", "a"))
}
