package runtime

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// never is a parent whose Done is nil, as actor.run gives its calls.
var never = context.WithoutCancel(context.Background())

// isDone reports whether ch is closed now.
func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitDone waits for ch to close, failing the test after a deadline.
func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not done after 10s", what)
	}
}

func TestCallContextRunsThenEnds(t *testing.T) {
	c := newCallContext()
	if c.Err() == nil || !isDone(c.Done()) {
		t.Fatalf("idle context: Err %v, done %v; want an ended context", c.Err(), isDone(c.Done()))
	}
	c.begin(never, time.Hour)
	if c.Err() != nil || isDone(c.Done()) {
		t.Fatalf("running call: Err %v, done %v; want neither", c.Err(), isDone(c.Done()))
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute || time.Until(d) > time.Hour {
		t.Errorf("Deadline = %v, %v; want about an hour from now", d, ok)
	}
	done := c.Done()
	c.end()
	if !errors.Is(c.Err(), context.Canceled) || !isDone(done) {
		t.Errorf("after end: Err %v, done %v; want context.Canceled and done", c.Err(), isDone(done))
	}
}

// Each call starts afresh: a call stopped at its deadline, or cancelled,
// leaves nothing to the next one, whose deadline is its own.
func TestCallContextNextCallIsFresh(t *testing.T) {
	c := newCallContext()
	c.begin(never, time.Millisecond)
	waitDone(t, c.Done(), "a 1ms call")
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want context.DeadlineExceeded", c.Err())
	}
	c.end()
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("end changed the stopped call's Err to %v", c.Err())
	}

	c.begin(never, time.Hour)
	if c.Err() != nil || isDone(c.Done()) {
		t.Fatalf("the call after a stopped one: Err %v, done %v; want it running", c.Err(), isDone(c.Done()))
	}
	// A firing armed for the earlier call that comes late finds this
	// call's deadline in the future and leaves it running.
	c.stop(&errDeadline, true)
	if c.Err() != nil {
		t.Fatalf("a late firing stopped a call an hour from its deadline: %v", c.Err())
	}
	c.cancel()
	if !errors.Is(c.Err(), context.Canceled) || !isDone(c.Done()) {
		t.Fatalf("cancel: Err %v; want context.Canceled", c.Err())
	}
	c.stop(&errDeadline, false)
	if !errors.Is(c.Err(), context.Canceled) {
		t.Errorf("a second stop replaced the first's error with %v", c.Err())
	}
	c.end()

	c.begin(never, time.Hour)
	defer c.end()
	if c.Err() != nil {
		t.Fatalf("the call after a cancelled one: Err %v", c.Err())
	}
}

// Contexts derived from the call's (as luabind's requests make) end with
// it: when it is stopped, when it ends, and at once when made after it
// was stopped; one cancelled on its own is forgotten by the call.
func TestCallContextDerived(t *testing.T) {
	c := newCallContext()

	c.begin(never, time.Hour)
	stopped, cancel := context.WithTimeout(c, time.Hour)
	defer cancel()
	ended, cancel2 := context.WithCancel(c)
	defer cancel2()
	own, cancelOwn := context.WithCancel(c)
	cancelOwn()
	c.mu.Lock()
	registered := len(c.funcs)
	c.mu.Unlock()
	if registered != 2 {
		t.Errorf("%d derived contexts registered, want 2 (the one cancelled on its own is unregistered)", registered)
	}
	if isDone(stopped.Done()) || !isDone(own.Done()) {
		t.Fatal("derived contexts: wrong state before the call is stopped")
	}
	c.cancel()
	waitDone(t, stopped.Done(), "a context derived from a cancelled call")
	waitDone(t, ended.Done(), "a second derived context")
	if !errors.Is(stopped.Err(), context.Canceled) {
		t.Errorf("derived Err = %v, want context.Canceled", stopped.Err())
	}
	late, cancel3 := context.WithCancel(c)
	defer cancel3()
	waitDone(t, late.Done(), "a context derived after the call was stopped")
	c.end()

	c.begin(never, time.Hour)
	atEnd, cancel4 := context.WithCancel(c)
	defer cancel4()
	c.end()
	waitDone(t, atEnd.Done(), "a context derived from a call that ended")

	c.begin(never, 20*time.Millisecond)
	req, cancel5 := context.WithTimeout(c, time.Hour)
	defer cancel5()
	waitDone(t, req.Done(), "a context derived from a call at its deadline")
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("call Err = %v, want context.DeadlineExceeded", c.Err())
	}
	c.end()
}

type ctxKey struct{}

func TestCallContextValuesAndDeadlineOfParent(t *testing.T) {
	c := newCallContext()
	parent := context.WithValue(never, ctxKey{}, "the parent's")
	c.begin(parent, time.Hour)
	defer c.end()
	if got := c.Value(ctxKey{}); got != "the parent's" {
		t.Errorf("Value = %v, want the parent's value", got)
	}
	if got := context.WithValue(c, "k", 1).Value(ctxKey{}); got != "the parent's" {
		t.Errorf("a derived context's Value = %v, want the parent's value", got)
	}
}

// The host stops calls from other goroutines (the watchdog, the
// shutdown) while the actor begins and ends them: under -race, no stop
// reaches a later call, and every call ends done.
func TestCallContextConcurrentStops(t *testing.T) {
	c := newCallContext()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				c.cancel()
				_ = c.Err()
			}
		}
	}()
	for range 2000 {
		c.begin(never, time.Hour)
		ch := c.Done()
		d, cancel := context.WithCancel(c)
		c.end()
		if !isDone(ch) || c.Err() == nil {
			t.Fatal("a call ended not done")
		}
		waitDone(t, d.Done(), "a derived context after end")
		cancel()
	}
	close(stop)
	wg.Wait()
}
