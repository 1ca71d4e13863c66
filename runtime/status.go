package runtime

import (
	"sync"
	"sync/atomic"
	"time"
)

// Script states reported by Status.
const (
	StateRunning = "running" // a version is loaded and handles events
	StateFailed  = "failed"  // no version runs: none could be loaded, or the memory watchdog closed it
	StateStopped = "stopped" // the file is gone or the host stopped
)

// ScriptStatus is a snapshot of one script.
type ScriptStatus struct {
	Name      string    // file name without ".lua"
	Path      string    // path of the file
	State     string    // StateRunning, StateFailed or StateStopped
	Hash      string    // sha256 (hex) of the running version's content
	LoadedAt  time.Time // when the running version was loaded
	LastError string    // last load or handler error ("file:line: message")
	Runs      uint64    // handler calls
	Errors    uint64    // handler calls that raised an error (timeouts excluded)
	Timeouts  uint64    // handler calls stopped at their deadline
	Waits     uint64    // times a source waited for a place in the script's full queue (backpressure; nothing is dropped)
	Coalesced uint64    // updates merged into a queued event of the same object (it is handled once, in the newest state)
}

// scriptState is the shared, concurrently readable part of one script's
// lifetime (one actor).
type scriptState struct {
	name, path string

	mu        sync.Mutex
	state     string
	hash      string
	loadedAt  time.Time
	lastError string

	runs, errors, timeouts, waits, coalesced atomic.Uint64
	listens                                  atomic.Pointer[[]string] // event kinds the running version handles
}

// listensTo reports whether the running version has an rc.on handler of
// kind.
func (s *scriptState) listensTo(kind string) bool {
	kinds := s.listens.Load()
	if kinds == nil {
		return false
	}
	for _, k := range *kinds {
		if k == kind {
			return true
		}
	}
	return false
}

// setListens records the event kinds the running version handles.
func (s *scriptState) setListens(kinds []string) {
	s.listens.Store(&kinds)
}

func (s *scriptState) snapshot() ScriptStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ScriptStatus{
		Name: s.name, Path: s.path, State: s.state, Hash: s.hash,
		LoadedAt: s.loadedAt, LastError: s.lastError,
		Runs: s.runs.Load(), Errors: s.errors.Load(),
		Timeouts: s.timeouts.Load(), Waits: s.waits.Load(),
		Coalesced: s.coalesced.Load(),
	}
}

func (s *scriptState) setLoaded(hash string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.hash, s.loadedAt, s.lastError = StateRunning, hash, at, ""
}

// setCurrent records that the file holds the running version again: a
// failed load of an edit since undone is no longer the script's error.
func (s *scriptState) setCurrent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.lastError = StateRunning, ""
}

// setEvicted records that the running version was closed for msg.
func (s *scriptState) setEvicted(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.lastError = StateFailed, msg
	s.listens.Store(nil)
}

// setLoadFailed records a failed load; a running version keeps running.
func (s *scriptState) setLoadFailed(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = msg
	if s.state != StateRunning {
		s.state = StateFailed
	}
}

func (s *scriptState) setError(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError = msg
}

func (s *scriptState) setStopped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = StateStopped
	s.listens.Store(nil)
}
