package cli

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime/source"
)

// TestEventSourceKeepsItsCursor: the daemon's event source, in both
// modes, saves its cursor in the store it is given under this server and
// bot, and a new one built with that store (a restart) delivers the
// change made in between, once.
func TestEventSourceKeepsItsCursor(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{eventsPoll, eventsAuto} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := rctest.NewServer()
			t.Cleanup(srv.Close)
			client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
			require.NoError(t, err)
			t.Cleanup(client.HTTPClient().CloseIdleConnections)
			cursors := &source.MemCursors{}
			o := runOptions{events: mode, catchUp: time.Minute}
			build := func() source.Source {
				return eventSource(o, srv.URL, client, rctest.BotUserID, cursors,
					source.PollOptions{Interval: 10 * time.Millisecond, CursorEvery: time.Millisecond, Log: zerolog.Nop()})
			}
			saved := func() bool {
				_, ok, err := cursors.LoadCursor(source.CursorName(srv.URL, rctest.BotUserID))
				require.NoError(t, err)
				return ok
			}

			var mu sync.Mutex
			var got []source.Event
			emit := func(_ context.Context, ev source.Event) error {
				mu.Lock()
				got = append(got, ev)
				mu.Unlock()
				if ev.Handled != nil {
					ev.Handled()
				}
				return nil
			}
			run := func() (stop func()) {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- build().Run(ctx, emit) }()
				return func() { cancel(); require.NoError(t, <-done) }
			}

			stop := run()
			require.Eventually(t, saved, 10*time.Second, time.Millisecond, "the baseline saved")
			stop()
			_, err = srv.PostMessage(rctest.BobUsername, rctest.OpsRoomID, "while stopped @"+rctest.BotUsername)
			require.NoError(t, err)
			sub, _ := srv.Subscription(rctest.BotUsername, rctest.OpsRoomID)

			stop = run()
			defer stop()
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				for _, ev := range got {
					if ev.Kind == source.KindSubscription && ev.ID == sub.ID {
						return true
					}
				}
				return false
			}, 10*time.Second, time.Millisecond, "the change made while stopped")
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, ev := range got {
				if ev.Kind == source.KindSubscription {
					n++
				}
			}
			assert.Equal(t, 1, n, "once: %v", got)
		})
	}
}
