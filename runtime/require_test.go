package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
