package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var starterPaths = []string{"scripts/hello.lua", "scripts/hello_test.lua", "scripts/rclua.toml", "types/rclua.d.lua", ".luarc.json", ".luacheckrc"}

// TestE2EInit: the built binary writes the starter folder; its script
// passes rclua check, its editor settings name Lua 5.1, the definition
// file and rc, and luacheck (when installed) passes it with its own
// .luacheckrc.
func TestE2EInit(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "rules")
	code, stdout, stderr := runChild(t, nil, "init", dir)
	require.Equal(t, 0, code, "%s%s", stdout, stderr)
	for _, p := range starterPaths {
		assert.FileExists(t, filepath.Join(dir, p))
		assert.Contains(t, stdout, filepath.Join(dir, p), "init says what it wrote")
	}
	code, stdout, stderr = runChild(t, nil, "check", filepath.Join(dir, "scripts", "hello.lua"))
	assert.Equal(t, 0, code, "the starter script passes check: %s%s", stdout, stderr)
	code, stdout, stderr = runChild(t, nil, "test", filepath.Join(dir, "scripts"))
	assert.Equal(t, 0, code, "the starter test passes: %s%s", stdout, stderr)
	assert.Contains(t, stdout, "2 passed, 0 failed")

	var luarc map[string]any
	raw, err := os.ReadFile(filepath.Join(dir, ".luarc.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &luarc), ".luarc.json is JSON")
	assert.Equal(t, "Lua 5.1", luarc["runtime.version"])
	assert.Equal(t, []any{"types"}, luarc["workspace.library"], "the definition file's folder is a library")
	assert.Contains(t, luarc["diagnostics.globals"], "rc")

	defs, err := os.ReadFile(filepath.Join(dir, "types", "rclua.d.lua"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(defs), "---@meta\n"))
	assert.Contains(t, string(defs), "function rc.subscriptions.get_one(room_id) end")

	rcfile, err := os.ReadFile(filepath.Join(dir, ".luacheckrc"))
	require.NoError(t, err)
	assert.Contains(t, string(rcfile), `std = "lua51"`)
	assert.Contains(t, string(rcfile), `read_globals = { "rc" }`)

	luacheck, err := exec.LookPath("luacheck")
	if err != nil {
		t.Log("luacheck not installed: the starter folder is not linted here (.ci/run installs it)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lint := exec.CommandContext(ctx, luacheck, "--no-color", ".")
	lint.Dir = dir
	out, err := lint.CombinedOutput()
	assert.NoError(t, err, "luacheck passes the starter folder with its .luacheckrc:\n%s", out)

	// The .luacheckrc makes rc read-only: luacheck must see a write.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scripts", "bad.lua"), []byte("rc.x = 1\n"), 0o644))
	lint = exec.CommandContext(ctx, luacheck, "--no-color", "scripts")
	lint.Dir = dir
	out, err = lint.CombinedOutput()
	assert.Error(t, err, "luacheck refuses a write to rc")
	assert.Contains(t, string(out), "read-only")
}

// TestE2EInitRefusesToOverwrite: one existing file (any of them) and
// init writes nothing, naming it; it is left as it was.
func TestE2EInitRefusesToOverwrite(t *testing.T) {
	t.Parallel()
	for _, existing := range []string{"scripts/rclua.toml", ".luacheckrc"} {
		dir := t.TempDir()
		p := filepath.Join(dir, filepath.FromSlash(existing))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("mine\n"), 0o644))
		code, stdout, stderr := runChild(t, nil, "init", dir)
		assert.Equal(t, 1, code, "%s%s", stdout, stderr)
		assert.Contains(t, stderr, "not overwriting "+p)
		assert.Contains(t, stderr, "nothing written")
		got, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, "mine\n", string(got), "left as it was")
		for _, other := range starterPaths {
			if other != existing {
				assert.NoFileExists(t, filepath.Join(dir, other), "nothing else written")
			}
		}
	}
	code, _, stderr := runChild(t, nil, "init", "a", "b")
	assert.Equal(t, 2, code, "two folders: a usage error: %s", stderr)
}

// TestE2ETypes: rclua types writes the definition file into ./types or
// the folder given, rewrites its own file, and refuses to replace another.
func TestE2ETypes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out := runChildIn(t, dir, nil, "types")
	require.Equal(t, 0, code, out)
	defs, err := os.ReadFile(filepath.Join(dir, "types", "rclua.d.lua"))
	require.NoError(t, err)
	assert.Equal(t, string(definitions()[:len("---@meta\n-- Written by rclua ")]), string(defs[:len("---@meta\n-- Written by rclua ")]))
	assert.Contains(t, string(defs), "---@class rc.Message\n")

	code, out = runChildIn(t, dir, nil, "types")
	assert.Equal(t, 0, code, "rewrites its own file: %s", out)

	other := filepath.Join(dir, "editor")
	require.NoError(t, os.MkdirAll(other, 0o755))
	mine := filepath.Join(other, "rclua.d.lua")
	require.NoError(t, os.WriteFile(mine, []byte("-- my own\n"), 0o644))
	code, out = runChildIn(t, dir, nil, "types", other)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "is not a definition file rclua wrote")
	got, err := os.ReadFile(mine)
	require.NoError(t, err)
	assert.Equal(t, "-- my own\n", string(got))
}
