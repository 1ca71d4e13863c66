package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime/source"
)

// Issue 9 items 6, 7 and 8: events through the real poller, rc client,
// rctest server, host and Lua scripts are neither lost nor doubled.

// rcHost is a host running script against srv through a real client and
// poller; pollLogs holds the poller's log.
type rcHost struct {
	*testHost
	srv      *rctest.Server
	pollLogs *logSink
}

func startRCHost(t *testing.T, srv *rctest.Server, interval time.Duration, cfg Config, script string) *rcHost {
	t.Helper()
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	pollLogs := &logSink{}
	poll := source.NewPoll(client.Subscriptions, source.PollOptions{Interval: interval, Log: zerolog.New(pollLogs)})
	deps := Deps{Module: luabind.FromClient(client, zerolog.Nop()), Sources: []source.Source{poll}}
	th := startHostDeps(t, cfg, deps, map[string]string{"l.lua": script})
	th.logs.eventually(t, waitFor, func() bool { return subscriptionPolls(srv) >= 2 }, "baseline and one poll")
	return &rcHost{testHost: th, srv: srv, pollLogs: pollLogs}
}

// morePolls waits until n more polls were answered.
func (rh *rcHost) morePolls(n int) { rh.morePollsWithin(n, waitFor) }

// morePollsWithin is morePolls with its own deadline (a poll of thousands
// of subscriptions takes seconds under -race on a loaded machine).
func (rh *rcHost) morePollsWithin(n int, timeout time.Duration) {
	rh.t.Helper()
	start := subscriptionPolls(rh.srv)
	rh.logs.eventually(rh.t, timeout, func() bool { return subscriptionPolls(rh.srv) >= start+n }, fmt.Sprintf("%d more polls", n))
}

func (rh *rcHost) subID(roomID string) string {
	rh.t.Helper()
	s, ok := rh.srv.Subscription(rctest.BotUsername, roomID)
	require.True(rh.t, ok, "the bot's subscription of %s", roomID)
	return s.ID
}

// countBytes counts sub in the raw log without parsing it (cheap enough
// to poll with thousands of lines).
func (s *logSink) countBytes(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Count(s.buf.Bytes(), []byte(sub))
}

// TestFutureDatedSubscriptionKeepsLaterChanges (item 6): a subscription
// dated a day ahead of the server's clock does not carry the poller's
// cursor there; later real changes (an insert, updates, a removal, and a
// real change of the future-dated one) each reach the handler once, and
// the anomaly is logged once, not per poll.
func TestFutureDatedSubscriptionKeepsLaterChanges(t *testing.T) {
	t.Parallel()
	srv := rctest.NewServer()
	t.Cleanup(srv.Close)
	rh := startRCHost(t, srv, 20*time.Millisecond, Config{}, listener)
	random := rh.subID(rctest.RandomRoomID)
	require.NoError(t, srv.SetSubscriptionUpdatedAt(rctest.BotUsername, rctest.RandomRoomID, time.Now().Add(24*time.Hour)))
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("updated", random) == 1 }, "the future-dated change")

	require.NoError(t, srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
	nosub := rh.subID(rctest.NoSubRoomID)
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("inserted", nosub) == 1 }, "a later insert")
	general := rh.subID(rctest.GeneralRoomID)
	_, err := srv.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" ping")
	require.NoError(t, err)
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("updated", general) == 1 }, "a later update")
	empty := rh.subID(rctest.EmptyRoomID)
	require.NoError(t, srv.RemoveSubscription(rctest.BotUsername, rctest.EmptyRoomID))
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("removed", empty) == 1 }, "a later removal")
	_, err = srv.PostMessage(rctest.AliceUsername, rctest.RandomRoomID, "@"+rctest.BotUsername+" and you?")
	require.NoError(t, err)
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("updated", random) == 2 }, "a real change of the future-dated one")

	rh.morePolls(10) // every poll returns the future-dated subscription
	assert.Equal(t, 2, rh.events("updated", random), "the future-dated subscription: its two changes, once each")
	assert.Equal(t, 1, rh.events("updated", general))
	assert.Equal(t, 5, rh.logs.count("event"), "no other event")
	assert.Equal(t, 1, rh.pollLogs.count("a subscription is dated after the response's Date header (a future-dated subscription, or a proxy whose clock is behind the server's): the cursor stays at the Date (logged once)",
		"subscription", random), "the anomaly logged once, naming the subscription:\n%s", rh.pollLogs.String())
}

// mentionsListener logs each event with the subscription's userMentions.
const mentionsListener = `rc.on("subscription", function(action, sub)
  rc.log.info("event", {action = action, id = sub._id, mentions = sub.userMentions})
end)
`

// TestSameMillisecondChangesBothArrive (item 7): on a server whose clock
// stands still, two different changes of one subscription carry the same
// _updatedAt; both reach the handler, each with its own state, and the
// re-reads of every later poll (the same state again) reach it never.
func TestSameMillisecondChangesBothArrive(t *testing.T) {
	t.Parallel()
	frozen := time.Now().UTC().Truncate(time.Millisecond)
	srv := rctest.NewServer(rctest.WithClock(func() time.Time { return frozen }))
	t.Cleanup(srv.Close)
	rh := startRCHost(t, srv, 20*time.Millisecond, Config{}, mentionsListener)
	general := rh.subID(rctest.GeneralRoomID)
	before, _ := srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)

	_, err := srv.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" one")
	require.NoError(t, err)
	first, _ := srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("updated", general) == 1 }, "the first change")
	_, err = srv.PostMessage(rctest.BobUsername, rctest.GeneralRoomID, "@"+rctest.BotUsername+" two")
	require.NoError(t, err)
	second, _ := srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	require.Equal(t, first.UpdatedAt, second.UpdatedAt, "the same _updatedAt")
	require.Equal(t, before.UserMentions+2, second.UserMentions, "a different state")
	rh.logs.eventually(t, waitFor, func() bool { return rh.events("updated", general) == 2 }, "the second change, same stamp")

	rh.morePolls(10)
	assert.Equal(t, 2, rh.events("updated", general), "each state once, though every poll re-reads it")
	assert.Equal(t, 1, rh.logs.count("event", "id", general, "mentions", fmt.Sprint(first.UserMentions)))
	assert.Equal(t, 1, rh.logs.count("event", "id", general, "mentions", fmt.Sprint(second.UserMentions)))
}

// onceListener logs every event and complains about an id seen twice.
const onceListener = `local seen = {}
rc.on("subscription", function(action, sub)
  if seen[sub._id] then rc.log.error("twice", {id = sub._id}) end
  seen[sub._id] = true
  rc.log.info("event", {action = action, id = sub._id})
end)
`

// TestBurstOf10000Subscriptions (item 8): 10,000 subscriptions changing
// inside one poll, with the default queue of 256: every change reaches the
// script exactly once (one queued event per subscription, past the queue's
// length: nothing dropped and nobody waits), and the re-reads of the
// overlap window add none.
func TestBurstOf10000Subscriptions(t *testing.T) {
	t.Parallel()
	srv := rctest.NewServer(rctest.WithSubscriptions(10000))
	t.Cleanup(srv.Close)
	rh := startRCHost(t, srv, 100*time.Millisecond, Config{}, onceListener)
	ids, err := srv.TouchSubscriptions(rctest.BotUsername)
	require.NoError(t, err)
	require.Greater(t, len(ids), 10000)
	rh.logs.eventually(t, time.Minute, func() bool { return rh.logs.countBytes(`"message":"event"`) >= len(ids) }, "every change handled")
	rh.morePollsWithin(3, 2*time.Minute)

	got := map[string]int{}
	for _, e := range rh.logs.entries() {
		if match(e, "event", "action", "updated") {
			got[e["id"].(string)]++
		}
	}
	for _, id := range ids {
		if !assert.Equal(t, 1, got[id], "subscription %s", id) {
			break
		}
		delete(got, id)
	}
	assert.Empty(t, got, "no event about another subscription")
	assert.Zero(t, rh.logs.count("twice"), "no subscription twice")
	st, _ := rh.status("l")
	assert.Zero(t, st.Waits, "the queue is bounded by the distinct subscriptions, not its length: nobody waited")
	assert.Equal(t, uint64(len(ids)), st.Runs)
}

// churn is n rounds of an insert and a removal of each of ids: events
// that never merge.
func churn(n int, ids ...string) []source.Event {
	var evs []source.Event
	for r := range n {
		for _, id := range ids {
			evs = append(evs, subEvent(source.ActionInserted, id, r), subEvent(source.ActionRemoved, id, r))
		}
	}
	return evs
}

// sender sends evs through src from its own goroutine; sent counts the
// events emitted, and done is closed when it stops (all sent, or a send
// refused because the source's Run ended).
type sender struct {
	sent atomic.Int64
	ok   atomic.Bool // every event was sent
	done chan struct{}
}

func startSender(src *testSource, evs []source.Event) *sender {
	s := &sender{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for _, ev := range evs {
			if !src.send(ev) {
				return
			}
			s.sent.Add(1)
		}
		s.ok.Store(true)
	}()
	return s
}

func (s *sender) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(waitFor):
		t.Fatalf("the sender did not end: %s (sent %d)", what, s.sent.Load())
	}
}

// wantRecords is what gatedScript records for evs.
func wantRecords(t *testing.T, evs []source.Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		var obj struct{ N *int }
		require.NoError(t, json.Unmarshal(ev.Raw, &obj))
		n := "nil"
		if obj.N != nil {
			n = fmt.Sprint(*obj.N)
		}
		out = append(out, ev.Action+" "+ev.ID+" "+n)
	}
	return out
}

// waitStuck waits until the script's handler is stuck in the first event
// and the sender waits for a place in the full queue; it returns how many
// events were sent by then.
func (th *testHost) waitStuck(name string, g *gatedEnv, s *sender) int64 {
	th.t.Helper()
	th.logs.eventually(th.t, waitFor, func() bool {
		st, _ := th.status(name)
		return st.Waits > 0 && len(g.records()) == 1
	}, name+": the handler stuck and the source waiting")
	return s.sent.Load()
}

// TestBackpressureDropsNothing (item 8, the push-back route): a handler
// stuck while a source sends inserts and removals that cannot merge, many
// more than the queue holds: the source waits (it sent only what fits),
// and once the handler goes on every event is handled, in order.
func TestBackpressureDropsNothing(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	const queueLen = 4
	th := startHostEnv(t, Config{QueueLen: queueLen}, g.env(), []source.Source{src}, map[string]string{"c.lua": gatedScript})
	t.Cleanup(g.open) // before the shutdown, should the test fail early
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	evs := append([]source.Event{subEvent(source.ActionUpdated, "block", 0)}, churn(25, "a", "b")...)
	s := startSender(src, evs)
	sent := th.waitStuck("c", g, s)
	// The first event in the handler and a full queue; one more when the
	// sender filled the queue before the handler took the first.
	assert.LessOrEqual(t, sent, int64(1+queueLen), "the sender waits instead of sending on")
	assert.Equal(t, 1, th.logs.count("event queue full: the source waits for the script", "script", "c"))

	g.open()
	s.wait(t, "after the handler went on")
	assert.True(t, s.ok.Load(), "every event sent")
	// Runs counts a call as it starts: wait for the last one's record.
	th.logs.eventually(t, waitFor, func() bool { return len(g.records()) >= len(evs) }, "every event handled")
	assert.Equal(t, wantRecords(t, evs), g.records(), "every event, in order")
	st, _ := th.status("c")
	assert.Zero(t, st.Coalesced, "inserts and removals never merge")
}

// TestBackpressureShutdownIsPrompt (item 8): a source waiting on a full
// queue behind a stuck handler does not hold up shutdown: Run returns
// (after the shutdown grace stops the handler) and the source's send
// returns, refused.
func TestBackpressureShutdownIsPrompt(t *testing.T) {
	t.Parallel()
	g := newGatedEnv() // never opened
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{QueueLen: 2, ShutdownTimeout: 100 * time.Millisecond}, g.env(),
		[]source.Source{src}, map[string]string{"c.lua": gatedScript})
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	s := startSender(src, append([]source.Event{subEvent(source.ActionUpdated, "block", 0)}, churn(50, "a")...))
	sent := th.waitStuck("c", g, s)

	th.shutdown() // fails the test unless Run returns within waitFor
	s.wait(t, "after shutdown")
	assert.False(t, s.ok.Load(), "the waiting send was refused, not completed")
	assert.Equal(t, sent, s.sent.Load(), "nothing more was taken after the wait began")
}

// TestWaitingSourceFreedWhenItsScriptStops (item 8): a source waiting on
// the full queue of a script whose file is removed goes on once that
// script stops, and the other listening script gets every event.
func TestWaitingSourceFreedWhenItsScriptStops(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{QueueLen: 2}, g.env(), []source.Source{src}, map[string]string{
		"slow.lua": gatedScript,
		"fast.lua": `rc.on("subscription", function(action, sub) rc.log.info("fast", {action = action, id = sub._id}) end)`,
	})
	t.Cleanup(g.open)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	evs := append([]source.Event{subEvent(source.ActionUpdated, "block", 0)}, churn(20, "a")...)
	s := startSender(src, evs)
	th.logs.eventually(t, waitFor, func() bool {
		st, _ := th.status("slow")
		return st.Waits > 0 && len(g.records()) == 1
	}, "the source waits for slow")

	require.NoError(t, os.Remove(filepath.Join(th.dir, "slow.lua")))
	th.logs.eventually(t, waitFor, func() bool { return th.h.actorOf("slow.lua") == nil }, "slow stopping")
	g.open() // the stuck handler returns; slow stops instead of taking more
	s.wait(t, "after slow stopped")
	assert.True(t, s.ok.Load(), "every event sent")
	// Runs counts a call as it starts: wait for the last one's log line.
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("fast", "action", "removed") == 20 }, "fast got every removal")
	fast, _ := th.status("fast")
	assert.Equal(t, uint64(len(evs)), fast.Runs, "every event handled by fast, once")
	slow, _ := th.status("slow")
	assert.Equal(t, StateStopped, slow.State)
	assert.Less(t, slow.Runs, uint64(len(evs)), "slow stopped before the end")
}

// TestStuckScriptDoesNotStallOthersOnUpdates (item 8): changes to many
// more distinct subscriptions than the queue holds, while one script's
// handler is stuck: its queue takes one event per subscription, so the
// source never waits and the other script handles every change at once.
func TestStuckScriptDoesNotStallOthersOnUpdates(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{QueueLen: 4}, g.env(), []source.Source{src}, map[string]string{
		"slow.lua": gatedScript,
		"fast.lua": `rc.on("subscription", function() end)`,
	})
	t.Cleanup(g.open)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	evs := []source.Event{subEvent(source.ActionUpdated, "block", 0)}
	for i := range 1000 {
		evs = append(evs, subEvent(source.ActionUpdated, fmt.Sprintf("s%d", i), i))
	}
	for round := range 2 { // the second round merges into the first
		for _, ev := range evs[1:] {
			ev.Raw = []byte(fmt.Sprintf(`{"_id":%q,"N":%d}`, ev.ID, 1000+round))
			evs = append(evs, ev)
		}
	}
	s := startSender(src, evs)
	s.wait(t, "every change sent while slow is stuck")
	assert.True(t, s.ok.Load())
	th.waitStatus("fast", "every change handled by fast", func(st ScriptStatus) bool { return st.Runs+st.Coalesced == uint64(len(evs)) })
	slow, _ := th.status("slow")
	assert.Zero(t, slow.Waits, "nobody waited for the stuck script")
	assert.Equal(t, 1, len(g.records()), "slow is still stuck in its first event")
	g.open()
	th.waitStatus("slow", "slow catches up, newest states only", func(st ScriptStatus) bool { return st.Runs == 1001 })
}
