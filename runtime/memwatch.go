package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// heapMetric is the Go heap occupied by objects, live or not yet swept;
// reading it does not stop the world.
const heapMetric = "/memory/classes/heap/objects:bytes"

// Memory watchdog timing. A confirming GC runs at most every memGCGap;
// stopped calls get memSettle to unwind before the watchdog stops more.
const (
	memGCGap  = time.Second
	memSettle = time.Second
)

// callGuard lets the memory watchdog cancel the call (handler or top
// level) an actor is running. Each actor has one; only the actor sets and
// clears it, the watchdog stops it.
type callGuard struct {
	w      *memWatch
	mu     sync.Mutex
	cancel context.CancelFunc // of the running call; nil when idle
	hit    bool               // the watchdog cancelled the running call
}

// set registers the running call's cancel func.
func (g *callGuard) set(cancel context.CancelFunc) {
	g.mu.Lock()
	g.cancel, g.hit = cancel, false
	g.mu.Unlock()
}

// clear unregisters the call and reports whether the watchdog stopped it.
func (g *callGuard) clear() bool {
	g.mu.Lock()
	hit := g.hit
	g.cancel, g.hit = nil, false
	g.mu.Unlock()
	if hit {
		g.w.unwound()
	}
	return hit
}

// stop cancels the running call, if any; it reports whether it did.
func (g *callGuard) stop() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel == nil || g.hit {
		return false
	}
	g.hit = true
	g.w.pending.Add(1)
	g.cancel()
	return true
}

// memWatch is the state of the host's memory watchdog. The decision state
// is owned by the watchdog goroutine; pending and freed are shared with
// the actors' guards.
type memWatch struct {
	limit     uint64
	limitText string // "1.0 GiB"
	log       zerolog.Logger

	pending atomic.Int64  // stopped calls that have not unwound yet
	freed   chan struct{} // cap 1: the last stopped call unwound

	// Hooks; tests replace them.
	read    func() uint64 // heap bytes now
	gc      func()        // a full, blocking GC
	free    func()        // GC and return memory to the OS
	stopAll func() int    // stop every running call; how many were stopped
	clock   func() time.Time

	// Owned by the watchdog goroutine.
	lastGC, lastStop time.Time
	over             bool   // in an episode above the limit with calls stopped
	stopped          uint64 // calls stopped in this episode
}

func newMemWatch(limit int64, log zerolog.Logger, stopAll func() int) *memWatch {
	sample := []metrics.Sample{{Name: heapMetric}}
	return &memWatch{
		limit:     uint64(limit),
		limitText: formatBytes(uint64(limit)),
		log:       log,
		freed:     make(chan struct{}, 1),
		read: func() uint64 {
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return 0
			}
			return sample[0].Value.Uint64()
		},
		gc:      goruntime.GC,
		free:    debug.FreeOSMemory,
		stopAll: stopAll,
		clock:   time.Now,
	}
}

// guard returns a new call guard reporting to w; nil when w is nil (the
// watchdog is off).
func (w *memWatch) guard() *callGuard {
	if w == nil {
		return nil
	}
	return &callGuard{w: w}
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

// run samples the heap every interval until ctx ends.
func (w *memWatch) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.freed:
			// The stopped calls unwound: their memory is garbage now.
			w.free()
			w.lastGC = w.clock()
		case <-t.C:
			w.check()
		}
	}
}

// check is one sample: over the limit, it first collects garbage (at most
// every memGCGap) and, if the heap is still over, stops every running
// call. While stopped calls unwind (at most memSettle) it stops nothing
// more.
func (w *memWatch) check() {
	now := w.clock()
	heap := w.read()
	if heap <= w.limit {
		if w.over {
			w.over = false
			w.log.Info().Uint64("heap_bytes", heap).Str("memory_limit", w.limitText).
				Uint64("calls_stopped", w.stopped).Msg("heap back under the memory limit")
			w.stopped = 0
		}
		return
	}
	if w.pending.Load() > 0 && now.Sub(w.lastStop) < memSettle {
		return // stopped calls are unwinding; their memory goes next
	}
	if now.Sub(w.lastGC) >= memGCGap {
		w.gc() // may take long: the clock is read again after it
		now = w.clock()
		w.lastGC = now
		if heap = w.read(); heap <= w.limit {
			return // it was garbage
		}
	}
	n := w.stopAll()
	if n == 0 {
		return
	}
	w.lastStop = now
	w.stopped += uint64(n)
	if !w.over {
		w.over = true
		w.log.Warn().Uint64("heap_bytes", heap).Str("memory_limit", w.limitText).Int("calls_stopped", n).
			Msg("heap over the memory limit: running handlers and loads stopped")
	}
}

// memoryError turns the error of a call the watchdog stopped into one
// naming the cause, keeping the file:line prefix gopher-lua gave it.
func (w *memWatch) memoryError(err error, what string) error {
	msg := fmt.Sprintf("memory limit exceeded (%s heap): %s stopped", w.limitText, what)
	se, ok := err.(*scriptError)
	if !ok {
		return &scriptError{Msg: msg, Memory: true}
	}
	out := *se // a copy: err may be shared
	out.Timeout, out.Memory = false, true
	if prefix, found := strings.CutSuffix(se.Msg, context.Canceled.Error()); found {
		out.Msg = prefix + msg
	} else {
		out.Msg = msg + " (" + se.Msg + ")"
	}
	return &out
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
