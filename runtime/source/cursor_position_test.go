package source

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// tightRealtime is cursorRealtime with a 1ms overlap: a saved position
// ahead of a message by more than that loses it at a restart.
func (s *rtServer) tightRealtime(c Cursors) *Realtime {
	o := s.messageOpts(zerolog.Nop())
	o.Poll.Overlap = time.Millisecond
	o.Poll.Cursors, o.Poll.CursorName, o.Poll.CursorEvery = c, CursorName(s.srv.URL, rctest.BotUserID), 5*time.Millisecond
	return NewRealtime(s.client.Subscriptions, o)
}

// TestRealtimeCursorBehindUnreadMessages: a slow handler (emit blocking)
// holds the stream while messages arrive; the daemon stops as it
// finishes, with those messages still unread in the client. The saved
// message position does not pass them (it is the newest message read, not
// the clock), and a restart from it delivers each of them once, and not
// the one handled before.
func TestRealtimeCursorBehindUnreadMessages(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	src := s.tightRealtime(c)
	first := &handler{}
	var blocked atomic.Bool
	entered := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, ev Event) error {
			if ev.Kind == KindMessage && blocked.CompareAndSwap(false, true) {
				close(entered)
				<-ctx.Done() // the handler finishes as the daemon stops
			}
			return first.emit(ctx, ev)
		})
	}()
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })

	slow := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "slow @"+rctest.BotUsername)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first message never reached emit")
	}
	// The server stamps messages to the millisecond: the unread ones come
	// a millisecond after the handled one, so a position at the handled
	// one is strictly behind them.
	slowTS := s.messageTS(t, slow)
	waitUntil(t, "a millisecond past the handled message", func() bool { return time.Since(slowTS) > 2*time.Millisecond })
	var unread []string
	for range 20 {
		unread = append(unread, s.post(t, rctest.BobUsername, rctest.OpsRoomID, "queued @"+rctest.BotUsername))
	}
	// The source's estimate of the server's clock (a whole-second Date
	// plus the time since) passes the last of them for sure after a
	// second: a position taken from the clock would then be past them all.
	newest := s.messageTS(t, unread[len(unread)-1])
	waitUntil(t, "the clock a second past the messages", func() bool { return time.Since(newest) > 1100*time.Millisecond })
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	assert.Equal(t, 1, messages(&first.collector, ActionCreated, slow))
	sc := saved(t, c, name)
	require.NotNil(t, sc.Messages)
	assert.True(t, savedMessage(t, c, name, slow), "the message handled is in the saved state")
	assert.Less(t, sc.Messages.Since, s.messageTS(t, unread[0]).UnixNano(), "the position is behind the unread messages")

	second := runPollWith(t, s.tightRealtime(c), &handler{})
	waitUntil(t, "the unread messages", func() bool {
		return len(ofKind(&second.h.collector, KindMessage)) >= len(unread)
	})
	for _, id := range unread {
		assert.Equal(t, 1, messages(&second.h.collector, ActionCreated, id), "unread before the stop: delivered once")
	}
	assert.Zero(t, messages(&second.h.collector, ActionCreated, slow), "handled before the stop: not again")
	assert.Len(t, ofKind(&second.h.collector, KindMessage), len(unread))
}

// messageTS is the ts of message id as rctest keeps it.
func (s *rtServer) messageTS(t *testing.T, id string) time.Time {
	t.Helper()
	for _, room := range []string{rctest.OpsRoomID, rctest.RandomRoomID, rctest.GeneralRoomID, rctest.DMAliceRoomID} {
		for _, m := range s.srv.Messages(room) {
			if m.ID == id {
				return m.TS
			}
		}
	}
	t.Fatalf("no message %s", id)
	return time.Time{}
}

// savedIndex is the i of the state {"i":i} saved under "x", -1 for none.
func savedIndex(t *testing.T, c *MemCursors) int {
	t.Helper()
	data, ok, err := c.LoadCursor("x")
	require.NoError(t, err)
	if !ok {
		return -1
	}
	var s struct{ I int }
	require.NoError(t, json.Unmarshal(data, &s))
	return s.I
}

// TestCursorSaverEpochsBounded: while one event stays unhandled (a paused
// script), 10,000 states offered, each after an event handled at once,
// hold a bounded number of epochs and bytes; nothing is saved past the
// unhandled event, and once it is handled the newest state is saved. A
// second event held in a later epoch (whose state was merged) still keeps
// every state after it unsaved until it is handled.
func TestCursorSaverEpochsBounded(t *testing.T) {
	t.Parallel()
	const n, late = 10000, 5000
	c := &MemCursors{}
	sv := newCursorSaver(c, "x", time.Hour, zerolog.Nop())
	first, second := &handler{}, &handler{}
	ctx := context.Background()
	first.hold.Store(true)
	require.NoError(t, sv.track(first.emit)(ctx, Event{ID: "first"}))
	h := &handler{}
	maxHeld, maxBytes := 0, 0
	for i := range n {
		emit := sv.track(h.emit)
		if i == late {
			second.hold.Store(true)
			emit = sv.track(second.emit)
		}
		require.NoError(t, emit(ctx, Event{ID: "e"}))
		sv.offer(fmt.Appendf(nil, `{"i":%d}`, i))
		sv.flush()
		sv.mu.Lock()
		held, bytes := len(sv.epochs), 0
		for _, e := range sv.epochs {
			bytes += len(e.state)
		}
		sv.mu.Unlock()
		maxHeld, maxBytes = max(maxHeld, held), max(maxBytes, bytes)
	}
	const bound = 16 // a small fixed number, whatever the number of offers
	assert.LessOrEqual(t, maxHeld, bound, "epochs held while the first event is unhandled")
	assert.LessOrEqual(t, maxBytes, bound*len(`{"i":9999}`), "state bytes held")
	assert.Equal(t, -1, savedIndex(t, c), "nothing saved past an unhandled event")

	first.release()
	sv.flush()
	got := savedIndex(t, c)
	assert.Less(t, got, late, "not past the second unhandled event")
	second.release()
	sv.flush()
	assert.Equal(t, n-1, savedIndex(t, c), "the newest state, once every event is handled")
}

// TestPollRunResumesInTheSameProcess: with Cursors, a second Run of the
// same Poll (a listener back after a period with none) resumes from the
// cursor the first saved: the change made between the Runs is delivered,
// once, and the one handled in the first Run is not.
func TestPollRunResumesInTheSameProcess(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	p := s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID)
	ops, random := s.subID(t, rctest.OpsRoomID), s.subID(t, rctest.RandomRoomID)

	first := runPollWith(t, p, &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "ops", func() bool { return first.h.count(ActionUpdated, ops) == 1 })
	first.stop()

	s.mention(t, rctest.RandomRoomID) // nobody listens

	second := runPollWith(t, p, &handler{})
	waitUntil(t, "the change made between the Runs", func() bool { return second.h.count(ActionUpdated, random) == 1 })
	s.waitPolls(t, 3)
	assert.Zero(t, second.h.count(ActionUpdated, ops), "handled in the first Run")
	assert.Len(t, second.h.all(), 1)
}

// TestRealtimeCursorKeepsRoomsOfUnreadMessagesAcrossResync (a reviewer's
// reproduction): a slow handler holds the stream while messages pile up
// unread in one room; a later change in another room, polled by a resync,
// moves the subscription cursor past the first room's change; the daemon
// stops. The saved state still names the first room (its subscription
// changed after the message position less the overlap), so the restart
// catches its unread messages up: every one is delivered.
func TestRealtimeCursorKeepsRoomsOfUnreadMessagesAcrossResync(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	mk := func() *Realtime {
		r := s.tightRealtime(c)
		r.opts.Resync = 20 * time.Millisecond
		return r
	}
	// past reports whether a saved state has the subscription cursor past
	// the ops room's last change (by more than the 1ms overlap).
	var opsAt atomic.Int64
	past := func() bool {
		sc := saved(t, c, name)
		return opsAt.Load() != 0 && sc != nil && sc.Messages != nil && sc.Cursor > opsAt.Load()+int64(time.Millisecond)
	}
	src := mk()
	first := &handler{}
	var n atomic.Int32
	release, entered := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, ev Event) error {
			if ev.Kind == KindMessage {
				switch k := n.Add(1); {
				case k == 1:
					close(entered)
					<-release
				case !past():
					// A slow handler: the source's loop runs its resync
					// between two messages, with the others unread, until
					// the cursor passes the ops room (the server's whole-
					// second Date caps it: up to a second).
					time.Sleep(100 * time.Millisecond)
				default:
					<-ctx.Done() // the rest stay unread until the stop
				}
			}
			return first.emit(ctx, ev)
		})
	}()
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })
	slow := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "slow @"+rctest.BotUsername)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first message never reached emit")
	}
	slowTS := s.messageTS(t, slow)
	waitUntil(t, "a millisecond past the handled message", func() bool { return time.Since(slowTS) > 2*time.Millisecond })
	var unread []string
	for range 20 {
		unread = append(unread, s.post(t, rctest.BobUsername, rctest.OpsRoomID, "queued @"+rctest.BotUsername))
	}
	ops := s.subUpdatedAt(t, rctest.OpsRoomID)
	waitUntil(t, "a millisecond past the ops room's change", func() bool { return time.Since(ops) > 2*time.Millisecond })
	unread = append(unread, s.post(t, rctest.BobUsername, rctest.RandomRoomID, "later @"+rctest.BotUsername))
	opsAt.Store(ops.UnixNano())
	close(release)
	waitUntil(t, "a resync moving the subscription cursor past the ops room", past)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	sc := saved(t, c, name)
	require.NotNil(t, sc.Messages)
	assert.Contains(t, sc.Messages.Rooms, rctest.OpsRoomID, "the room with unread messages is saved")
	assert.LessOrEqual(t, sc.Messages.Since, s.messageTS(t, unread[len(unread)-2]).UnixNano(), "the position is not past the ops room's last message")

	firstGot := map[string]bool{}
	for _, ev := range ofKind(&first.collector, KindMessage) {
		firstGot[ev.ID] = true
	}
	second := runPollWith(t, mk(), &handler{})
	missing := func() []string {
		var out []string
		for _, id := range unread {
			if !firstGot[id] && messages(&second.h.collector, ActionCreated, id) == 0 {
				out = append(out, id)
			}
		}
		return out
	}
	waitUntil(t, "every message unread at the stop, after the restart", func() bool { return len(missing()) == 0 })
	for _, id := range unread {
		assert.LessOrEqual(t, messages(&second.h.collector, ActionCreated, id), 1, "at most once after the restart")
	}
}
