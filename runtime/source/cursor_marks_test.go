package source

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestPollCleanStopKeepsWhatWasHandled: a restart's catch-up emits three
// changes in one poll (one saved state covers them all); the script
// handles two of them (an update and a removal) and the daemon stops
// cleanly while the third waits. The next start delivers the third once
// and neither of the two handled: the state saved at the stop records
// them though the state after the poll was not saveable.
func TestPollCleanStopKeepsWhatWasHandled(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	ops, random, general := s.subID(t, rctest.OpsRoomID), s.subID(t, rctest.RandomRoomID), s.subID(t, rctest.GeneralRoomID)

	first := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	first.stop()

	s.mention(t, rctest.OpsRoomID)
	s.mention(t, rctest.RandomRoomID)
	require.NoError(t, s.srv.RemoveSubscription(rctest.BotUsername, rctest.GeneralRoomID))

	busy := &handler{holdIf: func(ev Event) bool { return ev.ID == random }}
	second := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), busy)
	waitUntil(t, "the three changes", func() bool { return len(busy.all()) == 3 })
	waitUntil(t, "the handled ones saved", func() bool {
		sc := saved(t, c, name)
		_, generalKnown := sc.Known[general]
		return s.savedCovers(t, c, name, rctest.OpsRoomID) && !generalKnown
	})
	assert.False(t, s.savedCovers(t, c, name, rctest.RandomRoomID), "the change still waiting is not saved")
	second.stop() // the script never got to random: a clean stop cut it off

	third := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "random delivered again", func() bool { return third.h.count(ActionUpdated, random) == 1 })
	s.waitPolls(t, 3)
	assert.Zero(t, third.h.count(ActionUpdated, ops), "handled before the stop: not again")
	assert.Zero(t, third.h.count(ActionRemoved, general), "handled before the stop: not again")
	assert.Len(t, third.h.all(), 1, "%v", third.h.all())

}

// TestRealtimeCleanStopKeepsHandledMessages: messages posted while the
// daemon was down are caught up at the next start; the script handles
// some and the daemon stops cleanly with the others still waiting. The
// start after that delivers each waiting message once and no handled one
// again.
func TestRealtimeCleanStopKeepsHandledMessages(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	src := s.cursorRealtime(c, zerolog.Nop())
	first := runPollWith(t, src, &handler{})
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && saved(t, c, name) != nil })
	first.stop()

	var ids []string
	for i := range 10 {
		ids = append(ids, s.post(t, rctest.BobUsername, rctest.OpsRoomID, fmt.Sprintf("backlog %d @%s", i, rctest.BotUsername)))
	}
	handled, waiting := ids[:6], ids[6:]
	busy := &handler{holdIf: func(ev Event) bool { return ev.Kind == KindMessage && slices.Contains(waiting, ev.ID) }}
	src = s.cursorRealtime(c, zerolog.Nop())
	second := runPollWith(t, src, busy)
	waitUntil(t, "the backlog caught up", func() bool { return len(ofKind(&busy.collector, KindMessage)) == len(ids) })
	waitUntil(t, "the handled ones saved", func() bool {
		for _, id := range handled {
			if !savedMessage(t, c, name, id) {
				return false
			}
		}
		return true
	})
	for _, id := range waiting {
		assert.False(t, savedMessage(t, c, name, id), "waiting: not saved")
	}
	second.stop()

	src = s.cursorRealtime(c, zerolog.Nop())
	third := runPollWith(t, src, &handler{})
	waitUntil(t, "the waiting messages", func() bool {
		return len(ofKind(&third.h.collector, KindMessage)) >= len(waiting)
	})
	waitUntil(t, "the stream", func() bool { return src.State() == StateRealtime })
	after := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after")
	waitUntil(t, "after", func() bool { return messages(&third.h.collector, ActionCreated, after) == 1 })
	for _, id := range waiting {
		assert.Equal(t, 1, messages(&third.h.collector, ActionCreated, id), "cut off by the stop: delivered once")
	}
	for _, id := range handled {
		assert.Zero(t, messages(&third.h.collector, ActionCreated, id), "handled before the stop: not again")
	}
	assert.Len(t, ofKind(&third.h.collector, KindMessage), len(waiting)+1)
}

// TestCursorSaverMarksBounded: while one event stays unhandled, the
// positions of the events handled after it are kept up to maxMarks, not
// without limit; past it a restart may deliver some again (never fewer).
// Once the first event is handled, the state saved is the newest and the
// positions held are released.
func TestCursorSaverMarksBounded(t *testing.T) {
	t.Parallel()
	c := &MemCursors{}
	logs := &logBuf{}
	sv := newCursorSaver(c, "x", time.Hour, zerolog.New(logs))
	base := (&pollState{known: map[string]time.Time{}, seen: map[seenKey]bool{}, cursor: time.Unix(1, 0)}).snapshot(nil)
	sv.offer(base)
	sv.flush()
	first := &handler{}
	first.hold.Store(true)
	ctx := t.Context()
	require.NoError(t, sv.track(first.emit)(ctx, Event{ID: "first", pos: position{kind: posSubscription, id: "first", at: 2}}))
	h := &handler{}
	const n = maxMarks + 100
	for i := range n {
		id := fmt.Sprint("s", i)
		require.NoError(t, sv.track(h.emit)(ctx, Event{ID: id, pos: position{kind: posSubscription, id: id, at: int64(3 + i)}}))
		if i%1000 == 0 {
			sv.offer(fmt.Appendf(nil, `{"v":1,"cursor":%d}`, 3+i))
		}
	}
	sv.flush()
	sc := saved(t, c, "x")
	assert.Len(t, sc.Known, maxMarks, "positions held up to the bound")
	assert.NotContains(t, sc.Known, "first", "the unhandled event is not saved")
	sv.mu.Lock()
	assert.Equal(t, maxMarks, sv.marks)
	sv.mu.Unlock()
	// Past the bound, one more event handled records nothing: no save.
	saves := c.Saves()
	require.NoError(t, sv.track(h.emit)(ctx, Event{ID: "more", pos: position{kind: posSubscription, id: "more", at: 1 << 40}}))
	sv.flush()
	assert.Equal(t, saves, c.Saves(), "nothing new: not saved again")
	assert.Equal(t, 1, logs.count("too many events handled behind one still waiting"), "the first one not recorded is logged, once")

	first.release()
	sv.offer([]byte(`{"v":1,"cursor":99999}`))
	sv.flush()
	assert.Equal(t, int64(99999), saved(t, c, "x").Cursor, "the newest state once all are handled")
	sv.mu.Lock()
	assert.Zero(t, sv.marks, "positions released with their epochs")
	sv.mu.Unlock()
}

// TestPollCleanStopRecordsWhoHandled: an event that one script ("fast")
// is done with while another has not handled it when the daemon stops
// cleanly is delivered again after the restart with Done naming "fast"
// (the host then gives it to the others only); the record survives a
// second restart that stops with the event waiting again, and an event
// nobody handled comes again with no Done.
func TestPollCleanStopRecordsWhoHandled(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	c := &MemCursors{}
	name := CursorName(s.srv.URL, rctest.BotUserID)
	ops, random := s.subID(t, rctest.OpsRoomID), s.subID(t, rctest.RandomRoomID)

	first := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "the baseline saved", func() bool { return saved(t, c, name) != nil })
	first.stop()
	s.mention(t, rctest.OpsRoomID)
	s.mention(t, rctest.RandomRoomID)

	// Both wait for the slow script; the fast one is done with ops.
	busy := &handler{}
	busy.hold.Store(true)
	second := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), busy)
	waitUntil(t, "the two changes", func() bool { return len(busy.all()) == 2 })
	for _, ev := range busy.all() {
		require.NotNil(t, ev.HandledBy)
		assert.Empty(t, ev.Done)
		if ev.ID == ops {
			ev.HandledBy("fast")
			ev.HandledBy("fast") // twice is once
		}
	}
	second.stop()
	sc := saved(t, c, name)
	require.Len(t, sc.Partial, 1, "%+v", sc.Partial)
	assert.Equal(t, ops, sc.Partial[0].ID)
	assert.Equal(t, []string{"fast"}, sc.Partial[0].Scripts)

	// A start that stops again with both still waiting keeps the record
	// (the event came again with Done, and nobody else handled it).
	held := &handler{}
	held.hold.Store(true)
	third := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), held)
	waitUntil(t, "the two again", func() bool { return len(held.all()) == 2 })
	third.stop()
	sc = saved(t, c, name)
	require.Len(t, sc.Partial, 1, "still recorded")
	assert.Equal(t, []string{"fast"}, sc.Partial[0].Scripts)

	fourth := runPollWith(t, s.cursorPoll(c, zerolog.Nop(), rctest.BotUserID), &handler{})
	waitUntil(t, "both again", func() bool {
		return fourth.h.count(ActionUpdated, ops) == 1 && fourth.h.count(ActionUpdated, random) == 1
	})
	for _, ev := range fourth.h.all() {
		switch ev.ID {
		case ops:
			assert.Equal(t, []string{"fast"}, ev.Done, "the fast script had it")
		case random:
			assert.Empty(t, ev.Done, "nobody had it")
		}
	}
	waitUntil(t, "handled: no partial left", func() bool { return len(saved(t, c, name).Partial) == 0 })
	fourth.stop()
}

// TestCursorSaverPartialRecordsExpire: a partial record whose event never
// comes again (its object changed meanwhile) is carried through at most
// maxCarried restarts that saved something, then dropped: the saved
// cursor does not keep it for ever.
func TestCursorSaverPartialRecordsExpire(t *testing.T) {
	t.Parallel()
	c := &MemCursors{}
	stale := savedPartial{Kind: posSubscription, ID: "gone", At: 5, Sum: 7, Scripts: []string{"fast"}}
	b, err := json.Marshal(savedCursor{V: cursorVersion, Cursor: 1, Partial: []savedPartial{stale}})
	require.NoError(t, err)
	require.NoError(t, c.SaveCursor("x", b))
	for restart := 1; restart <= maxCarried+1; restart++ {
		sv := newCursorSaver(c, "x", time.Hour, zerolog.Nop())
		require.NotNil(t, sv.load())
		h := &handler{}
		require.NoError(t, sv.track(h.emit)(t.Context(), Event{ID: "other", pos: position{kind: posSubscription, id: "other", at: int64(10 + restart)}}))
		sv.offer(fmt.Appendf(nil, `{"v":1,"cursor":%d}`, 10+restart))
		sv.flush()
		sc := saved(t, c, "x")
		if restart <= maxCarried {
			require.Len(t, sc.Partial, 1, "restart %d: carried", restart)
			assert.Equal(t, restart, sc.Partial[0].Carried)
			assert.Equal(t, []string{"fast"}, sc.Partial[0].Scripts)
		} else {
			assert.Empty(t, sc.Partial, "restart %d: dropped", restart)
		}
	}
}

// TestCursorSaverHandledByAfterHandled: a script's HandledBy that comes
// after the event's Handled (the last script was quicker) records
// nothing: no partial record is left behind for an event the cursor
// covers.
func TestCursorSaverHandledByAfterHandled(t *testing.T) {
	t.Parallel()
	c := &MemCursors{}
	sv := newCursorSaver(c, "x", time.Hour, zerolog.Nop())
	sv.offer([]byte(`{"v":1,"cursor":1}`))
	var got Event
	require.NoError(t, sv.track(func(_ context.Context, ev Event) error { got = ev; return nil })(t.Context(),
		Event{ID: "a", pos: position{kind: posSubscription, id: "a", at: 2}}))
	got.Handled()
	got.HandledBy("late")
	sv.offer([]byte(`{"v":1,"cursor":2}`))
	sv.flush()
	assert.Empty(t, saved(t, c, "x").Partial)
	assert.Empty(t, sv.partial)
}

// TestCursorSaverDoneForEveryEmission: a position emitted twice after a
// restart (the stream and a catch-up's overlap) carries Done both times.
func TestCursorSaverDoneForEveryEmission(t *testing.T) {
	t.Parallel()
	c := &MemCursors{}
	p := savedPartial{Kind: posMessage, ID: "m", At: 5, TS: 4, Scripts: []string{"fast"}}
	b, err := json.Marshal(savedCursor{V: cursorVersion, Cursor: 1, Partial: []savedPartial{p}})
	require.NoError(t, err)
	require.NoError(t, c.SaveCursor("x", b))
	sv := newCursorSaver(c, "x", time.Hour, zerolog.Nop())
	require.NotNil(t, sv.load())
	var dones [][]string
	emit := sv.track(func(_ context.Context, ev Event) error { dones = append(dones, ev.Done); return nil })
	for range 2 {
		require.NoError(t, emit(t.Context(), Event{ID: "m", pos: p.position()}))
	}
	assert.Equal(t, [][]string{{"fast"}, {"fast"}}, dones)
}
