package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The modules under lib/, at any depth, and the extra files are reported
// with their names in the folder; a folder made under lib/ after the start
// is watched too.
func TestWatchReportsModulesAndFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "lib", "sub"), 0o755))
	write(t, filepath.Join(dir, "lib", "util.lua"), "return 1")
	write(t, filepath.Join(dir, "lib", "sub", "deep.lua"), "return 2")
	write(t, filepath.Join(dir, "lib", ".swp.lua"), "x")
	write(t, filepath.Join(dir, "rclua.toml"), "[a]\n")
	write(t, filepath.Join(dir, "a.lua"), "x = 1")

	w := New(dir, Options{Debounce: 20 * time.Millisecond, Rescan: time.Hour, Files: []string{"rclua.toml"}})
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, r) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { _, n := r.snapshot(); return n == 1 }, 10*time.Second, time.Millisecond)

	all, _ := r.snapshot()
	var names []string
	for _, c := range all {
		names = append(names, c.Name)
	}
	assert.Equal(t, []string{"rclua.toml", "lib/sub/deep.lua", "lib/util.lua", "a.lua"}, names,
		"the settings file first, then the modules, then the scripts; no dotfile")

	write(t, filepath.Join(dir, "lib", "sub", "deep.lua"), "return 3")
	require.Eventually(t, func() bool { return len(r.of("lib/sub/deep.lua")) == 2 }, 10*time.Second, 5*time.Millisecond, "an edit of a module in a subfolder is seen")

	write(t, filepath.Join(dir, "rclua.toml"), "[a]\nx = 1\n")
	require.Eventually(t, func() bool { return len(r.of("rclua.toml")) == 2 }, 10*time.Second, 5*time.Millisecond, "an edit of the settings file is seen")

	require.NoError(t, os.Mkdir(filepath.Join(dir, "lib", "new"), 0o755))
	require.Eventually(t, func() bool {
		// The folder must be watched before the file is written in it.
		write(t, filepath.Join(dir, "lib", "new", "m.lua"), "return 4")
		return len(r.of("lib/new/m.lua")) >= 1
	}, 10*time.Second, 50*time.Millisecond, "a module in a folder made after the start is seen")

	require.NoError(t, os.Remove(filepath.Join(dir, "lib", "util.lua")))
	require.Eventually(t, func() bool {
		cs := r.of("lib/util.lua")
		return len(cs) == 2 && cs[1].Removed
	}, 10*time.Second, 5*time.Millisecond, "a removed module is reported removed")

	write(t, filepath.Join(dir, "other.toml"), "x")
	write(t, filepath.Join(dir, "a.lua"), "x = 2")
	require.Eventually(t, func() bool { return len(r.of("a.lua")) == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.Empty(t, r.of("other.toml"), "names not in Files are ignored")
}

// A module edit under a symlinked lib/ is reported with its lib/ name.
func TestWatchSymlinkedLib(t *testing.T) {
	t.Parallel()
	dir, real := t.TempDir(), t.TempDir()
	write(t, filepath.Join(real, "util.lua"), "return 1")
	require.NoError(t, os.Symlink(real, filepath.Join(dir, "lib")))
	_, r := startWatch(t, dir, 20*time.Millisecond)
	require.Len(t, r.of("lib/util.lua"), 1)
	write(t, filepath.Join(real, "util.lua"), "return 2")
	require.Eventually(t, func() bool { return len(r.of("lib/util.lua")) == 2 }, 10*time.Second, 5*time.Millisecond)
}
