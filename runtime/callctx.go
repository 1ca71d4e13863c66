package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callTimer times the calls one guard runs, one at a time, when their
// parent is never done (the daemon's handlers and trials: actor.run gives
// them context.WithoutCancel of its own). Each call gets a callContext of
// its own, but the guard's one timer is re-armed for it and nothing
// registers with the parent: context.WithTimeout makes a timer, a context,
// a channel and the parent's bookkeeping per call, a callContext itself
// and its channel (three allocations fewer per handler call:
// BenchmarkDispatch and BenchmarkHearDispatch, allocs/op).
type callTimer struct {
	cancel func()      // stops the running call with context.Canceled
	timer  *time.Timer // fires at the running call's deadline

	mu  sync.Mutex
	cur *callContext // the running call; nil when idle
}

// The errors a call is stopped with, by pointer: what callContext.err
// holds.
var (
	errCanceled = context.Canceled
	errDeadline = context.DeadlineExceeded
)

// newCallTimer returns an idle callTimer.
func newCallTimer() *callTimer {
	t := &callTimer{}
	t.cancel = func() { t.stopRunning(&errCanceled, false) }
	t.timer = time.AfterFunc(time.Hour, func() { t.stopRunning(&errDeadline, true) })
	t.timer.Stop()
	return t
}

// begin returns the context of a call under parent (whose Done must be
// nil) that may run for timeout, and arms the timer for it.
func (t *callTimer) begin(parent context.Context, timeout time.Duration) *callContext {
	c := &callContext{parent: parent, done: make(chan struct{}), deadline: time.Now().Add(timeout)}
	t.mu.Lock()
	t.cur = c
	t.mu.Unlock()
	// After the deadline is set: a firing armed for an earlier call that
	// comes late finds it in the future and does nothing (see
	// stopRunning), and this one fires at or after it.
	t.timer.Reset(timeout)
	return c
}

// end ends c, the running call: its context is cancelled (when it was not
// stopped already), as the deferred cancel of context.WithTimeout does, and
// end returns once the contexts derived from it are done (but one derived
// in the instant the call was stopped, which a goroutine of its own
// cancels: see AfterFunc).
func (t *callTimer) end(c *callContext) {
	t.timer.Stop()
	t.mu.Lock()
	t.cur = nil
	t.mu.Unlock()
	c.stop(&errCanceled)
}

// stopRunning stops the running call, if any, with *err; atDeadline stops
// it only once its deadline has passed (the timer's firing may be one
// armed for an earlier call). A call that has ended since it was read is
// stopped already, and stays as it ended.
func (t *callTimer) stopRunning(err *error, atDeadline bool) {
	t.mu.Lock()
	c := t.cur
	t.mu.Unlock()
	if c == nil || atDeadline && time.Now().Before(c.deadline) {
		return
	}
	c.stop(err)
}

// callContext is the context of one call (see callTimer): done when the
// call is stopped (at its deadline: Err is context.DeadlineExceeded; by
// the host: context.Canceled) or has ended (context.Canceled), with the
// parent's values. Contexts derived from it are cancelled with it (it has
// the AfterFunc method through which package context links them). Once
// done it stays done, with the same Err.
type callContext struct {
	parent   context.Context // never done
	deadline time.Time
	done     chan struct{}
	err      atomic.Pointer[error] // nil until stopped

	mu    sync.Mutex
	funcs map[*func()]struct{} // AfterFunc registrations, until stopped
	// ran is held by the stop that runs funcs until they have run: a later
	// stop (end's) waits for it, so that when end returns every derived
	// context is done, as when context.WithTimeout's cancel returns.
	ran sync.Mutex
}

// stop makes c done with *err and runs what AfterFunc registered; when c
// is done already, it waits until that has run. The funcs run without
// c.mu: package context calls AfterFunc holding the derived context's
// lock, which they take.
func (c *callContext) stop(err *error) {
	c.mu.Lock()
	if c.err.Load() != nil {
		c.mu.Unlock()
		c.ran.Lock()
		c.ran.Unlock() //nolint:staticcheck // empty critical section: waits for the first stop's funcs
		return
	}
	c.err.Store(err)
	close(c.done)
	funcs := c.funcs
	c.funcs = nil
	c.ran.Lock()
	c.mu.Unlock()
	defer c.ran.Unlock()
	for f := range funcs {
		(*f)()
	}
}

// Deadline returns the call's deadline.
func (c *callContext) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done returns a channel closed when the call is stopped or has ended.
func (c *callContext) Done() <-chan struct{} { return c.done }

// Err returns nil while the call runs, then why it was stopped.
func (c *callContext) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Value returns the parent's value for key.
func (c *callContext) Value(key any) any { return c.parent.Value(key) }

// AfterFunc runs f once c is done (at once, in a goroutine of its own,
// when it is already): the way package context cancels the contexts
// derived from c. The returned stop unregisters f, reporting whether it
// did so before f was run.
func (c *callContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err.Load() != nil {
		c.mu.Unlock()
		// Package context holds the derived context's lock while it
		// registers f, and f takes it: f cannot run here.
		go f()
		return func() bool { return false }
	}
	k := &f
	if c.funcs == nil {
		c.funcs = make(map[*func()]struct{})
	}
	c.funcs[k] = struct{}{}
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.funcs[k]
		delete(c.funcs, k)
		return ok
	}
}
