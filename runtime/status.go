package runtime

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rclua/rclua/luabind"
)

// Script states reported by Status.
const (
	StateRunning  = "running"  // a version is loaded and handles events
	StateFailed   = "failed"   // no version runs: none could be loaded, or the memory watchdog closed it
	StateStopped  = "stopped"  // the file is gone or the host stopped
	StateDisabled = "disabled" // Host.Disable stopped it (Config.Disabled at start)
)

// ScriptStatus is a snapshot of one script.
type ScriptStatus struct {
	Name      string    // file name without ".lua"
	Path      string    // path of the file
	State     string    // StateRunning, StateFailed, StateStopped or StateDisabled
	Hash      string    // sha256 (hex) of the running version's content
	LoadedAt  time.Time // when the running version was loaded
	LastError string    // last load or handler error ("file:line: message")
	// FileBroken is set while the file's newest content failed to load:
	// the running version, if any (State running), is an older one; none
	// runs with State failed. An edit that loads, or the file back to the
	// running version, clears it.
	FileBroken bool
	// LastErrorAt is when LastError happened (zero with none).
	LastErrorAt time.Time
	// Triggers are the labels of the running version's triggers, e.g.
	// `on("subscription") (a.lua:3)`, `every 5m0s (a.lua:9)`.
	Triggers []string
	// Listens are the event kinds the running version handles.
	Listens []string
	// FirstHandlers holds, for each kind in Listens, the label of the
	// trigger the running version registered first for it, e.g.
	// "message": `hear "^!ping" (a.lua:3)`. Read-only.
	FirstHandlers map[string]string
	// Timers are the running version's rc.every and rc.cron triggers, in
	// the order they were registered, each with when it fires next.
	Timers []TimerStatus
	// Queued is how many messages wait for the script: in its queue and,
	// while backed off, held.
	Queued int
	// BackoffStep is the back-off step (0: none; 1 after the first
	// Config.BackoffAfter failures in a row, ...); BackedOffUntil, when
	// not zero, is when the paused triggers resume.
	BackoffStep    int
	BackedOffUntil time.Time
	Runs           uint64 // handler calls
	Errors         uint64 // handler calls that raised an error (timeouts and memory stops excluded)
	Timeouts       uint64 // handler calls stopped at their deadline
	MemoryStops    uint64 // handler calls the memory watchdog stopped (--memory-limit)
	Waits          uint64 // times a source waited for a place in the script's full queue (backpressure; nothing is dropped)
	Coalesced      uint64 // events merged into a queued or held event of the same object (handled once, in the newest state); a held insertion and removal that cancelled count 2
}

// TimerStatus is one rc.every or rc.cron trigger of a running version.
type TimerStatus struct {
	Trigger string    // its label, e.g. `cron "0 9 * * 1-5" (a.lua:3)`
	Next    time.Time // when it fires next (its tick is then queued); zero once stopped (handle:stop(), or a spec that never fires again)
}

// timerNext is where a timer goroutine records its next tick.
type timerNext struct {
	label string
	next  atomic.Int64 // UnixNano; 0: stopped
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
	errorAt   time.Time
	broken    bool // FileBroken
	triggers  []string
	first     map[string]string // FirstHandlers, never changed once set
	step      int
	until     time.Time
	posts     *luabind.PostLimit // its post limit, across its reloads (nil: none)

	queued, held                                     atomic.Int64 // messages in the queue; held while backed off
	runs, errors, timeouts, memory, waits, coalesced atomic.Uint64
	listens                                          atomic.Pointer[[]string]    // event kinds the running version handles
	timers                                           atomic.Pointer[[]timerNext] // the running version's timers
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
	var listens []string
	if k := s.listens.Load(); k != nil {
		listens = append(listens, (*k)...)
		sort.Strings(listens)
	}
	var timers []TimerStatus
	if tn := s.timers.Load(); tn != nil {
		for i := range *tn {
			t := &(*tn)[i]
			ts := TimerStatus{Trigger: t.label}
			if n := t.next.Load(); n != 0 {
				ts.Next = time.Unix(0, n)
			}
			timers = append(timers, ts)
		}
	}
	return ScriptStatus{
		Timers: timers,
		Name:   s.name, Path: s.path, State: s.state, Hash: s.hash,
		LoadedAt: s.loadedAt, LastError: s.lastError, LastErrorAt: s.errorAt, FileBroken: s.broken,
		Triggers: s.triggers, Listens: listens, FirstHandlers: s.first,
		Queued:      int(s.queued.Load() + s.held.Load()),
		BackoffStep: s.step, BackedOffUntil: s.until,
		Runs: s.runs.Load(), Errors: s.errors.Load(),
		Timeouts: s.timeouts.Load(), MemoryStops: s.memory.Load(), Waits: s.waits.Load(),
		Coalesced: s.coalesced.Load(),
	}
}

func (s *scriptState) setLoaded(hash string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.hash, s.loadedAt, s.lastError, s.broken = StateRunning, hash, at, "", false
}

// setCurrent records that the file holds the running version again: a
// failed load of an edit since undone is no longer the script's error.
func (s *scriptState) setCurrent() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.lastError, s.broken = StateRunning, "", false
}

// setEvicted records that the running version was closed for msg.
func (s *scriptState) setEvicted(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.lastError, s.errorAt = StateFailed, msg, time.Now()
	s.listens.Store(nil)
	s.timers.Store(nil)
	s.triggers, s.first = nil, nil
}

// setLoadFailed records a failed load; a running version keeps running.
func (s *scriptState) setLoadFailed(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError, s.errorAt, s.broken = msg, time.Now(), true
	if s.state != StateRunning {
		s.state = StateFailed
	}
}

func (s *scriptState) setError(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastError, s.errorAt = msg, time.Now()
}

// setTriggers records the running version's trigger labels, and the first
// of each event kind.
func (s *scriptState) setTriggers(labels []string, first map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.triggers, s.first = labels, first
}

// setBackoff records the back-off step and the end of its pause (zero:
// not paused).
func (s *scriptState) setBackoff(step int, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step, s.until = step, until
}

// setDisabled records that Host.Disable stopped the script.
func (s *scriptState) setDisabled() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.hash, s.loadedAt, s.broken = StateDisabled, "", time.Time{}, false // no running version: no hash, no load time
	s.triggers, s.first = nil, nil
	s.listens.Store(nil)
	s.timers.Store(nil)
}

func (s *scriptState) setStopped() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state, s.broken = StateStopped, false
	s.step, s.until = 0, time.Time{} // nothing runs to be paused
	s.triggers, s.first = nil, nil
	s.listens.Store(nil)
	s.timers.Store(nil)
}
