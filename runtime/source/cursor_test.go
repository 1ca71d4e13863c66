package source

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// handler is a host stand-in: it records the events and marks each handled
// at once, or, while held, keeps them unhandled (a script still busy).
type handler struct {
	collector
	hold    atomic.Bool
	holdIf  func(Event) bool // when not nil, also holds the events it selects
	mu      sync.Mutex
	pending []func()
}

func (h *handler) emit(ctx context.Context, ev Event) error {
	_ = h.collector.emit(ctx, ev)
	if ev.Handled == nil {
		return nil
	}
	if h.hold.Load() || (h.holdIf != nil && h.holdIf(ev)) {
		h.mu.Lock()
		h.pending = append(h.pending, ev.Handled)
		h.mu.Unlock()
		return nil
	}
	ev.Handled()
	return nil
}

// release handles the events held.
func (h *handler) release() {
	h.mu.Lock()
	p := h.pending
	h.pending = nil
	h.mu.Unlock()
	for _, f := range p {
		f()
	}
}

// crashable is a Cursors whose disk "freezes" (a crash: later saves never
// reach it) once frozen is set.
type crashable struct {
	MemCursors
	frozen atomic.Bool
}

func (c *crashable) SaveCursor(name string, data []byte) error {
	if c.frozen.Load() {
		return nil
	}
	return c.MemCursors.SaveCursor(name, data)
}

// saved decodes the cursor saved under name (nil: none).
func saved(t *testing.T, c Cursors, name string) *savedCursor {
	t.Helper()
	data, ok, err := c.LoadCursor(name)
	require.NoError(t, err)
	if !ok {
		return nil
	}
	s, err := decodeCursor(data)
	require.NoError(t, err)
	return s
}

// savedCovers reports whether the saved cursor knows sub's current version.
func (s *rtServer) savedCovers(t *testing.T, c Cursors, name, room string) bool {
	sc := saved(t, c, name)
	if sc == nil {
		return false
	}
	sub, ok := s.srv.Subscription(rctest.BotUsername, room)
	require.True(t, ok)
	at, ok := sc.Known[sub.ID]
	return ok && at == s.subUpdatedAt(t, room).UnixNano()
}

// subUpdatedAt is the _updatedAt subscriptions.get gives the bot's
// subscription of room.
func (s *rtServer) subUpdatedAt(t *testing.T, room string) time.Time {
	t.Helper()
	res, err := s.client.Subscriptions.Get(context.Background(), nil)
	require.NoError(t, err)
	for _, sub := range res.Update {
		if sub.RoomID == room {
			return sub.UpdatedAt
		}
	}
	t.Fatalf("no subscription of %s", room)
	return time.Time{}
}

// pollRun is a Poll's Run in the background, stopped by stop (once).
type pollRun struct {
	h    *handler
	stop func()
}

func runPollWith(t *testing.T, src Source, h *handler) *pollRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, h.emit) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return &pollRun{h: h, stop: stop}
}

// cursorPoll is the test's Poll of s with cursors.
func (s *rtServer) cursorPoll(c Cursors, log zerolog.Logger, user string) *Poll {
	return NewPoll(s.client.Subscriptions, PollOptions{Interval: 10 * time.Millisecond, Log: log,
		Cursors: c, CursorName: CursorName(s.srv.URL, user), CursorEvery: 5 * time.Millisecond})
}

// pollsSince waits until n more subscriptions.get requests came.
func (s *rtServer) waitPolls(t *testing.T, n int) {
	t.Helper()
	from := s.polls()
	waitUntil(t, "polls", func() bool { return s.polls() >= from+n })
}

// TestPollRestartCatchesUp: a change handled before a restart is not
// delivered again; the changes made while stopped (an update, an
// insertion, a removal) are delivered after it, once each, with the
// actions a running poller gives them.
func TestPollRestartCatchesUp(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	ops, random, empty := s.subID(t, rctest.OpsRoomID), s.subID(t, rctest.RandomRoomID), s.subID(t, rctest.EmptyRoomID)

	first := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "ops", func() bool { return first.h.count(ActionUpdated, ops) == 1 })
	waitUntil(t, "ops saved", func() bool { return s.savedCovers(t, c, name, rctest.OpsRoomID) })
	first.stop()

	s.mention(t, rctest.RandomRoomID)
	require.NoError(t, s.srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	require.NoError(t, s.srv.RemoveSubscription(rctest.BotUsername, rctest.EmptyRoomID))
	joined := s.subID(t, rctest.NoSubRoomID)

	second := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the catch-up", func() bool { return len(second.h.all()) >= 3 })
	s.waitPolls(t, 3)
	assert.Equal(t, 1, second.h.count(ActionUpdated, random), "changed while stopped")
	assert.Equal(t, 1, second.h.count(ActionInserted, joined), "joined while stopped")
	assert.Equal(t, 1, second.h.count(ActionRemoved, empty), "left while stopped")
	assert.Zero(t, second.h.count(ActionUpdated, ops), "handled before the restart")
	assert.Len(t, second.h.all(), 3)
}

// TestPollFirstStartIsABaseline: with an empty cursor store, nothing
// that exists is delivered; and a cursor saved for another user or
// another server is not used (a baseline again, nothing delivered).
func TestPollFirstStartIsABaseline(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	// An old cursor of another user, and one of another server, both
	// behind every subscription: used, they would deliver everything.
	old := (&pollState{p: &Poll{}, known: map[string]time.Time{}, seen: map[seenKey]bool{}, cursor: time.Unix(1, 0)}).snapshot(nil)
	require.NoError(t, c.SaveCursor(CursorName(s.srv.URL, rctest.AliceUserID), old))
	require.NoError(t, c.SaveCursor(CursorName("http://other.example", rctest.BotUserID), old))

	r := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, CursorName(s.srv.URL, rctest.BotUserID)) != nil })
	s.waitPolls(t, 3)
	assert.Empty(t, r.h.all(), "a first start is a silent baseline")
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "a change after it", func() bool { return len(r.h.all()) == 1 })
}

// TestPollRestartSkipsOlderThanTheWindow: after a restart, a change older
// than the catch-up window is skipped and counted in one log line; a
// newer one is delivered; and the skipped one is not delivered later.
func TestPollRestartSkipsOlderThanTheWindow(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	srv := rctest.NewServer(rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	t.Cleanup(srv.Close)
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	s := &rtServer{srv: srv, client: client}
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)

	first := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	first.stop()

	s.mention(t, rctest.RandomRoomID)
	s.mention(t, rctest.GeneralRoomID)
	offset.Store(int64(time.Hour)) // stopped for an hour
	s.mention(t, rctest.OpsRoomID)

	logs := &logBuf{}
	second := runPollWith(t, s.cursorPoll(c, zerolog.New(logs), rctest.BotUserID), &handler{})
	waitUntil(t, "the recent change", func() bool { return len(second.h.all()) >= 1 })
	s.waitPolls(t, 3)
	assert.Equal(t, 1, second.h.count(ActionUpdated, s.subID(t, rctest.OpsRoomID)))
	assert.Len(t, second.h.all(), 1, "the older ones skipped")
	assert.Equal(t, 1, logs.count(`"skipped":2`), "one line giving how many: %s", logs.buf.String())
	assert.Equal(t, 1, logs.count("older than the catch-up window"))
}

// TestPollRestartAfterACrash: a crash (the store takes no more saves)
// after events were emitted but before they were handled loses none of
// them: the restart delivers them again (at least once). Events handled
// and saved before the crash are not delivered again.
func TestPollRestartAfterACrash(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &crashable{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	ops, random := s.subID(t, rctest.OpsRoomID), s.subID(t, rctest.RandomRoomID)

	first := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "ops saved", func() bool { return s.savedCovers(t, c, name, rctest.OpsRoomID) })

	// The script is busy: random is emitted, queued, not handled; polls
	// (and offers to save) go on meanwhile.
	first.h.hold.Store(true)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "random emitted", func() bool { return first.h.count(ActionUpdated, random) == 1 })
	s.waitPolls(t, 3)
	assert.False(t, s.savedCovers(t, c, name, rctest.RandomRoomID), "not saved while unhandled")
	// The handler finishes, and the process dies before the save.
	c.frozen.Store(true)
	first.h.release()
	first.stop()

	second := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "random again", func() bool { return second.h.count(ActionUpdated, random) == 1 })
	s.waitPolls(t, 3)
	assert.Zero(t, second.h.count(ActionUpdated, ops), "handled and saved: not again")
	assert.Len(t, second.h.all(), 1)
}

// TestPollSavesAtABoundedRate: a burst of changes within one save period
// is one save, not one per event.
func TestPollSavesAtABoundedRate(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	p := NewPoll(s.client.Subscriptions, PollOptions{Interval: 5 * time.Millisecond, Log: zerolog.Nop(),
		Cursors: c, CursorName: name, CursorEvery: time.Hour})
	r := runPollWith(t, p, &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	for _, room := range []string{rctest.OpsRoomID, rctest.RandomRoomID, rctest.GeneralRoomID} {
		s.mention(t, room)
	}
	waitUntil(t, "the events", func() bool { return len(r.h.all()) == 3 })
	s.waitPolls(t, 3)
	assert.Equal(t, 1, c.Saves(), "one save per CursorEvery")
	r.stop()
	assert.Equal(t, 2, c.Saves(), "and one when Run ends")
	assert.True(t, s.savedCovers(t, c, name, rctest.GeneralRoomID), "the last state handled")
}

// TestCursorUnreadable: a corrupt saved cursor is a baseline with an error
// line, never a crash or a replay.
func TestCursorUnreadable(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	require.NoError(t, c.SaveCursor(name, []byte(`{"v":1,"cursor":"soon"}`)))
	logs := &logBuf{}
	r := runPollWith(t, s.cursorPoll(c, zerolog.New(logs), rctest.BotUserID), &handler{})
	waitUntil(t, "a baseline saved", func() bool {
		d, _, _ := c.LoadCursor(name)
		_, err := decodeCursor(d)
		return err == nil
	})
	s.waitPolls(t, 2)
	assert.Empty(t, r.h.all())
	assert.Equal(t, 1, logs.count("the saved event cursor is unreadable"))
}

// cursorRealtime is the test's Realtime of s with cursors and the message
// catch-up.
func (s *rtServer) cursorRealtime(c Cursors, log zerolog.Logger) *Realtime {
	o := s.messageOpts(log)
	o.Poll.Cursors, o.Poll.CursorName, o.Poll.CursorEvery = c, CursorName(s.srv.URL, rctest.BotUserID), 5*time.Millisecond
	return NewRealtime(s.client.Subscriptions, o)
}

// savedMessage reports whether the saved cursor has message id.
func savedMessage(t *testing.T, c Cursors, name, id string) bool {
	sc := saved(t, c, name)
	if sc == nil || sc.Messages == nil {
		return false
	}
	_, ok := sc.Messages.Latest[id]
	return ok
}

// TestRealtimeRestartCatchesUp: over DDP, the messages and subscription
// changes made while stopped are delivered after a restart, once each and
// before what follows; a message handled before the restart is not
// delivered again.
func TestRealtimeRestartCatchesUp(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	src := s.cursorRealtime(c, zerolog.Nop())
	first := runPollWith(t, src, &handler{})
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })
	before := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "before @"+rctest.BotUsername)
	waitUntil(t, "before", func() bool { return messages(&first.h.collector, ActionCreated, before) == 1 })
	waitUntil(t, "before saved", func() bool {
		return savedMessage(t, c, name, before) && s.savedCovers(t, c, name, rctest.OpsRoomID)
	})
	first.stop()

	inOps := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "while stopped @"+rctest.BotUsername)
	inDM := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "a DM while stopped")

	src = s.cursorRealtime(c, zerolog.Nop())
	second := runPollWith(t, src, &handler{})
	waitUntil(t, "caught up", func() bool {
		return messages(&second.h.collector, ActionCreated, inOps) == 1 && messages(&second.h.collector, ActionCreated, inDM) == 1
	})
	waitUntil(t, "the stream", func() bool { return src.State() == StateRealtime })
	after := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after")
	waitUntil(t, "after", func() bool { return messages(&second.h.collector, ActionCreated, after) == 1 })
	got := ofKind(&second.h.collector, KindMessage)
	require.Len(t, got, 3, "before is not delivered again: %v", got)
	assert.ElementsMatch(t, []string{inOps, inDM}, []string{got[0].ID, got[1].ID})
	assert.Equal(t, after, got[2].ID, "the catch-up came before the events after it")
	assert.Equal(t, 1, second.h.count(ActionUpdated, s.subID(t, rctest.OpsRoomID)), "the subscription change while stopped, once")
}

// TestRealtimeRestartSkipsOlderThanTheWindow: after a restart an hour
// later, the message and the subscription change older than the catch-up
// window are skipped, with a log line each (the subscriptions' counted).
func TestRealtimeRestartSkipsOlderThanTheWindow(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	srv := rctest.NewServer(rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	t.Cleanup(srv.Close)
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	s := &rtServer{srv: srv, client: client}
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	src := s.cursorRealtime(c, zerolog.Nop())
	first := runPollWith(t, src, &handler{})
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })
	first.stop()

	old := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "while stopped @"+rctest.BotUsername)
	offset.Store(int64(time.Hour))

	logs := &logBuf{}
	src = s.cursorRealtime(c, zerolog.New(logs))
	second := runPollWith(t, src, &handler{})
	waitUntil(t, "the stream", func() bool { return src.State() == StateRealtime })
	after := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after")
	waitUntil(t, "after", func() bool { return messages(&second.h.collector, ActionCreated, after) == 1 })
	assert.Zero(t, messages(&second.h.collector, ActionCreated, old), "older than the window")
	assert.Zero(t, second.h.count(ActionUpdated, s.subID(t, rctest.OpsRoomID)), "older than the window")
	assert.Equal(t, 1, logs.count(`"skipped":1`), logs.buf.String())
	assert.Equal(t, 1, logs.count("the gap is longer than the catch-up window"))
}

// TestRealtimeRestartAfterQuietPeriodNoFalseWarning: an hour with no
// message (the server's clock moved on, resyncs saw it), then a stop with
// nothing unread and a restart: the position is the stop, not the last
// message an hour back, so no "the gap is longer than the catch-up window"
// warning, and the message posted while stopped is still delivered once.
func TestRealtimeRestartAfterQuietPeriodNoFalseWarning(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	srv := rctest.NewServer(rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	t.Cleanup(srv.Close)
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	s := &rtServer{srv: srv, client: client}
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	mk := func(log zerolog.Logger) *Realtime {
		r := s.cursorRealtime(c, log)
		r.opts.Resync = 20 * time.Millisecond
		return r
	}
	src := mk(zerolog.Nop())
	first := runPollWith(t, src, &handler{})
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })
	last := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "last before the quiet hour @"+rctest.BotUsername)
	waitUntil(t, "last handled and saved", func() bool { return savedMessage(t, c, name, last) })
	offset.Store(int64(time.Hour))
	p := s.polls()
	waitUntil(t, "two resyncs in the quiet hour", func() bool { return s.polls() >= p+2 })
	first.stop()
	sc := saved(t, c, name)
	require.NotNil(t, sc.Messages)
	assert.Greater(t, sc.Messages.Since, s.messageTS(t, last).Add(30*time.Minute).UnixNano(), "the position moved on with nothing unread")

	inOps := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "while stopped @"+rctest.BotUsername)
	logs := &logBuf{}
	src = mk(zerolog.New(logs))
	second := runPollWith(t, src, &handler{})
	waitUntil(t, "caught up", func() bool { return messages(&second.h.collector, ActionCreated, inOps) == 1 })
	waitUntil(t, "the stream", func() bool { return src.State() == StateRealtime })
	after := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after")
	waitUntil(t, "after", func() bool { return messages(&second.h.collector, ActionCreated, after) == 1 })
	assert.Zero(t, messages(&second.h.collector, ActionCreated, last), "handled before the stop")
	assert.Zero(t, logs.count("the gap is longer than the catch-up window"), logs.buf.String())
}
