package runtime

import "time"

// Observer is told what the host does, for metrics (Deps.Observer); the
// host never speaks HTTP itself. Its methods are called from the host's
// goroutines, concurrently: they must be quick and must not block. Labels
// passed are bounded sets: a script's name, a trigger kind, a source's
// name, an event kind and outcome, a result; never an object's id.
type Observer interface {
	// Script returns the observer of one script's calls; the host asks
	// once per script lifetime (one actor), before its first call.
	Script(name string) ScriptObserver
	// Event counts one event of a source (SourceName) of kind: outcome is
	// EventReceived (once per event the source emits), EventDelivered
	// (queued for one script), EventCoalesced (merged into an event of the
	// same object queued or held for a script) or EventDropped (never
	// handled: the script stopped before taking it, or a message event
	// came while the script was backed off).
	Event(source, kind, outcome string)
	// Reload counts a load of a script's file: LoadOK, LoadFailed or
	// LoadUnchanged.
	Reload(script, result string)
	// MemoryStop counts what the memory watchdog did: n running calls
	// stopped (what "calls"), or one script's state closed (what "evict").
	MemoryStop(what string, n int)
	// Forget says that the host no longer lists the script (its file
	// was removed, and more than MaxRemoved scripts were removed since):
	// what is kept by its name may go. It is called with the host's lock
	// held: it must not call back into the host.
	Forget(script string)
}

// ScriptObserver is told of one script's handler calls and back-off.
type ScriptObserver interface {
	// Call records one handler call of a trigger kind (an event kind such as
	// "subscription" or "message", or "every" or "cron") that
	// took d: outcome is CallOK, CallError, CallTimeout or CallMemory.
	Call(trigger, outcome string, d time.Duration)
	// BackOff records that the script's triggers are paused until until
	// (step 1, 2, ... of its back-off), or resumed (until zero).
	BackOff(step int, until time.Time)
}

// Outcomes and results passed to an Observer.
const (
	EventReceived  = "received"
	EventDelivered = "delivered"
	EventCoalesced = "coalesced"
	EventDropped   = "dropped"

	LoadOK        = "ok"
	LoadFailed    = "failed"
	LoadUnchanged = "unchanged"

	CallOK      = "ok"
	CallError   = "error"
	CallTimeout = "timeout"
	CallMemory  = "memory"
)

// triggerKind is the trigger-kind label of t (ScriptObserver.Call): its
// event kind for rc.on, rc.hear and rc.respond ("subscription",
// "message"), or "every" or "cron" for a timer.
func triggerKind(t trigger) string {
	switch {
	case t.Event != "":
		return t.Event
	case t.Schedule != nil:
		return "cron"
	default:
		return "every"
	}
}

// SourceName is the name a source goes by in metrics and status: its
// Name() when it has one, else "source".
func SourceName(src any) string {
	if n, ok := src.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "source"
}

// nopObserver is the Observer of a host without one.
type nopObserver struct{}

func (nopObserver) Script(string) ScriptObserver       { return nopObserver{} }
func (nopObserver) Event(string, string, string)       {}
func (nopObserver) Reload(string, string)              {}
func (nopObserver) MemoryStop(string, int)             {}
func (nopObserver) Forget(string)                      {}
func (nopObserver) Call(string, string, time.Duration) {}
func (nopObserver) BackOff(int, time.Time)             {}
