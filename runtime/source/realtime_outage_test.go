package source

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// once asserts that every (kind, action, id) c got came once.
func once(t *testing.T, c *collector) {
	t.Helper()
	seen := map[string]int{}
	for _, ev := range c.all() {
		seen[fmt.Sprintf("%s %s %s", ev.Kind, ev.Action, ev.ID)]++
	}
	for k, n := range seen {
		assert.Equal(t, 1, n, "%s delivered once", k)
	}
}

const fallbackWarning = "realtime events unavailable: polling subscriptions.get instead"

// TestRealtimeDropRefusedFallsBack: under auto, a connection dropped
// whose reconnection's upgrade is refused (a proxy that stops passing
// websockets) falls back to polling, with one warning saying why: a
// subscription change made after the drop is delivered by polling, and
// the message posted with it is caught up once realtime is back ("events
// restored"); across both switches nothing is lost or doubled, and the
// stream delivers again afterwards.
func TestRealtimeDropRefusedFallsBack(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	logs := &logBuf{}
	opts := s.messageOpts(zerolog.New(logs).Level(zerolog.InfoLevel))
	opts.Fallback, opts.RetryMin, opts.Retry = true, 20*time.Millisecond, 100*time.Millisecond
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	r.connected(t, s, 1)
	random, ops := s.subID(t, rctest.RandomRoomID), s.subID(t, rctest.OpsRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random by the stream", func() bool { return r.got.count(ActionUpdated, random) == 1 })

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "polling", func() bool { return r.src.State() == StatePolling })
	assert.Equal(t, 1, logs.count(fallbackWarning), "one warning")
	assert.Equal(t, 1, logs.count("websocket upgrade refused"), "it says why")
	assert.Equal(t, 1, logs.count("connection lost"), "it says the connection was lost")

	msg := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "after the drop @"+rctest.BotUsername)
	require.NoError(t, s.srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	nosub := s.subID(t, rctest.NoSubRoomID)
	waitUntil(t, "the changes by polling", func() bool {
		return r.got.count(ActionUpdated, ops) == 1 && r.got.count(ActionInserted, nosub) == 1
	})
	assert.Empty(t, s.srv.Sessions(), "polling, no websocket")

	s.srv.RefuseUpgrade(false)
	waitUntil(t, "realtime restored, the message caught up", func() bool {
		return logs.count("realtime events restored") == 1 && r.src.State() == StateRealtime &&
			messages(r.got, ActionCreated, msg) == 1
	})
	general := s.subID(t, rctest.GeneralRoomID)
	later := s.post(t, rctest.BobUsername, rctest.GeneralRoomID, "later @"+rctest.BotUsername)
	waitUntil(t, "the stream again", func() bool {
		return messages(r.got, ActionCreated, later) == 1 && r.got.count(ActionUpdated, general) == 1
	})
	once(t, r.got)
	assert.Len(t, ofKind(r.got, KindSubscription), 4, "random, ops, nosub, general")
	assert.Len(t, ofKind(r.got, KindMessage), 3, "random's mention, msg, later")
	assert.Equal(t, 1, logs.count(fallbackWarning), "one warning all along")
}

// TestRealtimeDropUnreachableFallsBack: under auto, a connection dropped
// whose reconnections keep failing with a network error (not a refused
// upgrade) falls back once it has been down for Outage, after the
// client's own tries: polling delivers, and realtime comes back.
func TestRealtimeDropUnreachableFallsBack(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs).Level(zerolog.InfoLevel))
	opts.Fallback, opts.RetryMin, opts.Retry = true, 20*time.Millisecond, 100*time.Millisecond
	opts.Outage = 300 * time.Millisecond
	dials := s.countDials(&opts)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	r.connected(t, s, 1)

	dials.down.Store(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "polling", func() bool { return r.src.State() == StatePolling })
	assert.GreaterOrEqual(t, dials.n.Load(), int64(3), "the client tried to reconnect before the fallback")
	assert.Equal(t, 1, logs.count(fallbackWarning))
	assert.Equal(t, 1, logs.count("test: network unreachable"), "it says why")

	ops := s.subID(t, rctest.OpsRoomID)
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "updated ops by polling", func() bool { return r.got.count(ActionUpdated, ops) == 1 })
	dials.down.Store(false)
	waitUntil(t, "realtime restored", func() bool {
		return logs.count("realtime events restored") == 1 && r.src.State() == StateRealtime
	})
	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random by the stream", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	once(t, r.got)
	assert.Len(t, ofKind(r.got, KindSubscription), 2, "ops, random")
}

// TestRealtimeLongOutageWarnsOnce: under realtime (no fallback), a
// connection down for longer than Outage logs one warning with the last
// error (never the token), however many tries fail after it, does not
// poll, and logs one info line when it is back; the stream then
// delivers, and the gap is caught up.
func TestRealtimeLongOutageWarnsOnce(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs).Level(zerolog.InfoLevel))
	// Long against the reconnection tries (5 to 20 ms apart): by the
	// warning, a try has failed with the refusal it names (a loaded
	// machine once warned with the drop's error, before any try).
	opts.Outage = 500 * time.Millisecond
	dials := s.countDials(&opts)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	r.connected(t, s, 1)

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	const warning = "realtime events disconnected: no events until the connection is back"
	waitUntil(t, "the warning", func() bool { return logs.count(warning) == 1 })
	polls, tried := s.polls(), dials.n.Load()
	ops := s.subID(t, rctest.OpsRoomID)
	s.mention(t, rctest.OpsRoomID)
	waitUntil(t, "five more tries", func() bool { return dials.n.Load() >= tried+5 })
	assert.Equal(t, 1, logs.count(warning), "one warning per outage")
	assert.Equal(t, 1, logs.count("websocket upgrade refused"), "the warning gives the last error")
	assert.Equal(t, polls, s.polls(), "no polling")
	assert.Equal(t, StateConnecting, r.src.State())
	assert.Zero(t, r.got.count(ActionUpdated, ops))

	s.srv.RefuseUpgrade(false)
	waitUntil(t, "reconnected, the gap caught up", func() bool {
		return logs.count("realtime events reconnected") == 1 && r.got.count(ActionUpdated, ops) == 1
	})
	random := s.subID(t, rctest.RandomRoomID)
	s.mention(t, rctest.RandomRoomID)
	waitUntil(t, "updated random by the stream", func() bool { return r.got.count(ActionUpdated, random) == 1 })
	once(t, r.got)
	assert.Equal(t, 1, logs.count(warning))
	assert.Zero(t, logs.count(fallbackWarning), "never polls")
	assert.NotContains(t, logs.buf.String(), rctest.BotToken, "no secret in the logs")
}

// TestRealtimeBlipIsQuiet: under either mode, a drop that reconnects
// within Outage (here after two failed tries) logs nothing at info or
// above and does not fall back: the stream delivers again.
func TestRealtimeBlipIsQuiet(t *testing.T) {
	t.Parallel()
	for _, fallback := range []bool{true, false} {
		t.Run(fmt.Sprintf("fallback=%v", fallback), func(t *testing.T) {
			t.Parallel()
			s := newRTServer(t)
			logs := &logBuf{}
			opts := s.options(zerolog.New(logs).Level(zerolog.InfoLevel))
			opts.Fallback = fallback
			opts.Outage = time.Minute // a blip, however slow the machine
			dials := s.countDials(&opts)
			r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
			r.connected(t, s, 1)

			dials.down.Store(true)
			require.Equal(t, 1, s.srv.DropSessions())
			waitUntil(t, "two failed tries", func() bool { return dials.n.Load() >= 3 })
			dials.down.Store(false)
			r.connected(t, s, 2)
			random := s.subID(t, rctest.RandomRoomID)
			s.mention(t, rctest.RandomRoomID)
			waitUntil(t, "updated random by the stream", func() bool { return r.got.count(ActionUpdated, random) == 1 })
			assert.Equal(t, 2, s.polls(), "the baseline and the catch-up: no polling")
			logs.mu.Lock()
			defer logs.mu.Unlock()
			assert.Empty(t, logs.buf.String(), "nothing at info or above")
		})
	}
}

// TestRealtimeFirstConnectWarnsOnce: under realtime, a first connection
// that keeps failing logs one warning, not one per try, and one info
// line once it connects.
func TestRealtimeFirstConnectWarnsOnce(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs).Level(zerolog.InfoLevel))
	dials := s.countDials(&opts)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	waitUntil(t, "two tries refused", func() bool { return dials.n.Load() >= 2 })
	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 1)
	assert.Equal(t, 1, logs.count("realtime events unavailable: connecting again"), "one warning")
	assert.Equal(t, 1, logs.count("realtime events connected"))
}

// TestRealtimeFallbackPollsMessages: while auto polls (the upgrade refused
// from the start: a proxy without websockets), message events still come,
// at the poll's pace: a mention, a DM and a plain message in a room where
// the bot is already alerted, whose subscription it does not change
// (§2.7), so that only rooms.get tells it; each created once, an edit as
// updated. Once realtime is back, the stream delivers and nothing polled comes again.
func TestRealtimeFallbackPollsMessages(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64 // the server's clock runs ahead by it
	s := newRTServer(t, rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	s.srv.RefuseUpgrade(true)
	opts := s.messageOpts(zerolog.Nop())
	opts.Fallback, opts.RetryMin, opts.Retry = true, 20*time.Millisecond, 100*time.Millisecond
	src := NewRealtime(s.client.Subscriptions, opts)
	r := runRealtime(t, src)
	waitUntil(t, "polling", func() bool { return src.State() == StatePolling && s.polls() >= 2 })

	first := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "alerts the bot")
	mention := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "hello @"+rctest.BotUsername)
	dm := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "a DM")
	waitUntil(t, "the first round", func() bool {
		return messages(r.got, ActionCreated, first) == 1 && messages(r.got, ActionCreated, mention) == 1 &&
			messages(r.got, ActionCreated, dm) == 1
	})
	// Later, another room's change moves the cursor: #random's change is
	// then older than the overlap, so only the room tells of a new
	// message there.
	offset.Store(int64(time.Minute))
	later := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "later @"+rctest.BotUsername)
	waitUntil(t, "the later mention", func() bool { return messages(r.got, ActionCreated, later) == 1 })
	polls := s.polls()
	waitUntil(t, "rounds after it", func() bool { return s.polls() >= polls+3 })
	before, _ := s.srv.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	plain := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "plain, in the alerted room")
	after, _ := s.srv.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	require.Equal(t, before.UpdatedAt, after.UpdatedAt, "the alerted subscription did not change")
	waitUntil(t, "the plain message by polling", func() bool { return messages(r.got, ActionCreated, plain) == 1 })

	alice, err := rc.New(s.srv.URL, rc.WithToken(rctest.AliceUserID, rctest.AliceToken))
	require.NoError(t, err)
	defer alice.HTTPClient().CloseIdleConnections()
	_, err = alice.Chat.Update(context.Background(), &rc.UpdateMessage{RoomID: rctest.DMAliceRoomID, MessageID: dm, Text: "a DM, edited"})
	require.NoError(t, err)
	waitUntil(t, "the edit", func() bool { return messages(r.got, ActionUpdated, dm) == 1 })
	assert.Empty(t, s.srv.Sessions(), "polling, no websocket")
	polled := len(ofKind(r.got, KindMessage))

	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 1)
	last := s.post(t, rctest.BobUsername, rctest.GeneralRoomID, "last @"+rctest.BotUsername)
	waitUntil(t, "the stream", func() bool { return messages(r.got, ActionCreated, last) == 1 })
	assert.Len(t, ofKind(r.got, KindMessage), polled+1, "nothing polled comes again at the switch")
	for _, ev := range ofKind(r.got, KindMessage) {
		assert.Equal(t, 1, messages(r.got, ev.Action, ev.ID), "message %s %s once", ev.Action, ev.ID)
	}
}

// TestRealtimeFallbackSkipsALeftRoom: while polling, a public channel the
// bot left (its subscription removed) is not read, as the stream gives no
// message of a room the bot is not in; joined again, it is.
func TestRealtimeFallbackSkipsALeftRoom(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	opts := s.messageOpts(zerolog.Nop())
	opts.Fallback, opts.RetryMin, opts.Retry = true, time.Hour, time.Hour
	src := NewRealtime(s.client.Subscriptions, opts)
	r := runRealtime(t, src)
	waitUntil(t, "polling", func() bool { return src.State() == StatePolling && s.polls() >= 2 })
	random := s.subID(t, rctest.RandomRoomID)
	first := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "while a member")
	waitUntil(t, "the member's message", func() bool { return messages(r.got, ActionCreated, first) == 1 })

	require.NoError(t, s.srv.RemoveSubscription(rctest.BotUsername, rctest.RandomRoomID))
	waitUntil(t, "the removal", func() bool { return r.got.count(ActionRemoved, random) == 1 })
	left := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after the bot left")
	marker := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "a DM after it")
	waitUntil(t, "the DM", func() bool { return messages(r.got, ActionCreated, marker) == 1 })
	polls := s.polls()
	waitUntil(t, "more rounds", func() bool { return s.polls() >= polls+2 })
	assert.Zero(t, messages(r.got, ActionCreated, left), "not a member: not delivered")

	require.NoError(t, s.srv.AddSubscription(rctest.BotUsername, rctest.RandomRoomID))
	again := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "joined again")
	waitUntil(t, "the message after joining again", func() bool { return messages(r.got, ActionCreated, again) == 1 })
	assert.Zero(t, messages(r.got, ActionCreated, left), "still not")
}

// TestLeftRoomsRejoinedInOnePoll: a room left and joined again between two
// polls comes in one answer, the new subscription among the updates and
// the old one among the removals: the room is not marked left (its
// messages after the rejoin are read), and a room left for good is.
func TestLeftRoomsRejoinedInOnePoll(t *testing.T) {
	t.Parallel()
	st := newPollState(NewPoll(nil, PollOptions{}))
	st.rooms = map[string]time.Time{}
	joined := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	st.alive(&rc.Subscription{ID: "s1", RoomID: "R", TS: joined})
	st.alive(&rc.Subscription{ID: "t1", RoomID: "T", TS: joined})
	// One poll: the updates first (the new subscription), then the removals.
	st.alive(&rc.Subscription{ID: "s2", RoomID: "R", TS: joined.Add(time.Hour)})
	st.gone("s1")
	st.gone("t1")
	assert.NotContains(t, st.left, "R", "joined again")
	assert.Equal(t, joined.Add(time.Hour), st.joined["R"], "since the new subscription")
	assert.Contains(t, st.left, "T", "left for good")

	// Later polls return s2 again (its room's unread, ...): still one
	// subscription in R, so its removal leaves R.
	st.alive(&rc.Subscription{ID: "s2", RoomID: "R", TS: joined.Add(time.Hour)})
	st.alive(&rc.Subscription{ID: "s2", RoomID: "R", TS: joined.Add(time.Hour)})
	st.gone("s2")
	st.gone("s2") // a removal repeated
	assert.Contains(t, st.left, "R", "left once its only subscription is removed")
	assert.Empty(t, st.subsIn, "no count kept for rooms without a subscription")
}

// TestLeftRoomsAcrossARestart: the rooms a restart catches up are saved
// with the bot's subscription of each, so that a removal after the
// restart still marks its room left and the joined time still filters.
func TestLeftRoomsAcrossARestart(t *testing.T) {
	t.Parallel()
	r := NewRealtime(nil, RealtimeOptions{})
	before := &rtRun{r: r, st: newPollState(r.poll), ms: newMsgState("bot", time.Minute)}
	before.st.rooms = map[string]time.Time{}
	joined := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	before.st.alive(&rc.Subscription{ID: "s1", RoomID: "R", TS: joined})
	before.st.alive(&rc.Subscription{ID: "s2", RoomID: "Q", TS: joined})
	before.st.rooms["R"] = joined.Add(time.Minute) // changed: caught up after a restart
	saved := before.savedMessages()
	require.Equal(t, map[string]savedRoomSub{"R": {Sub: "s1", Joined: joined.UnixNano()}}, saved.Subs, "only the rooms to catch up")

	after := &rtRun{r: r, st: newPollState(r.poll), ms: newMsgState("bot", time.Minute)}
	after.st.rooms = map[string]time.Time{}
	after.restoreMessages(&savedCursor{Messages: saved})
	assert.Equal(t, joined, after.st.joined["R"])
	after.st.gone("s1")
	assert.Contains(t, after.st.left, "R", "a removal after the restart")
	_, kept := after.st.rooms["R"]
	assert.False(t, kept, "not caught up any more")
}

// TestRealtimeFallbackRoomsRefusedQuietly: a server that always refuses
// rooms.get, polled: after the first refusals the catch-up does without
// it, probing it again after each pause without holding a round back or
// warning again; the mentions still come.
func TestRealtimeFallbackRoomsRefusedQuietly(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.messageOpts(zerolog.New(logs))
	opts.Rooms = refusedRooms{status: 404}
	opts.Fallback, opts.RetryMin, opts.Retry = true, time.Hour, time.Hour
	opts.Resync = 30 * time.Millisecond // the pause before a probe
	src := NewRealtime(s.client.Subscriptions, opts)
	r := runRealtime(t, src)
	waitUntil(t, "polling", func() bool { return src.State() == StatePolling && s.polls() >= 2 })
	for i := range 5 {
		m := s.post(t, rctest.BobUsername, rctest.OpsRoomID, fmt.Sprintf("mention %d @%s", i, rctest.BotUsername))
		waitUntil(t, "the mention", func() bool { return messages(r.got, ActionCreated, m) == 1 })
		polls := s.polls()
		waitUntil(t, "rounds with probes", func() bool { return s.polls() >= polls+3 })
	}
	assert.Equal(t, 1, logs.count("the server refuses rooms.get"), "warned once")
	assert.Equal(t, 1, logs.count("rooms.get refused: retrying"), "the first refusal only")
	assert.Greater(t, logs.count("rooms.get still refused"), 0, "probed again after the pauses")
}

// TestLeftRoomsBounded: the rooms the bot left are remembered up to
// maxLeft: past it the ones left longest ago are forgotten, the latest
// kept (a bot passing through many rooms grew the map for good).
func TestLeftRoomsBounded(t *testing.T) {
	t.Parallel()
	st := newPollState(NewPoll(nil, PollOptions{}))
	st.rooms = map[string]time.Time{}
	for i := range 3 * maxLeft {
		id := fmt.Sprintf("s%d", i)
		st.alive(&rc.Subscription{ID: id, RoomID: fmt.Sprintf("R%d", i)})
		st.gone(id)
		require.LessOrEqual(t, len(st.left), maxLeft)
	}
	assert.Contains(t, st.left, fmt.Sprintf("R%d", 3*maxLeft-1), "the latest kept")
	assert.Contains(t, st.left, fmt.Sprintf("R%d", 3*maxLeft-maxLeft/2), "the latest half kept")
	assert.NotContains(t, st.left, "R0", "the oldest forgotten")
	assert.Empty(t, st.roomOf)
}

// TestGoneRESTBounded: the removals a REST answer reported are remembered
// up to maxLeft: past it those stamped earliest are forgotten, whatever
// order the answers gave them in, so the latest half are always kept (the
// map was once cleared whole when full, forgetting the removal just
// read).
func TestGoneRESTBounded(t *testing.T) {
	t.Parallel()
	st := newPollState(NewPoll(nil, PollOptions{}))
	st.fromREST = map[string]bool{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 3 * maxLeft
	for i := range n {
		j := (i * 7919) % n // not in stamp order
		st.restRemoved(rc.RemovedSubscription{ID: fmt.Sprintf("S%d", j), DeletedAt: t0.Add(time.Duration(j) * time.Millisecond)})
		require.LessOrEqual(t, len(st.goneREST), maxLeft)
	}
	for j := n - maxLeft/2; j < n; j++ {
		if _, ok := st.goneREST[fmt.Sprintf("S%d", j)]; !ok {
			t.Fatalf("S%d forgotten, though among the %d removals stamped latest", j, maxLeft/2)
		}
	}
	assert.NotContains(t, st.goneREST, "S0", "the earliest forgotten")

	// A burst of removals sharing one stamp: half kept, not all forgotten
	// with the cut's ties.
	st.goneREST = nil
	for i := range maxLeft + 1 {
		st.restRemoved(rc.RemovedSubscription{ID: fmt.Sprintf("B%d", i), DeletedAt: t0})
	}
	assert.Len(t, st.goneREST, maxLeft/2, "removals of one millisecond")
}
