package source

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// post posts text in room as username (a rctest helper: no request).
func (s *rtServer) post(t *testing.T, username, room, text string) string {
	t.Helper()
	m, err := s.srv.PostMessage(username, room, text)
	require.NoError(t, err)
	return m.ID
}

// messageOpts are the test's options with the message catch-up on.
func (s *rtServer) messageOpts(log zerolog.Logger) RealtimeOptions {
	o := s.options(log)
	o.History = s.client.Chat
	o.Rooms = s.client.Rooms
	return o
}

// messages counts the message events of action about id.
func messages(c *collector, action, id string) int {
	n := 0
	for _, ev := range ofKind(c, KindMessage) {
		if ev.Action == action && ev.ID == id {
			n++
		}
	}
	return n
}

// TestRealtimeMessageEvents: a new message in a room the bot is in is
// "created" with the JSON REST returns for it; the bot's own messages and
// those of a public room it is not in never come; a thread reply comes
// with its tmid, and the thread's parent sent again with its counters is
// "updated", never a second "created".
func TestRealtimeMessageEvents(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.messageOpts(zerolog.Nop())))
	r.connected(t, s, 1)

	hello := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "hello")
	waitUntil(t, "hello", func() bool { return messages(r.got, ActionCreated, hello) == 1 })
	res, err := s.client.Chat.SyncMessages(context.Background(), rctest.RandomRoomID, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	var rest []byte
	for _, m := range res.Updated {
		if m.ID == hello {
			rest = m.Raw
		}
	}
	got := ofKind(r.got, KindMessage)
	require.Len(t, got, 1)
	assert.Equal(t, string(rest), string(got[0].Raw), "the JSON chat.syncMessages returns")

	s.post(t, rctest.BotUsername, rctest.RandomRoomID, "the bot's own")
	s.post(t, rctest.AliceUsername, rctest.NoSubRoomID, "in a room the bot is not in")
	alice, err := rc.New(s.srv.URL, rc.WithToken(rctest.AliceUserID, rctest.AliceToken))
	require.NoError(t, err)
	defer alice.HTTPClient().CloseIdleConnections()
	reply, err := alice.Chat.PostMessage(context.Background(), &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "a reply", ThreadID: hello})
	require.NoError(t, err)
	waitUntil(t, "the reply and the parent again", func() bool {
		return messages(r.got, ActionCreated, reply.ID) == 1 && messages(r.got, ActionUpdated, hello) == 1
	})
	last := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "last")
	waitUntil(t, "last", func() bool { return messages(r.got, ActionCreated, last) == 1 })

	got = ofKind(r.got, KindMessage)
	assert.Len(t, got, 4, "hello, the reply, hello updated, last: nothing else")
	for _, ev := range got {
		var m struct {
			TMID string `json:"tmid"`
		}
		require.NoError(t, json.Unmarshal(ev.Raw, &m))
		if ev.ID == reply.ID {
			assert.Equal(t, hello, m.TMID, "the reply carries its thread")
		}
	}
	assert.Equal(t, 1, messages(r.got, ActionCreated, hello))
}

// TestRealtimeMessageCatchUp: messages posted while the connection is
// down, in rooms whose subscription they changed, arrive after the
// reconnection through chat.syncMessages, each once, before the events
// that follow; a message the stream delivered before the drop is not
// delivered again.
func TestRealtimeMessageCatchUp(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.messageOpts(zerolog.Nop())))
	r.connected(t, s, 1)
	before := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "before @"+rctest.BotUsername)
	waitUntil(t, "before", func() bool { return messages(r.got, ActionCreated, before) == 1 })

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	inOps := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "during @"+rctest.BotUsername)
	inDM := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "a DM during the gap")
	s.srv.RefuseUpgrade(false)

	r.connected(t, s, 2)
	after := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "after")
	waitUntil(t, "after", func() bool { return messages(r.got, ActionCreated, after) == 1 })
	assert.Equal(t, 1, messages(r.got, ActionCreated, inOps), "caught up once")
	assert.Equal(t, 1, messages(r.got, ActionCreated, inDM), "caught up once")
	assert.Equal(t, 1, messages(r.got, ActionCreated, before), "not delivered again")
	ids := []string{}
	for _, ev := range ofKind(r.got, KindMessage) {
		ids = append(ids, ev.ID)
	}
	require.Len(t, ids, 4)
	assert.Equal(t, before, ids[0])
	assert.ElementsMatch(t, []string{inOps, inDM}, ids[1:3])
	assert.Equal(t, after, ids[3], "the catch-up came before the events after it")
}

// TestRealtimeCatchUpSoonAfterStartKeepsTheBaseline: a message posted two
// seconds before the first start (more than the Date header's second of
// resolution) is part of the baseline: a reconnection
// moments later catches up the rooms changed meanwhile without
// delivering it as created (it was, inside the baseline's overlap).
func TestRealtimeCatchUpSoonAfterStartKeepsTheBaseline(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	s := newRTServer(t, rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	offset.Store(int64(-2 * time.Second))
	pre := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "before the start @"+rctest.BotUsername)
	offset.Store(0)
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.messageOpts(zerolog.Nop())))
	r.connected(t, s, 1)
	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	during := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "during @"+rctest.BotUsername)
	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 2)
	waitUntil(t, "the gap caught up", func() bool { return messages(r.got, ActionCreated, during) == 1 })
	assert.Zero(t, messages(r.got, ActionCreated, pre), "a message of before the start is not new")
}

// TestRealtimeMessageCatchUpOrder: the messages caught up after a gap come
// in the order they were posted, across rooms and within one millisecond
// of one room (the server lists a room newest first).
func TestRealtimeMessageCatchUpOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var frozen time.Time // the server's clock stands still while set
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if !frozen.IsZero() {
			return frozen
		}
		return time.Now()
	}
	freeze := func(on bool) {
		mu.Lock()
		defer mu.Unlock()
		frozen = time.Time{}
		if on {
			frozen = time.Now()
		}
	}
	// nextMilli waits until the server's clock is in a later millisecond
	// than the last message posted.
	nextMilli := func() {
		last := clock().Truncate(time.Millisecond)
		waitUntil(t, "a later millisecond", func() bool { return clock().Truncate(time.Millisecond).After(last) })
	}
	s := newRTServer(t, rctest.WithClock(clock))
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, s.messageOpts(zerolog.Nop())))
	r.connected(t, s, 1)
	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	var posted []string
	for round := range 3 {
		freeze(true) // five messages of one millisecond in one room...
		for i := range 5 {
			posted = append(posted, s.post(t, rctest.BobUsername, rctest.OpsRoomID, fmt.Sprintf("ops %d.%d @%s", round, i, rctest.BotUsername)))
		}
		freeze(false)
		nextMilli()
		// ...then one in a room listed before it
		posted = append(posted, s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, fmt.Sprintf("dm %d", round)))
		nextMilli()
	}
	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 2)
	waitUntil(t, "the catch-up", func() bool { return len(ofKind(r.got, KindMessage)) >= len(posted) })
	var got []string
	for _, ev := range ofKind(r.got, KindMessage) {
		got = append(got, ev.ID)
	}
	assert.Equal(t, posted, got, "the order they were posted in")
}

// TestRealtimeMessageCatchUpWindow: after a gap longer than the catch-up
// window, the messages older than the window are skipped, with one log
// line, and later ones arrive.
func TestRealtimeMessageCatchUpWindow(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	srv := rctest.NewServer(rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
	t.Cleanup(srv.Close)
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	t.Cleanup(client.HTTPClient().CloseIdleConnections)
	s := &rtServer{srv: srv, client: client}
	logs := &logBuf{}
	r := runRealtime(t, NewRealtime(client.Subscriptions, s.messageOpts(zerolog.New(logs))))
	r.connected(t, s, 1)

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	old := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "during @"+rctest.BotUsername)
	offset.Store(int64(time.Hour)) // the gap lasts an hour
	s.srv.RefuseUpgrade(false)

	r.connected(t, s, 2)
	after := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "after @"+rctest.BotUsername)
	waitUntil(t, "after", func() bool { return messages(r.got, ActionCreated, after) == 1 })
	assert.Zero(t, messages(r.got, ActionCreated, old), "older than the window")
	assert.Len(t, ofKind(r.got, KindMessage), 1)
	assert.Equal(t, 1, logs.count("the gap is longer than the catch-up window"))
}

// TestMessageStateActions: the first state of a message created since the
// floor is "created"; a later version (an edit) is "updated", the same
// version or an older one nothing; a change of a message older than the
// floor is "updated".
func TestMessageStateActions(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	ms := newMsgState("bot", time.Minute)
	ms.since = now.Add(-time.Hour)
	got := &collector{}
	msg := func(id, uid string, ts, updated time.Time) *rc.Message {
		return &rc.Message{ID: id, TS: ts, UpdatedAt: updated, User: rc.UserRef{ID: uid}, Raw: json.RawMessage(`{}`)}
	}
	ctx := context.Background()
	const stream, rest = false, true
	require.NoError(t, ms.offer(ctx, got.emit, msg("m1", "u", now, now), now, stream))
	require.NoError(t, ms.offer(ctx, got.emit, msg("m1", "u", now, now), now, rest))                         // again, from a catch-up
	require.NoError(t, ms.offer(ctx, got.emit, msg("m1", "u", now, now.Add(time.Second)), now, rest))        // edited
	require.NoError(t, ms.offer(ctx, got.emit, msg("m1", "u", now, now.Add(time.Millisecond)), now, stream)) // a late copy: older than the answer
	require.NoError(t, ms.offer(ctx, got.emit, msg("m2", "u", now.Add(-time.Hour), now), now, stream))       // old, changed
	require.NoError(t, ms.offer(ctx, got.emit, msg("m3", "bot", now, now), now, stream))                     // own
	assert.Equal(t, 1, got.count(ActionCreated, "m1"))
	assert.Equal(t, 1, got.count(ActionUpdated, "m1"))
	assert.Equal(t, 1, got.count(ActionUpdated, "m2"))
	assert.Len(t, got.all(), 3)
	// Among stream events the stream's order wins: an edit stamped before
	// the last (a server clock stepped back) is a change.
	require.NoError(t, ms.offer(ctx, got.emit, msg("m2", "u", now.Add(-time.Hour), now.Add(-time.Minute)), now, stream))
	assert.Equal(t, 2, got.count(ActionUpdated, "m2"))
	require.NoError(t, ms.offer(ctx, got.emit, msg("m2", "u", now.Add(-time.Hour), now.Add(-time.Minute)), now, rest))
	require.NoError(t, ms.offer(ctx, got.emit, msg("m2", "u", now.Add(-time.Hour), now.Add(-2*time.Minute)), now, rest))
	assert.Equal(t, 2, got.count(ActionUpdated, "m2"), "an answer with the same version, or an older one, is old news")

	// A catch-up's version, then the stream's copy of it: the stream has
	// reached it, so a later stream edit stamped before it is a change.
	require.NoError(t, ms.offer(ctx, got.emit, msg("m4", "u", now, now.Add(2*time.Second)), now, rest))
	require.NoError(t, ms.offer(ctx, got.emit, msg("m4", "u", now, now.Add(2*time.Second)), now, stream))
	require.NoError(t, ms.offer(ctx, got.emit, msg("m4", "u", now, now.Add(-8*time.Second)), now, stream))
	assert.Equal(t, 1, got.count(ActionUpdated, "m4"), "the edit after the stream caught up")

	ms.prune(now.Add(2 * time.Minute))
	assert.NotContains(t, ms.latest, "m1", "forgotten once older than the window")
	require.NoError(t, ms.offer(ctx, got.emit, msg("m1", "u", now, now.Add(time.Hour)), now.Add(2*time.Minute), stream))
	assert.Equal(t, 1, got.count(ActionCreated, "m1"), "never created twice")
}

// TestRealtimeMessageFlood: 10,000 messages posted while emit is blocked
// (a slow handler) all arrive, each once, in order, after it unblocks.
// Meanwhile the client holds at most its channel's capacity (rc/realtime's
// own tests bound it); the rest waits in the network buffers and on the
// server.
func TestRealtimeMessageFlood(t *testing.T) {
	t.Parallel()
	const n = 10000
	s := newRTServer(t)
	src := NewRealtime(s.client.Subscriptions, s.messageOpts(zerolog.Nop()))
	gate := make(chan struct{})
	got := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(ctx context.Context, ev Event) error {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			return got.emit(ctx, ev)
		})
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitUntil(t, "stream and baseline", func() bool { return src.State() == StateRealtime && s.polls() >= 1 })
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s.post(t, rctest.BobUsername, rctest.GeneralRoomID, "flood")
	}
	assert.Empty(t, got.all(), "nothing passed the blocked emit")
	close(gate)
	waitUntil(t, "every message", func() bool { return len(ofKind(got, KindMessage)) >= n })
	msgs := ofKind(got, KindMessage)
	require.Len(t, msgs, n)
	for i, ev := range msgs {
		require.Equal(t, ids[i], ev.ID, "message %d in order", i)
		require.Equal(t, ActionCreated, ev.Action)
	}
}

// refusingHistory answers chat.syncMessages as the server does for a
// room the bot may no longer read (it left it): 400 error-not-allowed.
type refusingHistory struct {
	MessageHistory
	room string
}

func (h refusingHistory) SyncMessages(ctx context.Context, roomID string, lastUpdate time.Time) (*rc.SyncMessagesResult, error) {
	if roomID == h.room {
		return nil, &rc.Error{Endpoint: "chat.syncMessages", Status: 400, Message: "Not allowed", Type: "error-not-allowed"}
	}
	return h.MessageHistory.SyncMessages(ctx, roomID, lastUpdate)
}

// TestRealtimeCatchUpSkipsARoomItMayNotRead: a room the catch-up may not
// read any more (the bot left it) is skipped with a warning, and the other
// rooms' messages still arrive: the catch-up does not ask again for ever.
func TestRealtimeCatchUpSkipsARoomItMayNotRead(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	logs := &logBuf{}
	o := s.messageOpts(zerolog.New(logs))
	o.History = refusingHistory{MessageHistory: s.client.Chat, room: rctest.DMAliceRoomID}
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, o))
	r.connected(t, s, 1)

	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
	inDM := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "a DM during the gap") // sorts before ops
	inOps := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "during @"+rctest.BotUsername)
	s.srv.RefuseUpgrade(false)

	r.connected(t, s, 2)
	waitUntil(t, "the other room's message", func() bool { return messages(r.got, ActionCreated, inOps) == 1 })
	assert.Zero(t, messages(r.got, ActionCreated, inDM))
	assert.Equal(t, 1, logs.count("the bot cannot read this room any more: skipped"))
}

// TestRealtimeMessageCatchUpAlertedRoom: a plain message posted during a
// gap in a room where the bot is already alerted changes the room, not the
// bot's subscription (facts §2.7): it is caught up (rooms.get lists the
// room), once. Without the room list it is lost once the subscription's
// last change is older than the overlap (the second gap here); a server
// without rooms.get (404) is warned about once, and the rooms whose
// subscription changed are still caught up.
func TestRealtimeMessageCatchUpAlertedRoom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		rooms func(s *rtServer) RoomChanges
		plain int // deliveries of the second gap's plain message
	}{
		{"rooms.get", func(s *rtServer) RoomChanges { return s.client.Rooms }, 1},
		{"no rooms.get", func(*rtServer) RoomChanges { return refusedRooms{status: 404} }, 0},
		{"rooms.get forbidden", func(*rtServer) RoomChanges { return refusedRooms{status: 403} }, 0},
		// A blip (a proxy's 404 during a deploy) at the second gap's
		// catch-up: retried, so nothing is lost.
		{"rooms.get refused once", func(s *rtServer) RoomChanges { return &blipRooms{next: s.client.Rooms, refuse: 2} }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var offset atomic.Int64 // the server's clock runs ahead by it
			s := newRTServer(t, rctest.WithClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }))
			logs := &logBuf{}
			o := s.messageOpts(zerolog.New(logs))
			o.Rooms = tc.rooms(s)
			r := runRealtime(t, NewRealtime(s.client.Subscriptions, o))
			r.connected(t, s, 1)
			first := s.post(t, rctest.BobUsername, rctest.RandomRoomID, "alerts the bot")
			waitUntil(t, "first", func() bool { return messages(r.got, ActionCreated, first) == 1 })
			before, ok := s.srv.Subscription(rctest.BotUsername, rctest.RandomRoomID)
			require.True(t, ok)
			require.True(t, before.Alert)
			offset.Store(int64(time.Minute)) // the subscription's change is now older than the overlap

			var plains []string
			for round := 1; round <= 2; round++ {
				s.srv.RefuseUpgrade(true)
				require.Equal(t, 1, s.srv.DropSessions())
				waitUntil(t, "disconnected", func() bool { return r.src.State() == StateConnecting })
				plains = append(plains, s.post(t, rctest.BobUsername, rctest.RandomRoomID, "plain, during the gap"))
				mention := s.post(t, rctest.BobUsername, rctest.OpsRoomID, "during @"+rctest.BotUsername)
				after, _ := s.srv.Subscription(rctest.BotUsername, rctest.RandomRoomID)
				require.Equal(t, before.UpdatedAt, after.UpdatedAt, "the alerted subscription did not change")
				s.srv.RefuseUpgrade(false)

				r.connected(t, s, 1+round)
				waitUntil(t, "the mention", func() bool { return messages(r.got, ActionCreated, mention) == 1 })
				marker := s.post(t, rctest.AliceUsername, rctest.DMAliceRoomID, "after")
				waitUntil(t, "after", func() bool { return messages(r.got, ActionCreated, marker) == 1 })
			}
			// The first gap still had the room from the subscription's
			// change (within the overlap of the messages read).
			assert.Equal(t, 1, messages(r.got, ActionCreated, plains[0]), "the first gap's plain message")
			assert.Equal(t, tc.plain, messages(r.got, ActionCreated, plains[1]), "the second gap's plain message")
			assert.Equal(t, 1, messages(r.got, ActionCreated, first), "never again")
			if tc.plain == 0 {
				assert.Equal(t, 1, logs.count("the server refuses rooms.get"), "warned once")
			} else {
				assert.Zero(t, logs.count("the server refuses rooms.get"))
			}
		})
	}
}

// blipRooms refuses the refuse-th call of rooms.get with a 404, and
// answers every other one from next.
type blipRooms struct {
	next   RoomChanges
	refuse int64
	calls  atomic.Int64
}

func (b *blipRooms) Get(ctx context.Context, since time.Time) (*rc.RoomsResult, error) {
	if b.calls.Add(1) == b.refuse {
		return nil, &rc.Error{Endpoint: "rooms.get", Status: 404, Message: "Not Found"}
	}
	return b.next.Get(ctx, since)
}

// refusedRooms is a server that refuses rooms.get with status: an old
// one without it (404), a proxy's allow list (403).
type refusedRooms struct{ status int }

func (r refusedRooms) Get(context.Context, time.Time) (*rc.RoomsResult, error) {
	return nil, &rc.Error{Endpoint: "rooms.get", Status: r.status, Message: http.StatusText(r.status)}
}
