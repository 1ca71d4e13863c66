package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callContext is the context of the calls one guard runs, one at a time,
// when their parent is never done (the daemon's handlers and trials:
// actor.run gives them context.WithoutCancel of its own). It is re-armed
// for each call rather than made anew: context.WithTimeout costs a timer,
// a context and a channel per call (about 0.6 µs, 4 allocations), which is
// a fifteenth of a message's dispatch into rc.hear; re-arming costs a
// channel.
//
// Between begin and end it behaves as context.WithTimeout(parent,
// timeout) would: done once the timeout has passed (Err is
// context.DeadlineExceeded) or when cancelled (context.Canceled), with the
// parent's values; contexts derived from it are cancelled with it (it
// implements the AfterFunc method through which package context links
// them). end cancels it, as the deferred cancel of context.WithTimeout
// does, so nothing that kept it waits past its call.
type callContext struct {
	parent context.Context // its Done is nil
	cancel func()          // stops the running call with context.Canceled
	timer  *time.Timer     // fires at the running call's deadline

	done atomic.Value          // chan struct{} of the running (or last) call
	err  atomic.Pointer[error] // why the call was stopped; nil while it runs

	mu       sync.Mutex
	running  bool
	deadline time.Time
	funcs    map[*func()]struct{} // AfterFunc registrations of the running call
}

// The errors a call is stopped with, by pointer: what callContext.err
// holds.
var (
	errCanceled = context.Canceled
	errDeadline = context.DeadlineExceeded
)

// newCallContext returns an idle callContext.
func newCallContext() *callContext {
	c := &callContext{parent: context.Background()}
	c.cancel = func() { c.stop(&errCanceled, false) }
	c.timer = time.AfterFunc(time.Hour, func() { c.stop(&errDeadline, true) })
	c.timer.Stop()
	closed := make(chan struct{})
	close(closed)
	c.done.Store(closed)
	c.err.Store(&errCanceled)
	return c
}

// begin arms c for a call under parent (whose Done must be nil) that may
// run for timeout.
func (c *callContext) begin(parent context.Context, timeout time.Duration) {
	ch := make(chan struct{})
	c.mu.Lock()
	c.parent = parent
	c.done.Store(ch)
	c.err.Store(nil)
	c.deadline = time.Now().Add(timeout)
	c.running = true
	c.mu.Unlock()
	// After the deadline is set: a firing left from an earlier call finds
	// it in the future and does nothing (see stop), and this one fires at
	// or after it.
	c.timer.Reset(timeout)
}

// end stops the call (if it is still running) and leaves c idle.
func (c *callContext) end() {
	c.timer.Stop()
	c.stop(&errCanceled, false)
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
}

// stop ends the running call with *err (errCanceled or errDeadline),
// unless it was stopped already; atDeadline stops it only once its
// deadline has passed (the timer's firing may be one armed for an earlier
// call).
func (c *callContext) stop(err *error, atDeadline bool) {
	c.mu.Lock()
	if !c.running || c.err.Load() != nil || atDeadline && time.Now().Before(c.deadline) {
		c.mu.Unlock()
		return
	}
	c.err.Store(err)
	close(c.done.Load().(chan struct{}))
	funcs := c.funcs
	c.funcs = nil
	c.mu.Unlock()
	for f := range funcs {
		(*f)()
	}
}

// Deadline returns the running call's deadline.
func (c *callContext) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done returns a channel closed when the call is stopped or has ended.
func (c *callContext) Done() <-chan struct{} { return c.done.Load().(chan struct{}) }

// Err returns nil while the call runs, then why it was stopped.
func (c *callContext) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Value returns the parent's value for key.
func (c *callContext) Value(key any) any {
	c.mu.Lock()
	p := c.parent
	c.mu.Unlock()
	return p.Value(key)
}

// AfterFunc runs f once the call is stopped or has ended (at once, in a
// goroutine of its own, when it has already): the way package context
// cancels the contexts derived from c. The returned stop unregisters f,
// reporting whether it did so before f was run.
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
