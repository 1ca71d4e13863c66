package source

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
)

// logBuf is a zerolog writer the test reads.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), sub)
}

// setAt writes a version of id dated at whose content carries n.
func (f *fakeSubs) setAt(id string, at time.Time, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	raw, _ := json.Marshal(map[string]any{"_id": id, "rid": "room-" + id, "n": n, "_updatedAt": at.Format(time.RFC3339Nano)})
	f.subs[id] = &rc.Subscription{ID: id, RoomID: "room-" + id, UpdatedAt: at, Raw: raw}
}

const futureWarning = "a subscription is dated after the response's Date header"

// TestPollFutureDatedSubscription (issue 9 item 6): a subscription dated a
// day ahead of the server's clock must not carry the cursor there: every
// later change, of other subscriptions and of that one, still arrives,
// the future-dated version once, and the anomaly is logged once.
func TestPollFutureDatedSubscription(t *testing.T) {
	t.Parallel()
	for name, inBaseline := range map[string]bool{"seen in a poll": false, "seen in the baseline": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFakeSubs(0, "s1", "s2")
			if inBaseline {
				f.setAt("future", f.now().Add(24*time.Hour), 0)
			}
			logs := &logBuf{}
			c := startPoll(t, f, PollOptions{Interval: 5 * time.Millisecond, Log: zerolog.New(logs)})
			waitPolls(t, f, 2)
			if !inBaseline {
				f.setAt("future", f.now().Add(24*time.Hour), 0)
				eventually(t, func() bool { return c.count(ActionInserted, "future") == 1 }, "the future-dated subscription")
			}
			f.upsert("s1")
			eventually(t, func() bool { return c.count(ActionUpdated, "s1") == 1 }, "a later change of s1")
			f.upsert("s3")
			eventually(t, func() bool { return c.count(ActionInserted, "s3") == 1 }, "a later insert of s3")
			f.remove("s2")
			eventually(t, func() bool { return c.count(ActionRemoved, "s2") == 1 }, "a later removal of s2")
			f.setAt("future", f.now(), 1) // its clock mended: a real change
			eventually(t, func() bool { return c.count(ActionUpdated, "future") == 1 }, "a real change of the future-dated one")

			waitPolls(t, f, 10)
			assert.Equal(t, 1, c.count(ActionUpdated, "s1"))
			assert.Equal(t, 1, c.count(ActionUpdated, "future"), "its real change once")
			want := 5
			if inBaseline {
				want = 4 // the baseline emits nothing
			} else {
				assert.Equal(t, 1, c.count(ActionInserted, "future"), "the future-dated version once, though every poll returns it")
			}
			assert.Len(t, c.all(), want, "%+v", c.all())
			assert.Equal(t, 1, logs.count(futureWarning), "logged once, not per poll:\n%s", logs.buf.String())
		})
	}
}

// TestPollClampsTheCursorToTheServerClock: the cursor never passes the
// server's clock, in the baseline or after.
func TestPollClampsTheCursorToTheServerClock(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0, "s1")
	logs := &logBuf{}
	st := newPollState(NewPoll(f, PollOptions{Interval: time.Second, Log: zerolog.New(logs)}))
	st.poll(context.Background(), discard)
	require.True(t, st.baselined)
	assert.False(t, st.cursor.After(f.now()), "cursor %v not after the server's clock", st.cursor)
	f.setAt("s2", f.now().Add(24*time.Hour), 0)
	st.poll(context.Background(), discard)
	assert.False(t, st.cursor.After(f.now()), "cursor %v still not after the server's clock", st.cursor)
	assert.Equal(t, 1, logs.count(futureWarning))

}

// TestPollSameMillisecond (issue 9 item 7): two different states of one
// subscription under the same _updatedAt are two events; the same state
// read again inside the overlap window is none.
func TestPollSameMillisecond(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0, "s1")
	c := startPoll(t, f, PollOptions{Interval: 5 * time.Millisecond})
	waitPolls(t, f, 2)
	at := f.now()
	f.setAt("s1", at, 1)
	eventually(t, func() bool { return c.count(ActionUpdated, "s1") == 1 }, "the first change")
	f.setAt("s1", at, 2) // same millisecond, different content
	eventually(t, func() bool { return c.count(ActionUpdated, "s1") == 2 }, "the second change under the same stamp")
	waitPolls(t, f, 10)  // every poll re-reads s1 (inside the overlap)
	f.setAt("s1", at, 2) // an identical re-send
	waitPolls(t, f, 5)
	events := c.all()
	require.Len(t, events, 2, "%+v", events)
	for i, ev := range events {
		var obj struct{ N int }
		require.NoError(t, json.Unmarshal(ev.Raw, &obj))
		assert.Equal(t, i+1, obj.N, "event %d carries its own state", i)
	}
}

// TestPollStopsWhileEmitWaits: a poll whose emit waits (a full queue) ends
// when the Run's context ends, and Run returns nil.
func TestPollStopsWhileEmitWaits(t *testing.T) {
	t.Parallel()
	f := newFakeSubs(0, "s1")
	var mu sync.Mutex
	waiting := 0
	emit := func(ctx context.Context, _ Event) error {
		mu.Lock()
		waiting++
		mu.Unlock()
		<-ctx.Done() // never taken
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewPoll(f, PollOptions{Interval: 5 * time.Millisecond}).Run(ctx, emit) }()
	waitPolls(t, f, 2)
	f.upsert("s2")
	f.upsert("s3")
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return waiting == 1 }, "emit waiting")
	calls := f.callCount()
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return while emit waited")
	}
	assert.Equal(t, calls, f.callCount(), "no poll while an event waited")
	mu.Lock()
	assert.Equal(t, 1, waiting, "the second event was not emitted past a waiting one")
	mu.Unlock()
}
