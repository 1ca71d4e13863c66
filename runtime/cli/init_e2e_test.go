package cli

import (
	"context"
	"encoding/json"
	"io/fs"
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
	assert.Contains(t, string(defs), "---@class t\nt = {}\n", "the t table of tests is a class too")

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

// tree lists the entries under dir (symbolic links not followed), by
// slash-separated path.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return err
	}))
	return out
}

// TestE2EInitRefusesWhatIsNotAFolder: a folder init needs (types/,
// scripts/, DIR, a parent of DIR) that is a dangling symbolic link, a
// link to a file or a file is refused up front, naming it, and nothing
// is written; a dangling link where a file goes counts as existing.
// Once it is moved away, init works.
func TestE2EInitRefusesWhatIsNotAFolder(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		setup func(dir string) error
		arg   string // init's folder, under dir
		want  string
	}{
		{"types dangling link", func(d string) error { return os.Symlink("/nonexistent", filepath.Join(d, "types")) },
			".", "types is a symbolic link to /nonexistent, which does not exist"},
		{"types a file", func(d string) error { return os.WriteFile(filepath.Join(d, "types"), []byte("x"), 0o644) },
			".", "types is a file, not a folder"},
		{"scripts a link to a file", func(d string) error {
			if err := os.WriteFile(filepath.Join(d, "f"), []byte("x"), 0o644); err != nil {
				return err
			}
			return os.Symlink("f", filepath.Join(d, "scripts"))
		}, ".", "scripts is a symbolic link to f, which is not a folder"},
		{"DIR a file", func(d string) error { return os.WriteFile(filepath.Join(d, "rules"), []byte("x"), 0o644) },
			"rules", "rules is a file, not a folder"},
		{"below a file", func(d string) error { return os.WriteFile(filepath.Join(d, "rules"), []byte("x"), 0o644) },
			"rules/a/b", "rules is a file, not a folder"},
		{"parent of DIR a dangling link", func(d string) error { return os.Symlink("/nonexistent", filepath.Join(d, "link")) },
			"link/rules", "link is a symbolic link to /nonexistent, which does not exist"},
		{"a dangling link as a file", func(d string) error { return os.Symlink("/nonexistent", filepath.Join(d, ".luacheckrc")) },
			".", "not overwriting .luacheckrc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, c.setup(dir))
			before := tree(t, dir)
			code, out := runChildIn(t, dir, nil, "init", c.arg)
			assert.Equal(t, 1, code, out)
			assert.Contains(t, out, c.want)
			assert.Contains(t, out, "nothing written")
			assert.NotContains(t, out, "wrote ")
			assert.Equal(t, before, tree(t, dir), "nothing written")
		})
	}
	dir := t.TempDir()
	require.NoError(t, os.Symlink("/nonexistent", filepath.Join(dir, "types")))
	code, out := runChildIn(t, dir, nil, "init", ".")
	require.Equal(t, 1, code, out)
	require.NoError(t, os.Remove(filepath.Join(dir, "types")))
	code, out = runChildIn(t, dir, nil, "init", ".")
	assert.Equal(t, 0, code, "the refused init left nothing in the way: %s", out)
	for _, p := range starterPaths {
		assert.FileExists(t, filepath.Join(dir, p))
	}
}

// TestE2EInitRemovesWhatItWrote: a write failing part way (the file size
// limit lets the three small scripts/ files through and stops the
// definition file) leaves nothing: the files written, the partial one,
// and the folders init created (DIR too when it made it); the folder
// given stays. A second init then works.
func TestE2EInitRemovesWhatItWrote(t *testing.T) {
	t.Parallel()
	require.Greater(t, len(definitions()), 2048, "the definition file outgrows the limit")
	for _, f := range starterFiles()[:3] {
		require.Less(t, len(f.content), 512, "%s fits the limit: the failure comes after it", f.path)
	}
	bin := rcluaBinary(t)
	limited := func(dir string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// ulimit -f counts 512- or 1024-byte blocks: either way between.
		cmd := exec.CommandContext(ctx, "sh", "-c", `ulimit -f 1 && exec "$0" init "$1"`, bin, dir)
		cmd.Env = childEnv(nil)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s", out)
		return ee.ExitCode(), string(out)
	}
	root := t.TempDir()
	code, out := limited(root)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, filepath.Join(root, "types", "rclua.d.lua"), "it failed at the fourth file")
	assert.Contains(t, out, "nothing written")
	assert.Empty(t, tree(t, root), "the folder given is as it was")

	code, out = limited(filepath.Join(root, "new", "rules"))
	assert.Equal(t, 1, code, out)
	assert.Empty(t, tree(t, root), "the folders init made are gone")

	code, stdout, stderr := runChild(t, nil, "init", root)
	assert.Equal(t, 0, code, "nothing left in the way: %s%s", stdout, stderr)
	for _, p := range starterPaths {
		assert.FileExists(t, filepath.Join(root, p))
	}
}
