package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
)

// fakeSubs is a hand-written subscriptions.get with its own clock:
// strict ">" on _updatedAt and _deletedAt, like the server.
type fakeSubs struct {
	mu    sync.Mutex
	now   func() time.Time
	subs  map[string]*rc.Subscription
	trash []rc.RemovedSubscription
	fail  []error
	calls int
}

func newFakeSubs(skew time.Duration, ids ...string) *fakeSubs {
	f := &fakeSubs{now: func() time.Time { return time.Now().Add(skew).UTC().Truncate(time.Millisecond) }, subs: map[string]*rc.Subscription{}}
	for _, id := range ids {
		f.upsertAt(id, f.now())
	}
	return f
}

func (f *fakeSubs) Get(ctx context.Context, opts *rc.GetSubscriptionsOptions) (*rc.SubscriptionsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return nil, err
	}
	res := &rc.SubscriptionsResult{ServerTime: f.now().Truncate(time.Second)} // a Date header
	since := opts.UpdatedSince
	for _, s := range f.subs {
		if since.IsZero() || s.UpdatedAt.After(since) {
			c := *s
			res.Update = append(res.Update, &c)
		}
	}
	if !since.IsZero() {
		for _, r := range f.trash {
			if r.DeletedAt.After(since) {
				res.Remove = append(res.Remove, r)
			}
		}
	}
	return res, nil
}

func (f *fakeSubs) upsertAt(id string, at time.Time) {
	raw, _ := json.Marshal(map[string]any{"_id": id, "rid": "room-" + id, "_updatedAt": at.Format(time.RFC3339Nano)})
	f.subs[id] = &rc.Subscription{ID: id, RoomID: "room-" + id, UpdatedAt: at, Raw: raw}
}

func (f *fakeSubs) upsert(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertAt(id, f.now())
}

// upsertLate writes a change whose _updatedAt is older than the newest one
// (a write committed late), inside the overlap window.
func (f *fakeSubs) upsertLate(id string, by time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertAt(id, f.now().Add(-by))
}

func (f *fakeSubs) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, id)
	f.trash = append(f.trash, rc.RemovedSubscription{ID: id, DeletedAt: f.now()})
}

func (f *fakeSubs) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, errs...)
}

func (f *fakeSubs) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// collector gathers what a Poll emits.
type collector struct {
	mu     sync.Mutex
	events []Event
}

func (c *collector) emit(_ context.Context, ev Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	return nil
}

// count counts the events of action about id.
func (c *collector) count(action, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, ev := range c.events {
		if ev.Action == action && ev.ID == id {
			n++
		}
	}
	return n
}

func (c *collector) all() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

// startPoll runs a Poll of f until the test ends.
func startPoll(t *testing.T, f *fakeSubs, opts PollOptions) *collector {
	t.Helper()
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewPoll(f, opts).Run(ctx, c.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "Run ends with nil when its context ends")
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return c
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 2*time.Millisecond, "waiting for %s", what)
}

// waitPolls waits until n more polls happened.
func waitPolls(t *testing.T, f *fakeSubs, n int) {
	t.Helper()
	start := f.callCount()
	eventually(t, func() bool { return f.callCount() >= start+n }, fmt.Sprintf("%d more polls", n))
}

func TestPollExactlyOnce(t *testing.T) {
	t.Parallel()
	rateLimited := &rc.Error{Endpoint: "subscriptions.get", Status: 429, Message: "too many requests", RetryAfter: 30 * time.Millisecond}
	for name, tc := range map[string]struct {
		skew  time.Duration
		fails []error
	}{
		"in sync":               {},
		"server an hour behind": {skew: -time.Hour},
		"server an hour ahead":  {skew: time.Hour},
		"failing polls":         {fails: []error{errors.New("connection refused"), rateLimited, errors.New("502")}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSubs(tc.skew, "s1", "s2")
			c := startPoll(t, f, PollOptions{Interval: 10 * time.Millisecond})
			waitPolls(t, f, 2) // baseline and one more

			f.failNext(tc.fails...)
			f.upsert("s3")
			eventually(t, func() bool { return c.count(ActionInserted, "s3") == 1 }, "inserted s3")
			f.failNext(tc.fails...)
			f.upsert("s1")
			eventually(t, func() bool { return c.count(ActionUpdated, "s1") == 1 }, "updated s1")
			f.failNext(tc.fails...)
			f.remove("s2")
			eventually(t, func() bool { return c.count(ActionRemoved, "s2") == 1 }, "removed s2")
			f.upsertLate("s4", 2*time.Second)
			eventually(t, func() bool { return c.count(ActionInserted, "s4") == 1 }, "late write inside the overlap")

			waitPolls(t, f, 10)
			assert.Equal(t, 1, c.count(ActionInserted, "s3"), "inserted once")
			assert.Equal(t, 1, c.count(ActionUpdated, "s1"), "updated once")
			assert.Equal(t, 1, c.count(ActionRemoved, "s2"), "removed once")
			assert.Equal(t, 1, c.count(ActionInserted, "s4"), "late insert once")
			events := c.all()
			assert.Len(t, events, 4, "no other event (the baseline emitted nothing): %+v", events)
			for _, ev := range events {
				assert.Equal(t, KindSubscription, ev.Kind)
				var obj map[string]any
				require.NoError(t, json.Unmarshal(ev.Raw, &obj), "Raw is a JSON object")
				assert.Equal(t, ev.ID, obj["_id"], "Raw is the subscription the event is about")
				if ev.Action == ActionRemoved {
					assert.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, obj["_deletedAt"], "removals carry _deletedAt as an ISO string")
				} else {
					assert.Equal(t, "room-"+ev.ID, obj["rid"], "the server's own object")
				}
			}
		})
	}
}

// TestPollRunStartsAfresh: without Cursors, every Run of one Poll begins
// with a baseline:
// what changed before it, or between two Runs, is not emitted.
func TestPollRunStartsAfresh(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0, "s1")
	p := NewPoll(f, PollOptions{Interval: 5 * time.Millisecond})
	run := func(during func(c *collector)) *collector {
		c := &collector{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, c.emit) }()
		during(c)
		cancel()
		require.NoError(t, <-done)
		return c
	}
	run(func(c *collector) {
		waitPolls(t, f, 2)
		f.upsert("s1")
		eventually(t, func() bool { return c.count(ActionUpdated, "s1") == 1 }, "updated s1 in the first Run")
	})
	f.upsert("s1") // between the two Runs
	second := run(func(c *collector) {
		waitPolls(t, f, 4)
		f.upsert("s2")
		eventually(t, func() bool { return c.count(ActionInserted, "s2") == 1 }, "the second Run sees later changes")
	})
	assert.Zero(t, second.count(ActionUpdated, "s1"), "the second Run's baseline emitted nothing")
	assert.Len(t, second.all(), 1, "only the change made after its baseline: %+v", second.all())
}

func TestPollBackoff(t *testing.T) {
	t.Parallel()
	p := newPollState(NewPoll(nil, PollOptions{Interval: time.Second, MaxBackoff: time.Minute}))
	within := func(nominal time.Duration, msg string) {
		t.Helper()
		d := p.backoff(errors.New("x"))
		assert.True(t, d >= nominal/2 && d <= nominal, "%s: %v within [%v, %v]", msg, d, nominal/2, nominal)
	}
	p.fails = 1
	within(2*time.Second, "first failure: one to two intervals")
	p.fails = 3
	within(8*time.Second, "doubling per failure")
	p.fails = 30
	within(time.Minute, "capped")
	p.fails = 1
	rl := &rc.Error{Status: 429, RetryAfter: 20 * time.Second}
	assert.Equal(t, 20*time.Second, p.backoff(rl), "rate limit honours RetryAfter")
	rl = &rc.Error{Status: 429, Reset: time.Now().Add(10 * time.Second)}
	assert.InDelta(t, float64(10*time.Second), float64(p.backoff(rl)), float64(time.Second), "rate limit honours Reset")
}

func TestPollPrunesDedupMemory(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0)
	p := newPollState(NewPoll(f, PollOptions{Interval: time.Second, Overlap: time.Second}))
	base := time.Now().UTC().Add(-200 * time.Second) // in the past: the cursor follows
	for i := range 100 {
		f.mu.Lock()
		f.upsertAt(fmt.Sprint("s", i), base.Add(time.Duration(i)*time.Second))
		f.mu.Unlock()
	}
	p.poll(context.Background(), discard) // baseline
	p.poll(context.Background(), discard)
	assert.LessOrEqual(t, len(p.seen), 2, "only pairs inside the overlap are remembered")
	assert.Len(t, p.known, 100, "every id stays known")
}

// TestPollCopiesRaw: an event's Raw is its own copy, not a view into the
// response: a string a handler keeps must not keep every subscription of
// the body alive (and nobody else's later change may show through).
func TestPollCopiesRaw(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0, "s1")
	p := newPollState(NewPoll(f, PollOptions{Interval: time.Second}))
	var got []Event
	emit := func(_ context.Context, ev Event) error { got = append(got, ev); return nil }
	p.poll(context.Background(), emit) // baseline
	f.mu.Lock()
	f.upsertAt("s1", f.now().Add(time.Second)) // a stamp the baseline cannot have
	f.mu.Unlock()
	p.poll(context.Background(), emit)
	require.Len(t, got, 1)
	f.mu.Lock()
	body := f.subs["s1"].Raw
	want := string(got[0].Raw)
	for i := range body {
		body[i] = 'X' // the server's bytes change (a reused buffer, a later body)
	}
	f.mu.Unlock()
	assert.Equal(t, want, string(got[0].Raw), "the event kept its own bytes")
}

// discard is an Emit that drops every event.
func discard(context.Context, Event) error { return nil }
