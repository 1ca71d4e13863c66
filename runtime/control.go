package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rclua/rclua/runtime/watch"
)

// ErrUnknownScript is the error of Reload, Disable and Enable for a name
// that is not a script of the folder.
var ErrUnknownScript = errors.New("no such script")

// scriptFileName is the file name of a script named name ("a" or "a.lua").
func scriptFileName(name string) string {
	if strings.HasSuffix(name, ".lua") {
		return name
	}
	return name + ".lua"
}

// isDisabled reports whether the script of file name is disabled.
func (h *Host) isDisabled(file string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.disabled[file]
}

// actorNamed returns the running actor of the script named name, or an
// error naming the scripts there are.
func (h *Host) actorNamed(name string) (*actor, string, error) {
	file := scriptFileName(name)
	if strings.ContainsAny(name, `/\`) || !watch.IsScript(file) {
		return nil, "", fmt.Errorf("%q is not a script name (want a file name of the scripts folder, with or without .lua): %w", name, ErrUnknownScript)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.actors[file]; ok {
		return a, file, nil
	}
	names := make([]string, 0, len(h.actors))
	for f := range h.actors {
		names = append(names, scriptBaseName(f))
	}
	sort.Strings(names)
	return nil, "", fmt.Errorf("script %q: %w in %s (scripts: %s)", name, ErrUnknownScript, h.cfg.ScriptsDir, strings.Join(names, ", "))
}

// Reload loads the named scripts from disk again, even when their content
// did not change; with no name, every script (as ReloadAll). A disabled
// script stays disabled. It returns an error for a name that is not a
// script of the folder, or whose file cannot be read, reloading none.
func (h *Host) Reload(names ...string) error {
	if len(names) == 0 {
		h.ReloadAll()
		return nil
	}
	jobs, err := h.reloadJobs(names)
	if err != nil {
		return err
	}
	for _, j := range jobs {
		j.a.requestLoad(j.req)
	}
	return nil
}

// reloadJob is one named script's forced load, read from its file.
type reloadJob struct {
	a   *actor
	req *loadRequest
}

// reloadJobs reads the file of every named script, or returns the error
// of the first name that is no script or whose file cannot be read.
func (h *Host) reloadJobs(names []string) ([]reloadJob, error) {
	jobs := make([]reloadJob, 0, len(names))
	for _, name := range names {
		a, _, err := h.actorNamed(name)
		if err != nil {
			return nil, err
		}
		req, err := readLoad(a.st.path)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, reloadJob{a, req})
	}
	return jobs, nil
}

// ReloadOutcome is what became of one script's reload (ReloadWait).
type ReloadOutcome struct {
	Script string
	// Loaded reports that the file's content runs now. Else Err says why
	// not: its top level failed (the running version goes on, if any),
	// the script is disabled, or ctx ended first. When an edit of the
	// file was loaded in the reload's place, its outcome is the edit's.
	Loaded bool
	Err    error
}

// ReloadWait is Reload of the named scripts (at least one) that waits for
// each load's outcome, or for ctx's end. Its error is Reload's, for a
// name or a file that reloads none.
func (h *Host) ReloadWait(ctx context.Context, names ...string) ([]ReloadOutcome, error) {
	if len(names) == 0 {
		return nil, errors.New("runtime: ReloadWait needs a script name")
	}
	jobs, err := h.reloadJobs(names)
	if err != nil {
		return nil, err
	}
	dones := make([]chan struct{}, len(jobs))
	for i, j := range jobs {
		done := make(chan struct{})
		var once sync.Once
		j.req.done = func() { once.Do(func() { close(done) }) }
		dones[i] = done
		j.a.requestLoad(j.req)
	}
	out := make([]ReloadOutcome, len(jobs))
	for i, j := range jobs {
		out[i].Script = j.a.st.name
		select {
		case <-dones[i]:
		case <-ctx.Done():
			out[i].Err = fmt.Errorf("still loading: %w (rclua status shows the outcome)", ctx.Err())
			continue
		}
		switch r := j.req; r.result {
		case loadLoaded:
			out[i].Loaded = true
		case loadFailed:
			out[i].Err = r.err
		case loadDisabled:
			out[i].Err = errors.New("the script is disabled: rclua enable loads it")
		case loadDropped:
			out[i].Err = fmt.Errorf("not loaded: %w", r.err)
		default:
			out[i].Err = errors.New("not loaded: the daemon is stopping, or the script's file was removed")
		}
	}
	return out, nil
}

// readLoad reads a script's file into a forced load request.
func readLoad(path string) (*loadRequest, error) {
	content, err := watch.ReadScript(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	sum := sha256.Sum256(content)
	return &loadRequest{content: content, hash: hex.EncodeToString(sum[:]), forced: true}, nil
}

// Disable stops the named script (its triggers stop after the call
// running now, if any) and keeps it stopped, through edits and reloads,
// until Enable. Disabling a disabled script does nothing. The host does
// not persist the set: see Disabled.
func (h *Host) Disable(name string) error {
	a, file, err := h.actorNamed(name)
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.disabled[file] = true
	h.mu.Unlock()
	a.requestLoad(&loadRequest{forced: true}) // load sees it disabled
	return nil
}

// Enable loads a disabled script from disk again; its back-off, if any,
// starts afresh. Enabling a script that is not disabled ends its
// back-off, if any, and does nothing else.
func (h *Host) Enable(name string) error {
	a, file, err := h.actorNamed(name)
	if err != nil {
		return err
	}
	h.mu.Lock()
	was := h.disabled[file]
	h.mu.Unlock()
	if !was {
		a.requestReset()
		return nil
	}
	req, err := readLoad(a.st.path)
	if err != nil {
		return err
	}
	h.mu.Lock()
	delete(h.disabled, file)
	h.mu.Unlock()
	a.requestLoad(req)
	return nil
}

// Disabled returns the names (without ".lua") of the disabled scripts,
// sorted: Config.Disabled for the next start.
func (h *Host) Disabled() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.disabled))
	for f := range h.disabled {
		out = append(out, scriptBaseName(f))
	}
	sort.Strings(out)
	return out
}
