package runtime

import (
	"fmt"
	"net/http"
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

// rcListener logs every event and marks GENERAL read when it has unread
// messages.
const rcListener = `rc.on("subscription", function(action, sub)
  rc.log.info("event", {action = action, id = sub._id, rid = sub.rid, unread = sub.unread})
  if action == "updated" and sub.rid == "GENERAL" and sub.unread > 0 then
    local ok, err = rc.subscriptions.read(sub.rid)
    rc.log.info("marked read", {ok = ok == true, err = err and tostring(err) or ""})
  end
end)
`

func subscriptionPolls(srv *rctest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Endpoint == "subscriptions.get" {
			n++
		}
	}
	return n
}

func TestSubscriptionsWithFakeServer(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		skew  time.Duration
		fault *rctest.Fault
	}{
		"in sync":               {},
		"server an hour behind": {skew: -time.Hour},
		"server an hour ahead":  {skew: time.Hour},
		"server errors":         {fault: &rctest.Fault{Status: http.StatusBadGateway, Times: 3}},
		"rate limited": {fault: &rctest.Fault{Status: http.StatusTooManyRequests, Times: 2,
			Header: http.Header{"X-Ratelimit-Reset": {fmt.Sprint(time.Now().Add(50 * time.Millisecond).UnixMilli())}}}},
	} {
		t.Run(name, func(t *testing.T) {
			var opts []rctest.Option
			if c.skew != 0 {
				opts = append(opts, rctest.WithClock(func() time.Time { return time.Now().Add(c.skew) }))
			}
			srv := rctest.NewServer(opts...)
			defer srv.Close()
			client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
			require.NoError(t, err)
			logs := &logSink{}
			poll := source.NewPoll(client.Subscriptions, source.PollOptions{Interval: 20 * time.Millisecond, Log: zerolog.New(logs)})
			deps := Deps{Module: luabind.FromClient(client, zerolog.Nop()), Sources: []source.Source{poll}}
			th := startHostDeps(t, Config{}, deps, map[string]string{"l.lua": rcListener})
			defer th.shutdown()
			th.logs.eventually(t, waitFor, func() bool { return subscriptionPolls(srv) >= 2 }, "baseline and one poll")

			poke := func() {
				if c.fault != nil {
					srv.Fault("subscriptions.get", *c.fault)
				}
			}
			// updated: a message in random
			poke()
			_, err = srv.PostMessage("alice", rctest.RandomRoomID, "hello")
			require.NoError(t, err)
			random, ok := srv.Subscription(rctest.BotUsername, rctest.RandomRoomID)
			require.True(t, ok)
			th.logs.eventually(t, waitFor, func() bool { return th.events("updated", random.ID) == 1 }, "updated random")
			// inserted: the bot joins nosub
			poke()
			require.NoError(t, srv.AddSubscription(rctest.BotUsername, rctest.NoSubRoomID))
			th.logs.eventually(t, waitFor, func() bool { return th.logs.count("event", "action", "inserted", "rid", rctest.NoSubRoomID) == 1 }, "inserted nosub")
			// removed: the bot leaves empty
			empty, ok := srv.Subscription(rctest.BotUsername, rctest.EmptyRoomID)
			require.True(t, ok)
			poke()
			require.NoError(t, srv.RemoveSubscription(rctest.BotUsername, rctest.EmptyRoomID))
			th.logs.eventually(t, waitFor, func() bool { return th.events("removed", empty.ID) == 1 }, "removed empty")
			// a handler marks GENERAL read on the server (GENERAL is seeded
			// alerted: only a mention changes its subscription, facts §2.7)
			_, err = srv.PostMessage("bob", rctest.GeneralRoomID, "news for @"+rctest.BotUsername)
			require.NoError(t, err)
			th.logs.eventually(t, waitFor, func() bool {
				s, _ := srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
				return s.Unread == 0 && th.logs.count("marked read") > 0
			}, "GENERAL read on the server")
			assert.Equal(t, 1, th.logs.count("marked read", "ok", "true"), "one read call")

			start := subscriptionPolls(srv)
			th.logs.eventually(t, waitFor, func() bool { return subscriptionPolls(srv) >= start+8 }, "more polls")
			assert.Equal(t, 1, th.events("updated", random.ID), "updated once")
			assert.Equal(t, 1, th.logs.count("event", "action", "inserted"), "inserted once")
			assert.Equal(t, 1, th.logs.count("event", "action", "removed"), "removed once")
			assert.Equal(t, 2, th.logs.count("event", "rid", rctest.GeneralRoomID), "GENERAL: message, then read")
			if c.fault != nil {
				assert.Positive(t, logs.count("subscriptions poll failed: cursor kept, retrying"), "faults were hit")
			}
		})
	}
}
