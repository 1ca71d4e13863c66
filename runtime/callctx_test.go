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
	case <-time.After(waitFor):
		t.Fatalf("%s: not done after %v", what, waitFor)
	}
}

func TestCallContextRunsThenEnds(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
	c := ct.begin(never, time.Hour)
	if c.Err() != nil || isDone(c.Done()) {
		t.Fatalf("running call: Err %v, done %v; want neither", c.Err(), isDone(c.Done()))
	}
	if d, ok := c.Deadline(); !ok || time.Until(d) < 59*time.Minute || time.Until(d) > time.Hour {
		t.Errorf("Deadline = %v, %v; want about an hour from now", d, ok)
	}
	ct.end(c)
	if !errors.Is(c.Err(), context.Canceled) || !isDone(c.Done()) {
		t.Errorf("after end: Err %v, done %v; want context.Canceled and done", c.Err(), isDone(c.Done()))
	}
}

// Each call starts afresh: a call stopped at its deadline, or cancelled,
// leaves nothing to the next one, and a stop meant for one call never
// reaches the next.
func TestCallContextNextCallIsFresh(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
	c := ct.begin(never, time.Millisecond)
	waitDone(t, c.Done(), "a 1ms call")
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want context.DeadlineExceeded", c.Err())
	}
	ct.end(c)
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("end changed the stopped call's Err to %v", c.Err())
	}

	c2 := ct.begin(never, time.Hour)
	if c2.Err() != nil || isDone(c2.Done()) {
		t.Fatalf("the call after a stopped one: Err %v, done %v; want it running", c2.Err(), isDone(c2.Done()))
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("the next call changed the stopped one's Err to %v", c.Err())
	}
	// A firing armed for the earlier call that comes late finds this
	// call's deadline in the future and leaves it running.
	ct.stopRunning(&errDeadline, true)
	if c2.Err() != nil {
		t.Fatalf("a late firing stopped a call an hour from its deadline: %v", c2.Err())
	}
	ct.cancel()
	if !errors.Is(c2.Err(), context.Canceled) || !isDone(c2.Done()) {
		t.Fatalf("cancel: Err %v; want context.Canceled", c2.Err())
	}
	ct.stopRunning(&errDeadline, false)
	if !errors.Is(c2.Err(), context.Canceled) {
		t.Errorf("a second stop replaced the first's error with %v", c2.Err())
	}
	ct.end(c2)

	c3 := ct.begin(never, time.Hour)
	defer ct.end(c3)
	if c3.Err() != nil {
		t.Fatalf("the call after a cancelled one: Err %v", c3.Err())
	}
	ct.end(c2) // a second end of an earlier call stops nothing else
	if c3.Err() != nil {
		t.Fatalf("ending an earlier call again stopped the running one: %v", c3.Err())
	}
}

// Contexts derived from the call's (as luabind's requests and
// gopher-lua's coroutines make) end with it: when it is stopped, when it
// ends, and at once when made after it was stopped; one cancelled on its
// own is forgotten by the call.
func TestCallContextDerived(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()

	c := ct.begin(never, time.Hour)
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
	ct.cancel()
	waitDone(t, stopped.Done(), "a context derived from a cancelled call")
	waitDone(t, ended.Done(), "a second derived context")
	if !errors.Is(stopped.Err(), context.Canceled) {
		t.Errorf("derived Err = %v, want context.Canceled", stopped.Err())
	}
	late, cancel3 := context.WithCancel(c)
	defer cancel3()
	waitDone(t, late.Done(), "a context derived after the call was stopped")
	ct.end(c)

	c = ct.begin(never, time.Hour)
	atEnd, cancel4 := context.WithCancel(c)
	defer cancel4()
	ct.end(c)
	waitDone(t, atEnd.Done(), "a context derived from a call that ended")

	c = ct.begin(never, 20*time.Millisecond)
	req, cancel5 := context.WithTimeout(c, time.Hour)
	defer cancel5()
	waitDone(t, req.Done(), "a context derived from a call at its deadline")
	if !errors.Is(c.Err(), context.DeadlineExceeded) || !errors.Is(req.Err(), context.DeadlineExceeded) {
		t.Errorf("call Err = %v, derived Err = %v; want context.DeadlineExceeded for both", c.Err(), req.Err())
	}
	ct.end(c)
}

// The timer stops a call with many derived contexts (a loop making
// coroutines, each of which derives one) while the call's goroutine sees
// it done at once, ends it and begins the next: the derived contexts are
// cancelled with the stopped call's error, never the next call's (nil:
// package context panics in the timer's goroutine and the daemon dies).
func TestCallContextStopRacesNextCall(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
	for range 100 {
		c := ct.begin(never, time.Millisecond)
		derived := make([]context.Context, 0, 1000)
		cancels := make([]context.CancelFunc, 0, 1000)
		for range 1000 {
			d, cancel := context.WithCancel(c)
			derived, cancels = append(derived, d), append(cancels, cancel)
		}
		<-c.Done()
		ct.end(c)
		next := ct.begin(never, time.Hour)
		ct.end(next)
		for _, d := range derived {
			waitDone(t, d.Done(), "a context derived from a call stopped at its deadline")
			if !errors.Is(d.Err(), context.DeadlineExceeded) && !errors.Is(d.Err(), context.Canceled) {
				t.Fatalf("derived Err = %v", d.Err())
			}
		}
		for _, cancel := range cancels {
			cancel()
		}
	}
}

// When the host stops a call as it ends, end returns only once every
// context derived from the call is done (as context.WithTimeout's cancel
// does): the stop that runs their cancellation holds end back.
func TestCallContextEndWaitsForStop(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
	for range 20 {
		c := ct.begin(never, time.Hour)
		derived := make([]context.Context, 0, 5000)
		for range cap(derived) {
			d, cancel := context.WithCancel(c)
			defer cancel()
			derived = append(derived, d)
		}
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			ct.cancel()
		}()
		<-c.Done()
		ct.end(c)
		for _, d := range derived {
			if d.Err() == nil {
				t.Fatal("a context derived from the call is not done when end returns")
			}
		}
		<-stopped
	}
}

type ctxKey struct{}

func TestCallContextValuesOfParent(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
	parent := context.WithValue(never, ctxKey{}, "the parent's")
	c := ct.begin(parent, time.Hour)
	defer ct.end(c)
	if got := c.Value(ctxKey{}); got != "the parent's" {
		t.Errorf("Value = %v, want the parent's value", got)
	}
	if got := context.WithValue(c, "k", 1).Value(ctxKey{}); got != "the parent's" {
		t.Errorf("a derived context's Value = %v, want the parent's value", got)
	}
}

// The host stops calls from other goroutines (the watchdog, the
// shutdown) while the actor begins and ends them: under -race, every call
// ends done, and a derived context with it.
func TestCallContextConcurrentStops(t *testing.T) {
	t.Parallel()
	ct := newCallTimer()
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
				ct.cancel()
			}
		}
	}()
	for range 2000 {
		c := ct.begin(never, time.Hour)
		d, cancel := context.WithCancel(c)
		ct.end(c)
		if !isDone(c.Done()) || c.Err() == nil {
			t.Fatal("a call ended not done")
		}
		waitDone(t, d.Done(), "a derived context after end")
		cancel()
	}
	close(stop)
	wg.Wait()
}
