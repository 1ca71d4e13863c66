package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// heapMetric is the Go heap occupied by objects, live or not yet swept;
// reading it does not stop the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// liveMetric is the heap the last GC marked live.
const liveMetric = "/gc/heap/live:bytes"

// Memory watchdog timing. A confirming GC runs at most every memGCGap;
// stopped calls get memSettle to unwind before the watchdog stops more.
const (
	memGCGap  = time.Second
	memSettle = time.Second
	// memEvictGap spaces the measurements of every script's state (each
	// walks what a state holds) while the heap stays over the limit.
	memEvictGap = 10 * time.Second
	// memRecent: over the limit again this soon after stopping calls, the
	// heap is held rather than grown by the calls running.
	memRecent = 30 * time.Second
	// measureWait bounds the wait for a script to take a measurement
	// request (and, after an eviction, to close its state): a script busy
	// in a call longer than that is not measured.
	measureWait = time.Second
	// walkWait bounds the walks of a measurement (each is bounded by
	// sizeWalkMax objects too; about 0.1 s for a state of 100,000 tables).
	walkWait = 5 * time.Second
)

// heldMemoryMsg is logged once per episode when stopping the running calls
// did not bring the heap under the limit.
const heldMemoryMsg = "heap still over the memory limit after stopping the running handlers: the memory is held by loaded scripts"

// memWatch is the state of the host's memory watchdog. The decision state
// is owned by the watchdog goroutine; running, started, awake, busy,
// pending and freed are shared with the actors' guards.
//
// Only Lua calls (handlers and loads) grow the heap much, so the watchdog
// samples only while calls run: it wakes when a call starts while it
// sleeps, and sleeps again after a whole interval without calls, so that
// an idle host has no wake-ups and a stream of short calls does not wake
// it once per call.
type memWatch struct {
	limit     uint64
	limitText string // "1.0 GiB"
	log       zerolog.Logger

	running atomic.Int64  // guarded calls running now
	started atomic.Uint64 // guarded calls started so far
	awake   atomic.Bool   // the watchdog samples (its ticker runs)
	busy    chan struct{} // cap 1: a call started while the watchdog slept
	pending atomic.Int64  // stopped calls that have not unwound yet
	freed   chan struct{} // cap 1: the last stopped call unwound

	// Hooks; tests replace them.
	read    func() uint64 // heap bytes now
	gc      func()        // a full, blocking GC
	free    func()        // GC and return memory to the OS
	stopAll func() int    // stop every running call; how many were stopped
	live    func() uint64 // the heap the last GC found live
	// evictLargest closes the running version of the script whose state
	// holds the most, if it holds at least least bytes (nil: never); reason
	// words its error from its size. It returns the script's name ("": none).
	evictLargest func(least int64, reason func(size string) string) (name string, size int64)
	clock        func() time.Time

	// Owned by the watchdog goroutine.
	lastGC, lastStop time.Time
	lastEvict        time.Time
	collected        time.Time // when the calls stopped last unwound and were collected
	lastHeap         uint64    // the heap at the last sample (near half the limit: sampled faster)
	over             bool      // in an episode above the limit with calls stopped
	held             bool      // this episode's "memory is held" warning was logged
	stopped          uint64    // calls stopped in this episode
}

func newMemWatch(limit int64, log zerolog.Logger, stopAll func() int) *memWatch {
	sample := []metrics.Sample{{Name: heapMetric}}
	liveSample := []metrics.Sample{{Name: liveMetric}}
	return &memWatch{
		limit:     uint64(limit),
		limitText: formatBytes(uint64(limit)),
		log:       log,
		busy:      make(chan struct{}, 1),
		freed:     make(chan struct{}, 1),
		read: func() uint64 {
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return sample[0].Value.Uint64()
		},
		gc: goruntime.GC,
		live: func() uint64 {
			metrics.Read(liveSample)
			if liveSample[0].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return liveSample[0].Value.Uint64()
		},
		free:    debug.FreeOSMemory,
		stopAll: stopAll,
		clock:   time.Now,
	}
}

// guard returns a new call guard reporting to w; w may be nil (the
// watchdog is off): the guard then serves only the host's own stops.
func (w *memWatch) guard() *callGuard {
	return &callGuard{w: w, calls: newCallTimer()}
}

// callStarted counts a running call and wakes a sleeping watchdog. The
// watchdog's way to sleep (see run) pairs with the order here: running
// is counted before awake is read.
func (w *memWatch) callStarted() {
	w.running.Add(1)
	w.started.Add(1)
	if !w.awake.Load() {
		select {
		case w.busy <- struct{}{}:
		default:
		}
	}
}

// unwound records that a stopped call ended.
func (w *memWatch) unwound() {
	if w.pending.Add(-1) == 0 {
		select {
		case w.freed <- struct{}{}:
		default:
		}
	}
}

// run samples the heap every interval while calls run, until ctx ends.
// It goes to sleep after an interval in which no call ran, and sleeps
// without waking up until a call starts.
func (w *memWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	t.Stop()
	defer t.Stop()
	var lastStarted uint64 // w.started at the previous tick
	fast := false          // sampling at the near-limit period
	for {
		var tick <-chan time.Time
		if w.awake.Load() {
			tick = t.C
		}
		select {
		case <-ctx.Done():
			return
		case <-w.busy:
			if !w.awake.Load() {
				w.awake.Store(true)
				t.Reset(w.period(every, fast))
				lastStarted = w.started.Load()
			}
		case <-w.freed:
			// The stopped calls unwound: their memory is garbage now.
			w.free()
			w.lastGC = w.clock()
			w.collected = w.lastGC
			// Sample now: the host may be idle, with no tick to come.
			w.check()
		case <-tick:
			w.check()
			// Near the limit, sample more often: a call allocating fast
			// passes it by less before it is stopped.
			if near := w.lastHeap > w.limit/2; near != fast {
				fast = near
				t.Reset(w.period(every, fast))
			}
			started := w.started.Load()
			if started == lastStarted && w.running.Load() == 0 {
				// Sleep; a call that started before awake went false and
				// still runs is seen by the second look at running (it
				// counted itself before it read awake), any later one
				// wakes the watchdog through busy.
				w.awake.Store(false)
				if w.running.Load() == 0 {
					t.Stop()
				} else {
					w.awake.Store(true)
				}
			}
			lastStarted = started
		}
	}
}

// period is the sampling period: every, or a fifth of it (at least a
// millisecond) while the heap is near the limit (fast).
func (w *memWatch) period(every time.Duration, fast bool) time.Duration {
	if !fast {
		return every
	}
	return max(every/5, time.Millisecond)
}

// check is one sample: over the limit, it first collects garbage (at most
// every memGCGap) and, if the heap is still over, stops every running
// call. Far over the limit (by a quarter), or with the last GC's live
// heap over it, it stops them first: a call allocating that fast would go
// on growing the heap for as long as a blocking collection takes. While stopped
// calls unwind (at most memSettle) it stops nothing more.
func (w *memWatch) check() {
	now := w.clock()
	heap := w.read()
	w.lastHeap = heap
	if heap <= w.limit {
		if w.over {
			w.over = false
			w.log.Info().Uint64("heap_bytes", heap).Str("memory_limit", w.limitText).
				Uint64("calls_stopped", w.stopped).Msg("heap back under the memory limit")
			w.stopped = 0
			w.held = false
		}
		return
	}
	if w.pending.Load() > 0 && now.Sub(w.lastStop) < memSettle {
		return // stopped calls are unwinding; their memory goes next
	}
	// Far over the limit, or over it with the last GC's live heap over it
	// too (with the daemon's soft memory limit the GC runs often near the
	// limit), the heap is live memory a call is growing: no collection
	// would bring it under.
	far := heap >= w.limit+w.limit/4 || w.live() > w.limit
	if !far && now.Sub(w.lastGC) >= memGCGap {
		var wait func()
		heap, wait = w.collect() // may take long: the clock is read again after it
		defer wait()             // after the stop below, if the heap went far over meanwhile
		now = w.clock()
		w.lastGC = now
		w.lastHeap = heap
		if heap <= w.limit {
			return // it was garbage
		}
	}
	recent := !w.lastStop.IsZero() && now.Sub(w.lastStop) < memRecent
	// Calls stopped earlier in this episode unwound and were collected, and
	// the heap is still over: what holds it is loaded state (a script's
	// globals or upvalues), which stopping handlers cannot free. (Before
	// the stopped calls are collected, their memory is still counted:
	// nothing can be said yet.)
	held := w.over && w.collected.After(w.lastStop)
	// The running calls go first, always: nothing grows the heap while the
	// scripts are measured below (a measurement waits up to measureWait
	// for a busy script, whose call is unwinding now).
	n := w.stopAll()
	if n > 0 {
		w.lastStop = now
		w.stopped += uint64(n)
		if !w.over {
			w.over = true
			w.log.Warn().Uint64("heap_bytes", heap).Str("memory_limit", w.limitText).Int("calls_stopped", n).
				Msg("heap over the memory limit: running handlers and loads stopped")
		}
	}
	if recent && w.evictLargest != nil && now.Sub(w.lastEvict) >= memEvictGap {
		// Calls were stopped and collected, and the heap is (again) over:
		// loaded state may hold it. Stopping more handlers would hit
		// scripts that hold nothing; the one holding the most goes
		// instead. (The first time over, only the running calls are
		// stopped: they are what grows the heap fastest.)
		w.lastEvict = now
		name, _ := w.evictLargest(int64(w.limit/16), func(size string) string {
			return fmt.Sprintf("memory limit exceeded (%s heap): the script's state holds %s, the most of any script; it was stopped (edit its file or send SIGHUP to load it again)", w.limitText, size)
		})
		if name != "" {
			// Two collections: gopher-lua returns a closed state's call
			// frames to a sync.Pool, whose victim cache (and the frames'
			// functions, environments, globals) survives the first.
			w.gc()
			w.free()
			w.lastGC = w.clock()
			return
		}
	}
	if n > 0 && held && !w.held {
		w.held = true
		w.log.Warn().Uint64("heap_bytes", heap).Str("memory_limit", w.limitText).
			Str("hint", "handlers of every script fail while the heap stays over; find the script whose globals or upvalues grow: a reload or a restart frees them").
			Msg(heldMemoryMsg)
	}
}

// memGCSample is how often the heap is read while a confirming collection
// runs.
const memGCSample = 2 * time.Millisecond

// collect runs a full collection and returns the heap after it. It keeps
// reading the heap meanwhile: a call allocating fast during the collection
// takes the heap far over the limit (a quarter), and collect then returns
// at once the heap of that moment and wait, which waits for the
// collection to end (call it after stopping the calls).
func (w *memWatch) collect() (heap uint64, wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.gc()
	}()
	wait = func() { <-done }
	t := time.NewTicker(memGCSample)
	defer t.Stop()
	for {
		select {
		case <-done:
			return w.read(), wait
		case <-t.C:
			if h := w.read(); h >= w.limit+w.limit/4 {
				return h, wait
			}
		}
	}
}

// memoryError is the error of a call (what: "handler" or "load") the
// watchdog stopped, built from the error the call ended with: it names the
// cause and keeps the file:line prefix and traceback gopher-lua gave.
func (w *memWatch) memoryError(err error, what string) *scriptError {
	msg := fmt.Sprintf("memory limit exceeded (%s heap): %s stopped", w.limitText, what)
	out := &scriptError{Msg: msg, Memory: true}
	se, ok := err.(*scriptError)
	if !ok {
		return out
	}
	out.Traceback = se.Traceback
	if prefix, found := strings.CutSuffix(se.Msg, context.Canceled.Error()); found {
		out.Msg = prefix + msg
	} else {
		out.Msg = msg + " (" + se.Msg + ")"
	}
	return out
}

// formatBytes formats n with a binary unit and one decimal: "1.0 GiB".
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
