package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/rc/realtime"
)

// ofKind returns the events of kind that c got.
func ofKind(c *collector, kind string) []Event {
	var out []Event
	for _, ev := range c.all() {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// waitUntil polls cond until it holds, failing after 30s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rtServer is rctest with a REST client of the bot.
type rtServer struct {
	srv    *rctest.Server
	client *rc.Client
}

func newRTServer(t *testing.T, opts ...rctest.Option) *rtServer {
	t.Helper()
	srv := rctest.NewServer(opts...)
	t.Cleanup(srv.Close)
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	return &rtServer{srv: srv, client: client}
}

// options are the test's RealtimeOptions: quick reconnections.
func (s *rtServer) options(log zerolog.Logger) RealtimeOptions {
	return RealtimeOptions{
		URL:   s.srv.URL,
		Token: func() string { _, tok := s.client.AuthToken(); return tok },
		Dial: []realtime.Option{realtime.WithHTTPClient(s.client.HTTPClient()),
			realtime.WithBackoff(rc.Backoff{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond})},
		Poll: PollOptions{Interval: 20 * time.Millisecond, Log: log},
	}
}

// polls counts the subscriptions.get requests.
func (s *rtServer) polls() int {
	n := 0
	for _, r := range s.srv.Requests() {
		if r.Endpoint == "subscriptions.get" {
			n++
		}
	}
	return n
}

// subID is the bot's subscription id of room.
func (s *rtServer) subID(t *testing.T, room string) string {
	t.Helper()
	sub, ok := s.srv.Subscription(rctest.BotUsername, room)
	require.True(t, ok, "the bot's subscription of %s", room)
	return sub.ID
}

// mention posts, as bob, a message mentioning the bot in room: one
// change of the bot's subscription there (facts §2.7).
func (s *rtServer) mention(t *testing.T, room string) {
	t.Helper()
	_, err := s.srv.PostMessage(rctest.BobUsername, room, "hi @"+rctest.BotUsername)
	require.NoError(t, err)
}

// restRaw is the bot's subscription id as subscriptions.get returns it.
func (s *rtServer) restRaw(t *testing.T, id string) []byte {
	t.Helper()
	res, err := s.client.Subscriptions.Get(context.Background(), nil)
	require.NoError(t, err)
	for _, sub := range res.Update {
		if sub.ID == id {
			return sub.Raw
		}
	}
	t.Fatalf("subscription %s not in subscriptions.get", id)
	return nil
}

// running is a Realtime's Run in the background.
type running struct {
	src  *Realtime
	got  *collector
	stop context.CancelFunc
	done chan error
}

func runRealtime(t *testing.T, src *Realtime) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: src, got: &collector{}, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx, r.got.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	return r
}

// connected waits until the stream is up and the baseline taken.
func (r *running) connected(t *testing.T, s *rtServer, sessions int) {
	t.Helper()
	waitUntil(t, "stream and baseline", func() bool {
		st := s.srv.DDPStats()
		return r.src.State() == StateRealtime && st.SubsByStream[realtime.StreamNotifyUser] >= sessions &&
			len(s.srv.Sessions()) == 1 && s.polls() >= sessions
	})
}

// TestRealtimeSubscriptionEvents: changes reach emit through the stream
// (no REST poll after the baseline), with the action and the very JSON
// subscriptions.get returns, each once; the baseline emits nothing.
func TestRealtimeSubscriptionEvents(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.options(zerolog.Nop())))
	r.connected(t, s, 1)
	assert.Empty(t, r.got.all(), "the baseline emits nothing")

	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	evs := ofKind(r.got, KindSubscription)
	require.Len(t, evs, 1)
	assert.Equal(t, KindSubscription, evs[0].Kind)
	assert.Equal(t, 1, s.polls(), "only the baseline went through REST")
	assert.Equal(t, string(s.restRaw(t, random)), string(evs[0].Raw), "the JSON subscriptions.get returns")

	require.NoError(t, s.srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	nosub := s.subID(t, rctest.NoSubRoomID)
	waitUntil(t, "inserted nosub", func() bool { return r.got.count(ActionInserted, nosub) == 1 })
	empty := s.subID(t, rctest.EmptyRoomID)
	require.NoError(t, s.srv.RemoveSubscription(rctest.BotUsername, rctest.EmptyRoomID))
	waitUntil(t, "removed empty", func() bool { return r.got.count(ActionRemoved, empty) == 1 })
	last := ofKind(r.got, KindSubscription)[2]
	assert.Contains(t, string(last.Raw), `"_id":"`+empty+`"`)
	assert.Contains(t, string(last.Raw), `"_deletedAt":"`)

	assert.Equal(t, 2, s.polls(), "the baseline and restRaw only")
	assert.Len(t, ofKind(r.got, KindSubscription), 3)
}

// TestRealtimeServerClockSteppedBack: after the server's clock steps back
// (or a node of a cluster stamps with a clock behind another's), a change
// stamped earlier than the last one delivered for that subscription still
// arrives through the stream, once, and so do the ones after it: the
// stream's order wins over the stamps (the adversarial trial lost them).
func TestRealtimeServerClockSteppedBack(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	s := newRTServer(t, rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.options(zerolog.Nop())))
	r.connected(t, s, 1)
	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "the first change", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	offset.Store(int64(-10 * time.Second))
	for i := 2; i <= 4; i++ {
		s.mention(t, rctest.RandomRoomID)
		waitUntil(t, fmt.Sprintf("change %d, stamped before the first", i), func() bool { return r.got.count(ActionUpdated, random) == i })
	}
	s.mention(t, rctest.OpsRoomID) // a later event: nothing more came for random meanwhile
	ops := s.subID(t, rctest.OpsRoomID)
	waitUntil(t, "ops", func() bool { return r.got.count(ActionUpdated, ops) == 1 })
	assert.Equal(t, 4, r.got.count(ActionUpdated, random), "each change once")
}

// TestRealtimeCatchUpAfterReconnect: changes made while the connection is
// down (the server refusing it meanwhile) arrive after the reconnection
// through the REST catch-up, each once; changes the stream delivered
// before the drop are not delivered again (they are in the catch-up's
// overlap window), and the stream works after it.
func TestRealtimeCatchUpAfterReconnect(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.options(zerolog.Nop())))
	r.connected(t, s, 1)
	random, ops := s.subID(t, rctest.RandomRoomID), s.subID(t, rctest.OpsRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random", func() bool { return r.got.count(ActionUpdated, random) == 1 })

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	s.mention(t, rctest.OpsRoomID)
	require.NoError(t, s.srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	nosub := s.subID(t, rctest.NoSubRoomID)
	s.srv.RefuseUpgrade(false)

	waitUntil(t, "the gap caught up", func() bool {
		return r.got.count(ActionUpdated, ops) == 1 && r.got.count(ActionInserted, nosub) == 1
	})
	r.connected(t, s, 2)
	s.mention(t, rctest.GeneralRoomID)
	general := s.subID(t, rctest.GeneralRoomID)
	waitUntil(t, "updated general", func() bool { return r.got.count(ActionUpdated, general) == 1 })
	assert.Equal(t, 1, r.got.count(ActionUpdated, random), "random once: the catch-up skipped it")
	assert.Equal(t, 1, r.got.count(ActionUpdated, ops))
	assert.Equal(t, 1, r.got.count(ActionInserted, nosub))
	assert.Len(t, ofKind(r.got, KindSubscription), 4)
	assert.Equal(t, 1, s.srv.DDPStats().SubsByStream[realtime.StreamNotifyUser]-1, "subscribed once per connection")
}

// TestRealtimeFallsBackToPolling: with the upgrade refused, Fallback
// polls (one warning saying why) and delivers through REST; once the
// upgrade works again, a retry switches back to the stream, and no change
// is lost or doubled across the switches.
func TestRealtimeFallsBackToPolling(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs))
	opts.Fallback, opts.Retry = true, 200*time.Millisecond
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	waitUntil(t, "polling", func() bool { return r.src.State() == StatePolling && s.polls() >= 2 })
	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random by polling", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	assert.Zero(t, s.srv.DDPStats().Sessions)

	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 1)
	before := s.polls()
	ops := s.subID(t, rctest.OpsRoomID)
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "updated ops by the stream", func() bool { return r.got.count(ActionUpdated, ops) == 1 })
	assert.LessOrEqual(t, s.polls(), before+1, "delivered by the stream (at most the switch's catch-up ran meanwhile)")
	assert.Equal(t, 1, r.got.count(ActionUpdated, random), "random once across the switch")
	assert.Len(t, ofKind(r.got, KindSubscription), 2)
	assert.Equal(t, 1, logs.count("realtime events unavailable: polling subscriptions.get instead"), "one warning")
	assert.Equal(t, 1, logs.count("websocket upgrade refused"), "it says why")
	assert.Equal(t, 1, logs.count("realtime events restored"))
}

// TestRealtimeLoginRefusedIsFatal: a login refused at a reconnection (a
// revoked token) ends Run with an error matching ErrLoginRefused and
// rc.ErrUnauthorized, whatever Fallback says.
func TestRealtimeLoginRefusedIsFatal(t *testing.T) {
	t.Parallel()
	for _, fallback := range []bool{false, true} {
		s := newRTServer(t)
		opts := s.options(zerolog.Nop())
		opts.Fallback = fallback
		r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
		r.connected(t, s, 1)
		s.srv.RefuseLogins(1000)
		s.srv.DropSessions()
		select {
		case err := <-r.done:
			require.Error(t, err)
			assert.ErrorIs(t, err, realtime.ErrLoginRefused)
			assert.ErrorIs(t, err, rc.ErrUnauthorized)
			r.done <- err
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not end")
		}
	}
}

// TestRealtimeLoginRefusedNotFatal: when Fatal says a refused login is not
// final (the daemon renews password sessions), Run goes on: it connects
// again and the stream delivers.
func TestRealtimeLoginRefusedNotFatal(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	opts := s.options(zerolog.Nop())
	opts.Poll.Fatal = func(error) bool { return false }
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	r.connected(t, s, 1)
	s.srv.RefuseLogins(1)
	s.srv.DropSessions()
	waitUntil(t, "refused, then logged in again", func() bool {
		st := s.srv.DDPStats()
		return st.LoginsRefused == 1 && st.Logins == 3
	})
	r.connected(t, s, 2)
	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	select {
	case err := <-r.done:
		t.Fatalf("Run ended: %v", err)
	default:
	}
}

// TestRealtimeBackpressure: emit blocking holds the source (nothing is
// dropped, nothing else emitted meanwhile), and the end of ctx ends Run.
func TestRealtimeBackpressure(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	src := NewRealtime(s.client.Subscriptions, s.options(zerolog.Nop()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	entered := make(chan Event, 10)
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, ev Event) error {
			entered <- ev
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && s.polls() >= 1 })
	s.mention(t, rctest.RandomRoomID)
	s.mention(t, rctest.OpsRoomID)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end with ctx")
	}
	assert.Empty(t, entered, "one event at a time: the second waited for the first")
}

// TestRealtimeFatalRESTFailure: a REST failure Fatal judges final (a 401)
// ends Run with it.
func TestRealtimeFatalRESTFailure(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.Fault("subscriptions.get", rctest.Fault{Status: 401, Times: 1})
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.options(zerolog.Nop())))
	select {
	case err := <-r.done:
		assert.True(t, errors.Is(err, rc.ErrUnauthorized), "err %v", err)
		r.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not end")
	}
}

// TestRealtimeLateCopyAfterCatchUp: a stream event older than the version
// a REST answer gave (sent before the answer was read) is skipped, until
// the stream reaches that version; from then on the stream's order wins,
// an older stamp included. The stream's own events are never skipped for
// their stamps.
func TestRealtimeLateCopyAfterCatchUp(t *testing.T) {
	t.Parallel()
	st := newPollState(&Poll{})
	st.fromREST = map[string]bool{}
	st.baselined = true
	got := &collector{}
	event := func(unread int, at time.Time) *realtime.Event {
		sub := fmt.Sprintf(`{"_id":"S1","rid":"R","t":"c","name":"r","u":{"_id":"B","username":"b"},"open":true,"alert":true,"unread":%d,"_updatedAt":{"$date":%d}}`,
			unread, at.UnixMilli())
		return &realtime.Event{Kind: realtime.Changed, Collection: realtime.StreamNotifyUser, Name: "B/subscriptions-changed",
			Args: []json.RawMessage{json.RawMessage(`"updated"`), json.RawMessage(sub)}}
	}
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	st.known["S1"] = t0.Add(2 * time.Second) // a catch-up's answer: version 2
	st.restSaw("S1")
	ctx := context.Background()
	require.NoError(t, st.stream(ctx, got.emit, event(1, t0.Add(time.Second))))
	assert.Empty(t, got.all(), "version 1 arrived after the answer gave version 2: a late copy")
	require.NoError(t, st.stream(ctx, got.emit, event(2, t0.Add(2*time.Second))))
	require.Len(t, got.all(), 1, "version 2 itself: the answer did not emit it in this test, the stream does")
	require.NoError(t, st.stream(ctx, got.emit, event(3, t0.Add(-time.Minute))))
	assert.Len(t, got.all(), 2, "after the stream reached the answer, an older stamp is a new change")
	require.NoError(t, st.stream(ctx, got.emit, event(4, t0.Add(-2*time.Minute))))
	assert.Len(t, got.all(), 3, "and again")
	require.NoError(t, st.stream(ctx, got.emit, event(4, t0.Add(-2*time.Minute))))
	assert.Len(t, got.all(), 3, "the same version twice is one event")
}

// realtimeBaselined returns a Realtime poll state whose baseline, read at
// t0, knows S1 from REST, with its fake server and what it emits.
func realtimeBaselined(t *testing.T) (time.Time, *fakeSubs, *pollState, *collector) {
	t.Helper()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	subs := newFakeSubs(0)
	subs.upsertAt("S1", t0)
	st := newPollState(NewPoll(subs, PollOptions{Interval: time.Second, Log: zerolog.Nop()}))
	st.fromREST = map[string]bool{}
	got := &collector{}
	st.poll(context.Background(), got.emit)
	require.True(t, st.baselined)
	require.True(t, st.fromREST["S1"])
	return t0, subs, st, got
}

// TestRealtimeLateCopyAfterRemovalInCatchUp: a catch-up's REST answer
// reports a subscription removed (its stream removal lost in the gap); a
// stream update of it sent before the removal and read after the answer
// is a late copy: the subscription does not come back. A stream change
// stamped after the removal (the bot joined again) does.
func TestRealtimeLateCopyAfterRemovalInCatchUp(t *testing.T) {
	t.Parallel()
	t0, subs, st, got := realtimeBaselined(t)
	ctx := context.Background()
	event := func(unread int, at time.Time) *realtime.Event {
		sub := fmt.Sprintf(`{"_id":"S1","rid":"room-S1","t":"c","name":"r","u":{"_id":"B","username":"b"},"open":true,"alert":true,"unread":%d,"_updatedAt":{"$date":%d}}`,
			unread, at.UnixMilli())
		return &realtime.Event{Kind: realtime.Changed, Collection: realtime.StreamNotifyUser, Name: "B/subscriptions-changed",
			Args: []json.RawMessage{json.RawMessage(`"updated"`), json.RawMessage(sub)}}
	}
	subs.mu.Lock()
	delete(subs.subs, "S1")
	subs.trash = append(subs.trash, rc.RemovedSubscription{ID: "S1", DeletedAt: t0.Add(2 * time.Second)})
	subs.mu.Unlock()
	st.poll(ctx, got.emit) // the catch-up after a gap: S1 was removed
	require.Len(t, got.all(), 1)
	assert.Equal(t, ActionRemoved, got.all()[0].Action)

	require.NoError(t, st.stream(ctx, got.emit, event(1, t0.Add(time.Second))))
	assert.Len(t, got.all(), 1, "an update sent before the removal, read after the answer: a late copy")
	_, known := st.known["S1"]
	assert.False(t, known, "S1 stays removed")

	require.NoError(t, st.stream(ctx, got.emit, event(0, t0.Add(3*time.Second))))
	require.Len(t, got.all(), 2, "a change stamped after the removal: the bot is back in the room")
	assert.Equal(t, ActionInserted, got.all()[1].Action)
}

// TestRealtimeAliveInCatchUpClearsRemoval: a catch-up that reports a
// subscription removed and a later one that gives it alive again (stamped
// no later than the removal: the server's clock stepped back) leave its
// stream changes news, not late copies of the removal.
func TestRealtimeAliveInCatchUpClearsRemoval(t *testing.T) {
	t.Parallel()
	t0, subs, st, got := realtimeBaselined(t)
	ctx := context.Background()
	subs.mu.Lock()
	delete(subs.subs, "S1")
	subs.trash = append(subs.trash, rc.RemovedSubscription{ID: "S1", DeletedAt: t0.Add(5 * time.Second)})
	subs.mu.Unlock()
	st.poll(ctx, got.emit) // a catch-up: S1 removed
	require.Contains(t, st.goneREST, "S1")
	subs.mu.Lock()
	subs.trash = nil
	subs.upsertAt("S1", t0.Add(2*time.Second)) // back, stamped before the removal
	subs.mu.Unlock()
	st.poll(ctx, got.emit) // a catch-up: S1 alive
	require.NotContains(t, st.goneREST, "S1", "alive in a later answer")
	n := len(got.all())
	sub := fmt.Sprintf(`{"_id":"S1","rid":"room-S1","t":"c","name":"r","u":{"_id":"B","username":"b"},"open":true,"alert":true,"unread":3,"_updatedAt":{"$date":%d}}`,
		t0.Add(3*time.Second).UnixMilli())
	ev := &realtime.Event{Kind: realtime.Changed, Collection: realtime.StreamNotifyUser, Name: "B/subscriptions-changed",
		Args: []json.RawMessage{json.RawMessage(`"updated"`), json.RawMessage(sub)}}
	require.NoError(t, st.stream(ctx, got.emit, ev))
	assert.Len(t, got.all(), n+1, "a stream change after the answer that gave S1 alive is delivered")
}
