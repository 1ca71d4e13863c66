package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeAll writes path, making its folders.
func writeAll(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	writeFile(t, path, content)
}

func checkLines(t *testing.T, paths ...string) []string {
	t.Helper()
	var out []string
	for _, e := range Check(context.Background(), paths, Config{}) {
		out = append(out, e.Error())
	}
	return out
}

// TestCheckLintsModules: the modules of lib/ are read by the lint like
// scripts (an rc path that does not exist, an undefined global, each as
// lib/name.lua:line), a module's own globals are defined in it, and a
// module named as a standard library is refused.
func TestCheckLintsModules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.lua"), `local u = require("util"); rc.every("1m", function() u.f() end)`)
	writeAll(t, filepath.Join(dir, LibDir, "util.lua"), `local M = {}
helper_count = 0
function M.f() helper_count = helper_count + 1; rc.chat.postMessage{text = "x"} end
function M.g() return undefined_helper() end
return M
`)
	got := checkLines(t, dir)
	lib := filepath.Join(dir, LibDir, "util.lua")
	require.Len(t, got, 2, "%q", got)
	assert.True(t, strings.HasPrefix(got[0], lib+":3: rc.chat.postMessage does not exist (did you mean rc.chat.post_message?"), got[0])
	assert.Equal(t, lib+":4: undefined global undefined_helper", got[1])

	writeAll(t, filepath.Join(dir, LibDir, "util.lua"), "return {f = function() end}\n")
	writeAll(t, filepath.Join(dir, LibDir, "string.lua"), "return {}\n")
	got = checkLines(t, dir)
	require.Len(t, got, 1, "%q", got)
	assert.Equal(t, filepath.Join(dir, LibDir, "string.lua")+`: a module cannot be named string: require("string") is the standard library, never this file`, got[0])
}

// TestCheckBrokenModuleNamesTheScript: a module that does not compile is
// reported as the module, and the script that requires it fails naming
// itself first (the second line once named only the module).
func TestCheckBrokenModuleNamesTheScript(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.lua"), "local u = require(\"util\")\nrc.log.info(u.f())\n")
	writeAll(t, filepath.Join(dir, LibDir, "util.lua"), "local M = {}\nfunction M.f( return 1 end\nreturn M\n")
	got := checkLines(t, dir)
	require.Len(t, got, 2, "%q", got)
	lib := filepath.Join(dir, LibDir, "util.lua")
	assert.True(t, strings.HasPrefix(got[0], lib+":2: syntax error"), got[0])
	assert.True(t, strings.HasPrefix(got[1], filepath.Join(dir, "a.lua")+": lib/util.lua:2: syntax error"), got[1])
	assert.Contains(t, got[1], `(required as "util")`)
}

// TestCheckFollowsASymlinkedLib: a lib/ that is a symlink to a folder is
// walked (its broken module reported), as the daemon's watcher follows it.
func TestCheckFollowsASymlinkedLib(t *testing.T) {
	t.Parallel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(dir, "a.lua"), "rc.log.info('x')\n")
	writeAll(t, filepath.Join(elsewhere, "sub", "broken.lua"), "local = 1\n")
	writeAll(t, filepath.Join(elsewhere, "typo.lua"), "return rc.subscriptions.raed\n")
	require.NoError(t, os.Symlink(elsewhere, filepath.Join(dir, LibDir)))
	got := checkLines(t, dir)
	require.Len(t, got, 2, "%q", got)
	assert.True(t, strings.HasPrefix(got[0], filepath.Join(dir, LibDir, "sub", "broken.lua")+":1:"), got[0])
	assert.True(t, strings.HasPrefix(got[1], filepath.Join(dir, LibDir, "typo.lua")+":1: rc.subscriptions.raed does not exist"), got[1])
}

// TestCheckModuleGlobalsAreDefined: a global assigned by a module the
// script requires by a constant name (and by the modules it requires) is
// not an undefined global of the script; one no module assigns still is,
// and a module required by a computed name defines nothing.
func TestCheckModuleGlobalsAreDefined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeAll(t, filepath.Join(dir, LibDir, "setup.lua"), "require('sub.deep')\nfunction shout(s) return s:upper() end\n")
	writeAll(t, filepath.Join(dir, LibDir, "sub", "deep.lua"), "DEEP = 1\n")
	writeAll(t, filepath.Join(dir, LibDir, "other.lua"), "OTHER = 1\n")
	p := filepath.Join(dir, "a.lua")
	writeFile(t, p, `require("setup")
local name = "other"
require(name)
print(shout("x"), DEEP, OTHER, nowhere)
`)
	got := checkLines(t, dir)
	require.Len(t, got, 2, "%q", got)
	assert.Equal(t, p+":4: undefined global OTHER", got[0])
	assert.Equal(t, p+":4: undefined global nowhere", got[1])
}

// TestCheckReportsBrokenSettingsOnce: a settings file that does not parse
// is one error however many scripts its folder has, and the scripts are
// still linted.
func TestCheckReportsBrokenSettingsOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, SettingsFile), "[a\n")
	for _, n := range []string{"a", "b", "c"} {
		writeFile(t, filepath.Join(dir, n+".lua"), "rc.log.info('x')\n")
	}
	writeFile(t, filepath.Join(dir, "d.lua"), "undefined_fn()\n")
	got := checkLines(t, dir)
	require.Len(t, got, 2, "%q", got)
	assert.True(t, strings.HasPrefix(got[0], filepath.Join(dir, SettingsFile)+":"), got[0])
	assert.Equal(t, filepath.Join(dir, "d.lua")+":1: undefined global undefined_fn", got[1])
}
