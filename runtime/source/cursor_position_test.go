package source

import (
	"context"
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
