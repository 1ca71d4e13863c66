package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
)

// fakeSource is a hand-written subscriptions.get with its own clock:
// strict ">" on _updatedAt and _deletedAt, like the server.
type fakeSource struct {
	mu    sync.Mutex
	now   func() time.Time
	subs  map[string]*rc.Subscription
	trash []rc.RemovedSubscription
	fail  []error
	calls int
}

func newFakeSource(skew time.Duration, ids ...string) *fakeSource {
	f := &fakeSource{now: func() time.Time { return time.Now().Add(skew).UTC().Truncate(time.Millisecond) }, subs: map[string]*rc.Subscription{}}
	for _, id := range ids {
		f.upsertAt(id, f.now())
	}
	return f
}

func (f *fakeSource) Get(ctx context.Context, opts *rc.GetSubscriptionsOptions) (*rc.SubscriptionsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		return nil, err
	}
	res := &rc.SubscriptionsResult{}
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

func (f *fakeSource) upsertAt(id string, at time.Time) {
	raw, _ := json.Marshal(map[string]any{"_id": id, "rid": "room-" + id, "_updatedAt": at.Format(time.RFC3339Nano)})
	f.subs[id] = &rc.Subscription{ID: id, RoomID: "room-" + id, UpdatedAt: at, Raw: raw}
}

func (f *fakeSource) upsert(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertAt(id, f.now())
}

// upsertLate writes a change whose _updatedAt is older than the newest one
// (a write committed late), inside the overlap window.
func (f *fakeSource) upsertLate(id string, by time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertAt(id, f.now().Add(-by))
}

func (f *fakeSource) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, id)
	f.trash = append(f.trash, rc.RemovedSubscription{ID: id, DeletedAt: f.now()})
}

func (f *fakeSource) failNext(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, errs...)
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

const listener = `rc.on("subscription", function(action, sub)
  rc.log.info("event", {action = action, id = sub._id})
end)
`

func (th *testHost) events(action, id string) int {
	return th.logs.count("event", "action", action, "id", id)
}

// waitPolls waits until n more polls happened.
func waitPolls(th *testHost, f *fakeSource, n int) {
	th.t.Helper()
	start := f.callCount()
	th.logs.eventually(th.t, waitFor, func() bool { return f.callCount() >= start+n }, fmt.Sprintf("%d more polls", n))
}

func TestPollerExactlyOnce(t *testing.T) {
	rateLimited := &rc.Error{Endpoint: "subscriptions.get", Status: 429, Message: "too many requests", RetryAfter: 30 * time.Millisecond}
	for name, c := range map[string]struct {
		skew  time.Duration
		fails []error
	}{
		"in sync":               {},
		"server an hour behind": {skew: -time.Hour},
		"server an hour ahead":  {skew: time.Hour},
		"failing polls":         {fails: []error{errors.New("connection refused"), rateLimited, errors.New("502")}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeSource(c.skew, "s1", "s2")
			th := startHost(t, Config{PollInterval: 10 * time.Millisecond}, f, map[string]string{"l.lua": listener})
			waitPolls(th, f, 2) // baseline and one more

			f.failNext(c.fails...)
			f.upsert("s3")
			th.logs.eventually(t, waitFor, func() bool { return th.events("inserted", "s3") == 1 }, "inserted s3")
			f.failNext(c.fails...)
			f.upsert("s1")
			th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "s1") == 1 }, "updated s1")
			f.failNext(c.fails...)
			f.remove("s2")
			th.logs.eventually(t, waitFor, func() bool { return th.events("removed", "s2") == 1 }, "removed s2")
			f.upsertLate("s4", 2*time.Second)
			th.logs.eventually(t, waitFor, func() bool { return th.events("inserted", "s4") == 1 }, "late write inside the overlap")

			waitPolls(th, f, 10)
			assert.Equal(t, 1, th.events("inserted", "s3"), "inserted once")
			assert.Equal(t, 1, th.events("updated", "s1"), "updated once")
			assert.Equal(t, 1, th.events("removed", "s2"), "removed once")
			assert.Equal(t, 1, th.events("inserted", "s4"), "late insert once")
			assert.Equal(t, 4, th.logs.count("event"), "no other event (the baseline fired nothing)")
			st, _ := th.status("l")
			assert.Equal(t, uint64(4), st.Runs)
		})
	}
}

func TestPollerOnlyWhileListening(t *testing.T) {
	f := newFakeSource(0, "s1")
	th := startHost(t, Config{PollInterval: 10 * time.Millisecond}, f, map[string]string{
		"quiet.lua": `rc.every(0.01, function() rc.log.info("quiet tick") end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("quiet tick") > 5 }, "time passes")
	assert.Zero(t, f.callCount(), "no poll without a listener")

	writeFile(t, th.dir+"/l.lua", listener)
	waitPolls(th, f, 3)
	f.upsert("s1")
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "s1") == 1 }, "event once listening")

	require.NoError(t, os.Remove(th.dir+"/l.lua"))
	th.waitStatus("l", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	n := th.logs.count("quiet tick")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("quiet tick") > n+3 }, "time passes")
	calls := f.callCount()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("quiet tick") > n+10 }, "more time passes")
	assert.Equal(t, calls, f.callCount(), "polling stopped with the last listener")
}

func TestPollerBackoff(t *testing.T) {
	h := newHost(Config{PollInterval: time.Second, maxBackoff: time.Minute}, env{}, zerolog.Nop())
	p := newPoller(h, nil)
	within := func(nominal time.Duration, msg string) {
		t.Helper()
		d := p.backoff(errors.New("x"))
		assert.True(t, d >= nominal/2 && d <= nominal, "%s: %v within [%v, %v]", msg, d, nominal/2, nominal)
	}
	p.fails = 1
	within(time.Second, "first failure: the poll interval, jittered")
	p.fails = 3
	within(4*time.Second, "doubling per failure")
	p.fails = 30
	within(time.Minute, "capped")
	p.fails = 1
	rl := &rc.Error{Status: 429, RetryAfter: 20 * time.Second}
	assert.Equal(t, 20*time.Second, p.backoff(rl), "rate limit honours RetryAfter")
	rl = &rc.Error{Status: 429, Reset: time.Now().Add(10 * time.Second)}
	assert.InDelta(t, float64(10*time.Second), float64(p.backoff(rl)), float64(time.Second), "rate limit honours Reset")
}

func TestPollerPrunesDedupMemory(t *testing.T) {
	h := newHost(Config{PollInterval: time.Second, pollOverlap: time.Second}, env{}, zerolog.Nop())
	f := newFakeSource(0)
	p := newPoller(h, f)
	base := time.Now().UTC()
	for i := range 100 {
		f.mu.Lock()
		f.upsertAt(fmt.Sprint("s", i), base.Add(time.Duration(i)*time.Second))
		f.mu.Unlock()
	}
	p.poll(context.Background()) // baseline
	p.poll(context.Background())
	assert.LessOrEqual(t, len(p.seen), 2, "only pairs inside the overlap are remembered")
	assert.Len(t, p.known, 100, "every id stays known")
}
