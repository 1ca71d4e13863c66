package cli

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// TestMessageNotesFollowRealtime: a real auto source (source.Realtime with
// its fallback, without a message catch-up) against rctest: while the
// server refuses the websocket upgrade and it polls, a script with a
// message trigger has a note naming it; once realtime is back the note
// goes, and a script without one never has a note. With the catch-up (as
// the daemon runs it) polling delivers messages: no note.
func TestMessageNotesFollowRealtime(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	s.RefuseUpgrade(true)
	client, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	rt := source.NewRealtime(client.Subscriptions, source.RealtimeOptions{
		URL: s.URL, Token: func() string { return rctest.BotToken }, UserID: rctest.BotUserID,
		Fallback: true, Retry: 100 * time.Millisecond, Poll: source.PollOptions{Interval: time.Second},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx, func(context.Context, source.Event) error { return nil }) }()
	t.Cleanup(func() { cancel(); <-done })

	list := []runtime.ScriptStatus{
		{Name: "pinger", Listens: []string{source.KindMessage, source.KindSubscription},
			FirstHandlers: map[string]string{source.KindMessage: `hear "^!ping$" (pinger.lua:3)`, source.KindSubscription: "on subscription (pinger.lua:2)"}},
		{Name: "relay", Listens: []string{source.KindSubscription}, FirstHandlers: map[string]string{source.KindSubscription: "on subscription (relay.lua:2)"}},
	}
	waitFor(t, 10*time.Second, "the fallback", func() bool { return rt.State() == source.StatePolling })
	notes := messageNotes(rt, list)
	require.Len(t, notes, 1, "only the script with a message trigger")
	assert.Equal(t, `hear "^!ping$" (pinger.lua:3)`, notes["pinger"].trigger)
	assert.Contains(t, notes["pinger"].String(), "fell back to polling")

	s.RefuseUpgrade(false)
	waitFor(t, 10*time.Second, "realtime back", func() bool { return rt.State() == source.StateRealtime })
	assert.Empty(t, messageNotes(rt, list), "the note goes once realtime is back")

	// The daemon's auto source polls the messages too: no note.
	s.RefuseUpgrade(true)
	withHistory := source.NewRealtime(client.Subscriptions, source.RealtimeOptions{
		URL: s.URL, Token: func() string { return rctest.BotToken }, UserID: rctest.BotUserID,
		Fallback: true, Retry: time.Hour, History: client.Chat, Rooms: client.Rooms, Poll: source.PollOptions{Interval: time.Second},
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- withHistory.Run(ctx2, func(context.Context, source.Event) error { return nil }) }()
	t.Cleanup(func() { cancel2(); <-done2 })
	waitFor(t, 10*time.Second, "the fallback", func() bool { return withHistory.State() == source.StatePolling })
	assert.Empty(t, messageNotes(withHistory, list), "polling with the message catch-up delivers messages")

	poll := source.NewPoll(client.Subscriptions, source.PollOptions{Interval: time.Second})
	assert.Contains(t, messageNotes(poll, list)["pinger"].why, "--events poll")
	assert.Empty(t, messageNotes(nil, list), "no source yet: no note")
}
