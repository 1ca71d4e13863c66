package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a Sink keeping every report.
type recorder struct {
	mu      sync.Mutex
	changes []Change
	scanned int
}

func (r *recorder) Change(_ context.Context, c Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) Scanned(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scanned++
}

func (r *recorder) snapshot() ([]Change, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Change(nil), r.changes...), r.scanned
}

// of returns the reports about name.
func (r *recorder) of(name string) []Change {
	all, _ := r.snapshot()
	var out []Change
	for _, c := range all {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// startWatch runs a watcher of dir with a debounce until the test ends.
func startWatch(t *testing.T, dir string, debounce time.Duration) (*Watcher, *recorder) {
	t.Helper()
	w := New(dir, Options{Debounce: debounce, Rescan: time.Hour})
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, r) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	require.Eventually(t, func() bool { _, n := r.snapshot(); return n == 1 }, 10*time.Second, time.Millisecond, "the initial scan ends")
	return w, r
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// waitReports waits until name has n reports.
func waitReports(t *testing.T, r *recorder, name string, n int) []Change {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.of(name)) >= n }, 10*time.Second, time.Millisecond, "%d reports of %s", n, name)
	return r.of(name)
}

func TestWatchReportsChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.lua"), "v1")
	write(t, filepath.Join(dir, "notes.txt"), "not a script")
	write(t, filepath.Join(dir, "a_test.lua"), "-- a test file, run by rclua test")
	w, r := startWatch(t, dir, 20*time.Millisecond)
	all, _ := r.snapshot()
	require.Len(t, all, 1, "the initial scan reports the scripts only, before Scanned: %+v", all)
	assert.Equal(t, Change{Name: "a.lua", Content: []byte("v1"), Hash: hashOf("v1")}, all[0])

	// An editor's save: a temp file renamed over the script.
	tmp := filepath.Join(dir, ".a.lua.swp")
	write(t, tmp, "v2")
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, "a.lua")))
	got := waitReports(t, r, "a.lua", 2)
	assert.Equal(t, "v2", string(got[1].Content))
	assert.Empty(t, r.of(".a.lua.swp"), "temp files are not scripts")

	// The same content again is not reported; a new file is.
	write(t, filepath.Join(dir, "a.lua"), "v2")
	write(t, filepath.Join(dir, "b_test.lua"), "-- written before b.lua")
	write(t, filepath.Join(dir, "b.lua"), "b")
	waitReports(t, r, "b.lua", 1)
	assert.Empty(t, r.of("a_test.lua"), "test files are not scripts (initial scan)")
	assert.Empty(t, r.of("b_test.lua"), "test files are not scripts (events)")
	assert.Len(t, r.of("a.lua"), 2, "unchanged content is not reported again")

	// ReloadAll reports every script, forced.
	w.ReloadAll()
	got = waitReports(t, r, "a.lua", 3)
	assert.True(t, got[2].Forced)
	assert.Equal(t, hashOf("v2"), got[2].Hash)
	assert.True(t, waitReports(t, r, "b.lua", 2)[1].Forced)

	// A removal is reported once.
	require.NoError(t, os.Remove(filepath.Join(dir, "b.lua")))
	got = waitReports(t, r, "b.lua", 3)
	assert.Equal(t, Change{Name: "b.lua", Removed: true}, got[2])
	_, scans := r.snapshot()
	assert.Equal(t, 1, scans, "Scanned is reported once")
	assert.Empty(t, r.of("a_test.lua"), "test files are not scripts (ReloadAll)")
}

// TestWatchBurstIsOneReport: many writes within the quiet period give one
// report, of the final content.
func TestWatchBurstIsOneReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, r := startWatch(t, dir, 500*time.Millisecond)
	path := filepath.Join(dir, "c.lua")
	tmp := filepath.Join(dir, ".c.lua.tmp")
	for i := range 20 { // each a whole file renamed into place: no read sees half a write
		write(t, tmp, string(rune('a'+i)))
		require.NoError(t, os.Rename(tmp, path))
	}
	got := waitReports(t, r, "c.lua", 1)
	// Watch a further quiet period: a second report would come by then.
	require.Never(t, func() bool { return len(r.of("c.lua")) > 1 }, time.Second, 10*time.Millisecond, "one report for the burst")
	assert.Equal(t, "t", string(got[0].Content), "the final content")
}

func TestWatchRunErrors(t *testing.T) {
	t.Parallel()
	w := New(filepath.Join(t.TempDir(), "missing"), Options{})
	err := w.Run(context.Background(), &recorder{})
	assert.ErrorContains(t, err, "missing", "a folder that cannot be watched")
	assert.ErrorContains(t, w.Run(context.Background(), &recorder{}), "more than once")
}

func TestIsScript(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a.lua": true, "my-rule.lua": true,
		".a.lua": false, ".#a.lua": false, "#a.lua#": false, "a.lua~": false, "a.lua.swp": false,
		".lua": false, "a.txt": false, "4913": false, "..data": false,
		"a_test.lua": false, "_test.lua": true, "a_test.lua.swp": false, "test.lua": true,
		// Names a terminal would take as commands (BadName); other
		// Unicode is fine.
		"esc\x1b[31mred.lua": false, "nl\nname.lua": false, "tab\t.lua": false, "rtl\u202eaul.lua": false,
		"zw\u200bsp.lua": false, "bad\xffutf8.lua": false, "del\x7f.lua": false,
		"été.lua": true, "日本.lua": true, "emoji😀.lua": true,
	} {
		assert.Equal(t, want, IsScript(name), name)
	}
}

// syncBuffer is a log destination safe for the watcher's goroutine and
// the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestWatchWarnsOfABadNameAtOnce: a *.lua file created with control
// characters in its name is warned of when it appears, once, not at the
// next rescan (half a minute later by default).
func TestWatchWarnsOfABadNameAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := &syncBuffer{}
	w := New(dir, Options{Debounce: 10 * time.Millisecond, Rescan: time.Hour, Log: zerolog.New(logs)})
	r := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, r) }()
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()
	require.Eventually(t, func() bool { _, n := r.snapshot(); return n == 1 }, 10*time.Second, time.Millisecond, "the initial scan ends")
	const warning = "a script file name with control or format characters is not loaded"
	bad := filepath.Join(dir, "evil\x1b[31m.lua")
	write(t, bad, "v1")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), warning) }, 10*time.Second, time.Millisecond, "warned without a rescan")
	write(t, bad, "v2")
	write(t, filepath.Join(dir, "good.lua"), "g")
	waitReports(t, r, "good.lua", 1)
	assert.Equal(t, 1, strings.Count(logs.String(), warning), "once: %s", logs.String())
	all, _ := r.snapshot()
	for _, c := range all {
		assert.False(t, BadName(c.Name), "not reported: %q", c.Name)
	}
}
