package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// rescanKey is the pending key meaning "rescan the whole folder" (events
// on a Kubernetes ConfigMap's "..data" symlink, watcher overflow).
const rescanKey = "..data"

// watcher turns file system events into load and stop requests. It runs on
// Run's goroutine; it is the only writer of attempted.
type watcher struct {
	h   *Host
	fw  *fsnotify.Watcher
	dir string

	pending   map[string]time.Time // name -> quiet-period deadline
	attempted map[string]string    // name -> hash last handed to the actor
}

func newWatcher(h *Host) (*watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := fw.Add(h.cfg.ScriptsDir); err != nil {
		fw.Close()
		return nil, err
	}
	return &watcher{
		h: h, fw: fw, dir: h.cfg.ScriptsDir,
		pending:   map[string]time.Time{},
		attempted: map[string]string{},
	}, nil
}

func (w *watcher) close() { w.fw.Close() }

// scriptName reports whether a file name is a script: *.lua, not a
// dotfile, not an editor temp or swap file.
func scriptName(name string) bool {
	if !strings.HasSuffix(name, ".lua") || len(name) == len(".lua") {
		return false
	}
	switch {
	case strings.HasPrefix(name, "."), // dotfiles, .#lock, .x.swp
		strings.HasPrefix(name, "#"), // emacs autosave
		strings.HasSuffix(name, "~"):
		return false
	}
	return true
}

// run is the watch loop; the initial pass happens first. ctx is also the
// context of the actors it starts: they take no events once it ends.
func (w *watcher) run(ctx context.Context) {
	var initial sync.WaitGroup
	w.scan(ctx, false, &initial)
	initial.Wait()
	w.h.markLoaded()
	w.h.log.Debug().Int("scripts", len(w.attempted)).Str("dir", w.dir).Msg("initial load done")

	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	rescan := time.NewTicker(w.h.cfg.Rescan)
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
			w.h.log.Warn().Err(err).Msg("file watcher error: rescanning")
			w.scan(ctx, false, nil)
		case <-debounce.C:
			w.fire(ctx)
			w.arm(debounce)
		case <-rescan.C:
			w.scan(ctx, false, nil)
		case <-w.h.reloadAll:
			w.h.log.Info().Msg("reloading every script")
			w.scan(ctx, true, nil)
		}
	}
}

// event records an fsnotify event: which path to look at after its quiet
// period. The event type does not matter; the disk decides.
func (w *watcher) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	name := filepath.Base(ev.Name)
	key := name
	switch {
	case strings.HasPrefix(name, "..data"):
		key = rescanKey
	case !scriptName(name):
		return
	}
	w.pending[key] = time.Now().Add(w.h.cfg.Debounce)
}

// arm sets t to the earliest pending deadline.
func (w *watcher) arm(t *time.Timer) {
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
func (w *watcher) fire(ctx context.Context) {
	now := time.Now()
	for key, d := range w.pending {
		if d.After(now) {
			continue
		}
		delete(w.pending, key)
		if key == rescanKey {
			w.scan(ctx, false, nil)
		} else {
			w.sync(ctx, key, false, nil)
		}
	}
}

// scan syncs every script in the folder and stops scripts whose file is
// gone; it also re-adds the folder watch (safety net).
func (w *watcher) scan(ctx context.Context, force bool, wg *sync.WaitGroup) {
	_ = w.fw.Add(w.dir)
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		w.h.log.Warn().Err(err).Str("dir", w.dir).Msg("cannot list the scripts folder")
		return
	}
	present := map[string]bool{}
	for _, e := range entries {
		if !scriptName(e.Name()) {
			continue
		}
		present[e.Name()] = true
		w.sync(ctx, e.Name(), force, wg)
	}
	for name := range w.attempted {
		if !present[name] {
			w.sync(ctx, name, force, nil)
		}
	}
}

// sync compares the file on disk with what was last handed to its actor.
func (w *watcher) sync(ctx context.Context, name string, force bool, wg *sync.WaitGroup) {
	path := filepath.Join(w.dir, name)
	content, err := readScript(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, ok := w.attempted[name]; ok {
			delete(w.attempted, name)
			w.h.stopActor(name)
		}
		return
	}
	if err != nil {
		w.h.log.Warn().Err(err).Str("path", path).Msg("cannot read script: keeping the running version")
		return
	}
	sum := sha256.Sum256(content)
	hash := hex.EncodeToString(sum[:])
	if prev, ok := w.attempted[name]; ok && prev == hash && !force {
		return // identical content, or the same broken content: nothing to do
	}
	w.attempted[name] = hash
	req := &loadRequest{content: content, hash: hash}
	if wg != nil {
		wg.Add(1)
		req.done = wg.Done
	}
	w.h.actorFor(ctx, name).requestLoad(req)
}

// readScript reads a regular file (following symlinks).
func readScript(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	return os.ReadFile(path)
}
