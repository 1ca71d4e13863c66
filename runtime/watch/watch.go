// Package watch reports the script files of a folder as they change: the
// hot-reload half of rclua's host, with no knowledge of Lua.
//
// The folder (never single files) is watched with fsnotify, and so is its
// LibDir ("lib") subfolder with every folder under it (the modules scripts
// require; their names are reported as "lib/sub/x.lua"). Only *.lua names
// count (IsScript), plus the names of Options.Files in the folder itself
// (the settings file); dotfiles (.x.lua, .#x.lua, .x.lua.swp), "#x#",
// "x~", "4913" and other names are ignored. Events only
// mark a name dirty; after a per-name quiet period (Options.Debounce) the
// file on disk decides: stat (following symlinks) + read + sha256. A file
// that is gone is reported removed; content identical to what was last
// reported for the name is not reported again, so one broken edit is
// reported once. Events on "..data" (a Kubernetes ConfigMap's symlink
// swap) mark the whole folder dirty. Every Options.Rescan the folder is
// rescanned and its watch re-added (a safety net for missed events); a
// watcher error triggers a rescan too. ReloadAll reports every script
// again, unchanged or not.
package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"

	"github.com/rclua/rclua/runtime/sandbox"
)

// Change is what the watcher reports about one script file.
type Change struct {
	Name    string // the file's name in the folder: "hello.lua", "lib/util.lua", "rclua.toml"
	Removed bool   // the file is gone (or no longer a regular file)
	Content []byte // the file's content (nil when Removed)
	Hash    string // sha256 of Content, in hex
	Forced  bool   // reported by ReloadAll, maybe with unchanged content
}

// Sink receives what a Watcher finds, from the goroutine running Run, one
// call at a time; it must not block for long.
type Sink interface {
	// Change reports a script whose content differs from what was last
	// reported for its name, one that is gone, or (Forced) every script
	// after ReloadAll. ctx is Run's.
	Change(ctx context.Context, c Change)
	// Scanned reports, once, the end of the initial scan: every script
	// present when Run started has been reported. ctx is Run's.
	Scanned(ctx context.Context)
}

// Options configure a Watcher. Zero durations take the defaults.
type Options struct {
	Debounce time.Duration // quiet period per file before it is read; default 100ms
	Rescan   time.Duration // period of the full rescan; default 30s
	// Files are more names in the folder to report like scripts (the
	// settings file); they are reported before the modules and scripts of
	// every scan.
	Files []string
	Log   zerolog.Logger
}

// LibDir is the subfolder whose *.lua files (at any depth) are reported
// as modules, named "lib/..." with slashes.
const LibDir = "lib"

// maxLibDirs bounds the folders watched under LibDir.
const maxLibDirs = 256

// Defaults of Options.
const (
	DefaultDebounce = 100 * time.Millisecond
	DefaultRescan   = 30 * time.Second
)

// rescanKey is the pending key meaning "rescan the whole folder" (events
// on a Kubernetes ConfigMap's "..data" symlink, watcher overflow).
const rescanKey = "..data"

// Watcher reports the changes of the scripts in one folder. Build it with
// New and start it with Run.
type Watcher struct {
	dir       string
	opts      Options
	reloadAll chan struct{}
	started   atomic.Bool

	// Owned by the goroutine running Run.
	fw       *fsnotify.Watcher
	sink     Sink
	pending  map[string]time.Time // name -> quiet-period deadline
	reported map[string]string    // name -> hash last reported
	badNames map[string]bool      // *.lua files not loaded for their name (BadName), warned of
	libRoot  string               // LibDir with symlinks resolved, as last scanned
}

// New returns a watcher of the folder dir. It does no I/O: Run opens the
// folder.
func New(dir string, opts Options) *Watcher {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Rescan <= 0 {
		opts.Rescan = DefaultRescan
	}
	return &Watcher{dir: dir, opts: opts, reloadAll: make(chan struct{}, 1)}
}

// ReloadAll asks Run to report every script again, changed or not
// (SIGHUP). It never blocks.
func (w *Watcher) ReloadAll() {
	select {
	case w.reloadAll <- struct{}{}:
	default:
	}
}

// Run reports the folder's scripts to sink (first all of them, then
// Scanned, then every change) until ctx ends. It fails at once, reporting
// nothing, when the folder cannot be watched; a Watcher runs once.
func (w *Watcher) Run(ctx context.Context, sink Sink) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("watch: Run called more than once")
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer fw.Close()
	if err := fw.Add(w.dir); err != nil {
		return fmt.Errorf("watch: %s: %w", w.dir, err)
	}
	w.fw, w.sink = fw, sink
	w.pending, w.reported, w.badNames = map[string]time.Time{}, map[string]string{}, map[string]bool{}
	w.loop(ctx)
	return nil
}

// IsScript reports whether a file name is a script: *.lua, not a
// dotfile, not an editor temp or swap file, not a test (IsTest), and
// without characters that would reach a terminal as commands
// (BadName).
func IsScript(name string) bool {
	if !strings.HasSuffix(name, ".lua") || len(name) == len(".lua") {
		return false
	}
	switch {
	case IsTest(name): // run by rclua test, never by the daemon
		return false
	case BadName(name):
		return false
	case strings.HasPrefix(name, "."), // dotfiles, .#lock, .x.swp
		strings.HasPrefix(name, "#"), // emacs autosave
		strings.HasSuffix(name, "~"):
		return false
	}
	return true
}

// BadName reports whether a file name holds what no script name may: a
// control character (an escape sequence, a newline), a Unicode format
// character (a right-to-left override) or invalid UTF-8. A script's name
// is printed by rclua status, rclua store and the logs, and labels its
// metrics: such a file is not loaded (the watcher warns once).
func BadName(name string) bool {
	if !utf8.ValidString(name) {
		return true
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return true
		}
	}
	return false
}

// TestSuffix ends the name of a script's test file: foo_test.lua tests
// foo.lua (see runtime/scripttest).
const TestSuffix = "_test.lua"

// IsTest reports whether a file name is a script's test file: *_test.lua
// (a name that is only the suffix is none).
func IsTest(name string) bool {
	return strings.HasSuffix(name, TestSuffix) && len(name) > len(TestSuffix)
}

// loop is the watch loop; the initial pass happens first.
func (w *Watcher) loop(ctx context.Context) {
	w.scan(ctx, false)
	w.sink.Scanned(ctx)

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	rescan := time.NewTicker(w.opts.Rescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fw.Events:
			if !ok {
				return
			}
			w.event(ev)
			w.arm(debounce)
		case err, ok := <-w.fw.Errors:
			if !ok {
				return
			}
			w.opts.Log.Warn().Err(err).Msg("file watcher error: rescanning")
			w.scan(ctx, false)
		case <-debounce.C:
			w.fire(ctx)
			w.arm(debounce)
		case <-rescan.C:
			w.scan(ctx, false)
		case <-w.reloadAll:
			w.opts.Log.Info().Msg("reloading every script")
			w.scan(ctx, true)
		}
	}
}

// event records an fsnotify event: which path to look at after its quiet
// period. The event type does not matter; the disk decides.
func (w *Watcher) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	key := w.keyOf(ev)
	if key == "" {
		return
	}
	w.pending[key] = time.Now().Add(w.opts.Debounce)
}

// keyOf returns the pending key of an event: the name to look at, or
// rescanKey, or "" to ignore it.
func (w *Watcher) keyOf(ev fsnotify.Event) string {
	rel, err := filepath.Rel(w.dir, ev.Name)
	if err != nil {
		rel = filepath.Base(ev.Name)
	}
	if r, err := filepath.Rel(w.libRoot, ev.Name); w.libRoot != "" && err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		rel = filepath.Join(LibDir, r) // under a symlinked lib/
	}
	rel = filepath.ToSlash(rel)
	name := path.Base(rel)
	if !strings.Contains(rel, "/") {
		switch {
		case strings.HasPrefix(name, "..data"), name == LibDir:
			return rescanKey
		case IsScript(name), w.isFile(name):
			return name
		case strings.HasSuffix(name, ".lua") && BadName(name):
			w.warnBadName(name) // now, not at the next rescan
		}
		return ""
	}
	if !strings.HasPrefix(rel, LibDir+"/") {
		return ""
	}
	if IsScript(name) {
		return rel
	}
	// A folder created, removed or renamed under lib/: watch it, report
	// what it held.
	if ev.Op&(fsnotify.Remove|fsnotify.Rename) != 0 {
		return rescanKey
	}
	if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
		return rescanKey
	}
	return ""
}

// isFile reports whether name is one of Options.Files.
func (w *Watcher) isFile(name string) bool {
	for _, f := range w.opts.Files {
		if f == name {
			return true
		}
	}
	return false
}

// arm sets t to the earliest pending deadline.
func (w *Watcher) arm(t *time.Timer) {
	var next time.Time
	for _, d := range w.pending {
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	t.Stop()
	if !next.IsZero() {
		t.Reset(max(time.Until(next), 0))
	}
}

// fire syncs every path whose quiet period is over.
func (w *Watcher) fire(ctx context.Context) {
	now := time.Now()
	for key, d := range w.pending {
		if d.After(now) {
			continue
		}
		delete(w.pending, key)
		if key == rescanKey {
			w.scan(ctx, false)
		} else {
			w.sync(ctx, key, false)
		}
	}
}

// scan syncs every script in the folder and reports the ones whose file is
// gone; it also re-adds the folder watch (safety net).
func (w *Watcher) scan(ctx context.Context, force bool) {
	_ = w.fw.Add(w.dir)
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		w.opts.Log.Warn().Err(err).Str("dir", w.dir).Msg("cannot list the scripts folder")
		return
	}
	present := map[string]bool{}
	for _, name := range w.opts.Files {
		present[name] = true
		w.sync(ctx, name, force)
	}
	for _, name := range w.libFiles() {
		present[name] = true
		w.sync(ctx, name, force)
	}
	for _, e := range entries {
		if !IsScript(e.Name()) {
			if strings.HasSuffix(e.Name(), ".lua") && BadName(e.Name()) {
				w.warnBadName(e.Name())
			}
			continue
		}
		present[e.Name()] = true
		w.sync(ctx, e.Name(), force)
	}
	for name := range w.reported {
		if !present[name] {
			w.sync(ctx, name, force)
		}
	}
}

// warnBadName warns, once per name, that a *.lua file whose name has
// control or format characters (BadName) is not loaded.
func (w *Watcher) warnBadName(name string) {
	if w.badNames[name] {
		return
	}
	w.badNames[name] = true
	w.opts.Log.Warn().Str("file", name).
		Msg("a script file name with control or format characters is not loaded: rename it")
}

// libFiles watches LibDir and the folders under it (at most maxLibDirs,
// following a symlinked LibDir, skipping dot folders) and returns the
// modules they hold as "lib/..." names, sorted.
func (w *Watcher) libFiles() []string {
	root, err := filepath.EvalSymlinks(filepath.Join(w.dir, LibDir))
	w.libRoot = root
	if err != nil {
		return nil
	}
	var names []string
	dirs := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if dirs++; dirs > maxLibDirs {
				w.opts.Log.Warn().Int("max", maxLibDirs).Msg("too many folders under lib/: the rest is not watched")
				return filepath.SkipAll
			}
			_ = w.fw.Add(p)
			return nil
		}
		if IsScript(d.Name()) {
			rel, err := filepath.Rel(root, p)
			if err == nil {
				names = append(names, LibDir+"/"+filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return names
}

// sync compares the file on disk with what was last reported for it.
func (w *Watcher) sync(ctx context.Context, name string, force bool) {
	path := filepath.Join(w.dir, filepath.FromSlash(name))
	content, err := ReadScript(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, ok := w.reported[name]; ok {
			delete(w.reported, name)
			w.sink.Change(ctx, Change{Name: name, Removed: true})
		}
		return
	}
	if err != nil {
		// Logged once per distinct failure (the rescan comes back every
		// Rescan); the content that follows is reported as a change. A
		// pipe, a device or a folder put in a script's place is such a
		// failure too: the running version goes on, as on a broken edit
		// (only deleting the file stops the script).
		prev, seen := w.reported[name]
		if marker := "unreadable: " + err.Error(); prev != marker || force {
			w.reported[name] = marker
			loaded := seen && !strings.HasPrefix(prev, "unreadable: ") // a content was reported: a version may run
			if !loaded && errors.Is(err, ErrNotRegular) {
				w.opts.Log.Warn().Str("path", path).Msg("a *.lua that is not a regular file (a pipe, a device, a folder) is not loaded")
			} else {
				w.opts.Log.Error().Err(err).Str("path", path).Msg("cannot read script: keeping the running version")
			}
		}
		return
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	if prev, ok := w.reported[name]; ok && prev == hash && !force {
		return // identical content, or the same broken content: nothing to do
	}
	w.reported[name] = hash
	w.sink.Change(ctx, Change{Name: name, Content: content, Hash: hash, Forced: force})
}

// MaxScriptBytes bounds what ReadScript reads of a file: the largest
// source the sandbox compiles, so a bigger file is refused before it is
// read whole.
const MaxScriptBytes = sandbox.MaxSourceBytes

// Errors of ReadScript.
var (
	// ErrNotRegular: the path is not a regular file (a folder, a pipe, a
	// device); it is not opened.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than MaxScriptBytes; it is not read
	// further.
	ErrTooLarge = fmt.Errorf("larger than the limit of %d bytes of a script", MaxScriptBytes)
)

// ReadScript reads the script at path (following symlinks): a regular file
// only, of at most MaxScriptBytes (it reads no more than one byte past
// that), so a pipe, a device or a huge file named *.lua cannot hang or
// flood the reader. Its errors name the path (*fs.PathError).
func ReadScript(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() { // replaced since the Stat above
		return nil, &fs.PathError{Op: "read", Path: path, Err: ErrNotRegular}
	}
	content, err := io.ReadAll(io.LimitReader(f, MaxScriptBytes+1))
	if err != nil {
		return nil, err
	}
	if len(content) > MaxScriptBytes {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%d bytes: %w", fi.Size(), ErrTooLarge)}
	}
	return content, nil
}
