package rctest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The rules of facts page §2.7: what a new message does to the members'
// subscriptions, under each Unread_Count setting.

// counters are a subscription's unread, userMentions and groupMentions.
type counters struct{ unread, user, group int }

func countersOf(s SubscriptionState) counters {
	return counters{s.Unread, s.UserMentions, s.GroupMentions}
}

// changedSince reports whether the bot's subscription of rid is in
// subscriptions.get?updatedSince=since: what a poller would see.
func changedSince(t *testing.T, c *tclient, rid string, since time.Time) bool {
	t.Helper()
	_, ok := subsByRoom(t, getSubs(t, c, since.Format(timeLayout)))[rid]
	return ok
}

// TestUnreadCountSetting posts the same messages into a channel and a
// private group the bot has read, under each value of Unread_Count, and
// checks the bot's counters after each, and whether its subscription was
// written at all (a poller sees only those).
func TestUnreadCountSetting(t *testing.T) {
	t.Parallel()
	type step struct {
		c       counters
		written bool
	}
	texts := []string{
		"plain",
		"@" + BotUsername + " a mention",
		"plain again",
		"@all hear this",
		"@here too",
		"@bob and @all", // a user mention has priority: no group mention at all
		"and @" + BotUsername + " and @here",
	}
	cases := []struct {
		setting UnreadCount
		want    []step
	}{
		{"", []step{ // the default, user_and_group_mentions_only
			{counters{0, 0, 0}, true}, {counters{1, 1, 0}, true}, {counters{1, 1, 0}, false},
			{counters{2, 1, 1}, true}, {counters{3, 1, 2}, true}, {counters{3, 1, 2}, false}, {counters{4, 2, 2}, true},
		}},
		{UnreadUserAndGroupMentionsOnly, []step{
			{counters{0, 0, 0}, true}, {counters{1, 1, 0}, true}, {counters{1, 1, 0}, false},
			{counters{2, 1, 1}, true}, {counters{3, 1, 2}, true}, {counters{3, 1, 2}, false}, {counters{4, 2, 2}, true},
		}},
		{UnreadAllMessages, []step{
			{counters{1, 0, 0}, true}, {counters{2, 1, 0}, true}, {counters{3, 1, 0}, true},
			{counters{4, 1, 1}, true}, {counters{5, 1, 2}, true}, {counters{5, 1, 2}, false}, {counters{6, 2, 2}, true},
		}},
		{UnreadUserMentionsOnly, []step{
			{counters{0, 0, 0}, true}, {counters{1, 1, 0}, true}, {counters{1, 1, 0}, false},
			{counters{1, 1, 1}, true}, {counters{1, 1, 2}, true}, {counters{1, 1, 2}, false}, {counters{2, 2, 2}, true},
		}},
		{UnreadGroupMentionsOnly, []step{
			{counters{0, 0, 0}, true}, {counters{0, 1, 0}, true}, {counters{0, 1, 0}, false},
			{counters{1, 1, 1}, true}, {counters{2, 1, 2}, true}, {counters{2, 1, 2}, false}, {counters{2, 2, 2}, true},
		}},
	}
	rooms := []struct{ rid, sender string }{{RandomRoomID, AliceUsername}, {OpsRoomID, AdminUsername}}
	for _, tc := range cases {
		for _, room := range rooms {
			name := string(tc.setting)
			if name == "" {
				name = "default"
			}
			t.Run(name+"/"+room.rid, func(t *testing.T) {
				t.Parallel()
				clk := newFakeClock()
				opts := []Option{WithClock(clk.Now)}
				if tc.setting != "" {
					opts = append(opts, WithUnreadCount(tc.setting))
				}
				s := startServer(t, opts...)
				c := botClient(t, s)
				require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": room.rid}).status)
				for i, text := range texts {
					before, _ := s.Subscription(BotUsername, room.rid)
					clk.Add(time.Second)
					since := clk.Now().Add(-time.Millisecond)
					_, err := s.PostMessage(room.sender, room.rid, text)
					require.NoError(t, err)
					after, _ := s.Subscription(BotUsername, room.rid)
					want := tc.want[i]
					assert.Equal(t, want.c, countersOf(after), "%q: unread, userMentions, groupMentions", text)
					assert.True(t, after.Alert, "%q: alert", text)
					assert.True(t, after.Open, "%q: open", text)
					assert.Equal(t, want.written, changedSince(t, c, room.rid, since), "%q: in subscriptions.get?updatedSince", text)
					if want.written {
						assert.Equal(t, clk.Now(), after.UpdatedAt, "%q: _updatedAt", text)
					} else {
						assert.Equal(t, before, after, "%q: an alerted subscription the message does not count in is not written", text)
					}
				}
			})
		}
	}
}

// TestUnreadCountDirectAndLivechat: in a DM and a livechat room every
// message counts in unread (Unread_Count_DM and Unread_Count_Omni default
// to all_messages), whatever Unread_Count says; a plain message is no
// mention.
func TestUnreadCountDirectAndLivechat(t *testing.T) {
	t.Parallel()
	for _, setting := range []UnreadCount{UnreadUserAndGroupMentionsOnly, UnreadUserMentionsOnly, UnreadGroupMentionsOnly} {
		for _, room := range []struct{ rid, sender string }{{DMAliceRoomID, AliceUsername}, {LivechatRoomID, RocketCatUsername}} {
			t.Run(string(setting)+"/"+room.rid, func(t *testing.T) {
				t.Parallel()
				clk := newFakeClock()
				s := startServer(t, WithClock(clk.Now), WithUnreadCount(setting))
				if room.rid == LivechatRoomID {
					require.NoError(t, s.AddSubscription(RocketCatUsername, LivechatRoomID)) // the agent who answers
				}
				c := botClient(t, s)
				require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": room.rid}).status)
				steps := []struct {
					text string
					want counters
				}{
					{"hi", counters{1, 0, 0}},
					{"are you there?", counters{2, 0, 0}},
					{"@" + BotUsername + " hello?", counters{3, 1, 0}},
					{"@all", counters{4, 1, 1}},
				}
				for _, st := range steps {
					clk.Add(time.Second)
					_, err := s.PostMessage(room.sender, room.rid, st.text)
					require.NoError(t, err)
					after, _ := s.Subscription(BotUsername, room.rid)
					assert.Equal(t, st.want, countersOf(after), "%q", st.text)
					assert.True(t, after.Alert)
					assert.Equal(t, clk.Now(), after.UpdatedAt, "%q: every message is written", st.text)
				}
			})
		}
	}
}

// TestAlertedRoomUnchangedUntilRead: once alerted, a subscription is not
// written by plain messages until it is read (or marked unread, which
// alerts it again); a mention still is.
func TestAlertedRoomUnchangedUntilRead(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	c := botClient(t, s)
	rid := RandomRoomID
	plain := func(text string) (SubscriptionState, bool) {
		t.Helper()
		clk.Add(time.Second)
		since := clk.Now().Add(-time.Millisecond)
		_, err := s.PostMessage(BobUsername, rid, text)
		require.NoError(t, err)
		sub, _ := s.Subscription(BotUsername, rid)
		return sub, changedSince(t, c, rid, since)
	}

	first, written := plain("one")
	assert.True(t, written, "the first message alerts the room")
	assert.True(t, first.Alert)
	assert.Zero(t, first.Unread)
	for _, text := range []string{"two", "three"} {
		sub, written := plain(text)
		assert.False(t, written, "%q: an alerted room is not written", text)
		assert.Equal(t, first, sub, "%q", text)
	}

	// subscriptions.read clears alert: the next message alerts again.
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"roomId": rid}).status)
	read, _ := s.Subscription(BotUsername, rid)
	assert.False(t, read.Alert)
	assert.Equal(t, clk.Now(), read.LS)
	sub, written := plain("four")
	assert.True(t, written, "after a read, a message alerts again")
	assert.True(t, sub.Alert)
	assert.Equal(t, counters{}, countersOf(sub))

	// subscriptions.unread by room: alert, ls of the newest message,
	// unread not recomputed; then plain messages change nothing.
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"roomId": rid}).status)
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.unread", map[string]any{"roomId": rid}).status)
	unread, _ := s.Subscription(BotUsername, rid)
	msgs := s.Messages(rid)
	assert.True(t, unread.Alert)
	assert.Equal(t, msgs[len(msgs)-1].TS, unread.LS)
	assert.Equal(t, counters{}, countersOf(unread), "unread is not recomputed")
	assert.Equal(t, clk.Now(), unread.UpdatedAt)
	sub, written = plain("five")
	assert.False(t, written, "marked unread is alerted: not written")
	assert.Equal(t, unread, sub)

	// subscriptions.unread from a message: the same.
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"roomId": rid}).status)
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.unread", map[string]any{"firstUnreadMessage": map[string]any{"_id": msgs[0].ID}}).status)
	fromMsg, _ := s.Subscription(BotUsername, rid)
	assert.True(t, fromMsg.Alert)
	assert.Equal(t, msgs[0].TS, fromMsg.LS)
	sub, written = plain("six")
	assert.False(t, written)
	assert.Equal(t, fromMsg, sub)

	// A mention is still counted and written.
	clk.Add(time.Second)
	since := clk.Now().Add(-time.Millisecond)
	_, err := s.PostMessage(BobUsername, rid, "@"+BotUsername+" seven")
	require.NoError(t, err)
	mentioned, _ := s.Subscription(BotUsername, rid)
	assert.Equal(t, counters{1, 1, 0}, countersOf(mentioned))
	assert.True(t, changedSince(t, c, rid, since))
}

// TestOwnMessageMarksSenderRead: a message marks its sender's own
// subscription read (never unread or alerted), through the route and the
// helper, under any setting; unread threads stay in tunread.
func TestOwnMessageMarksSenderRead(t *testing.T) {
	t.Parallel()
	for _, setting := range []UnreadCount{UnreadUserAndGroupMentionsOnly, UnreadAllMessages} {
		for _, via := range []string{"route", "helper"} {
			t.Run(string(setting)+"/"+via, func(t *testing.T) {
				t.Parallel()
				clk := newFakeClock()
				s := startServer(t, WithClock(clk.Now), WithUnreadCount(setting))
				c := botClient(t, s)
				before, _ := s.Subscription(BotUsername, GeneralRoomID)
				require.True(t, before.Alert)
				require.Positive(t, before.Unread)
				require.NotEmpty(t, before.ThreadUnread)
				clk.Add(time.Second)
				text := "on it @" + BotUsername + " @all"
				if via == "route" {
					require.Equal(t, 200, c.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": text}).status)
				} else {
					_, err := s.PostMessage(BotUsername, GeneralRoomID, text)
					require.NoError(t, err)
				}
				after, _ := s.Subscription(BotUsername, GeneralRoomID)
				assert.Equal(t, counters{}, countersOf(after), "the sender's counters are cleared")
				assert.False(t, after.Alert, "nor is it alerted")
				assert.True(t, after.Open)
				assert.Equal(t, clk.Now(), after.LS)
				assert.Equal(t, clk.Now(), after.UpdatedAt)
				assert.Equal(t, before.ThreadUnread, after.ThreadUnread, "threads stay unread")
				alice, _ := s.Subscription(AliceUsername, GeneralRoomID)
				assert.Equal(t, 1, alice.GroupMentions, "the others get the @all")
			})
		}
	}
}

// TestThreadReplyCounts: a reply only in a thread changes no counter; the
// thread's followers (its author, those who replied or were mentioned in
// it) get alert, open, lr and tunread; everyone else's subscription is
// not written.
func TestThreadReplyCounts(t *testing.T) {
	t.Parallel()
	for _, setting := range []UnreadCount{UnreadUserAndGroupMentionsOnly, UnreadAllMessages} {
		t.Run(string(setting), func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			s := startServer(t, WithClock(clk.Now), WithUnreadCount(setting))
			c := botClient(t, s)
			bob := c.as(s.CreateToken(BobUsername))
			alice := c.as(s.CreateToken(AliceUsername))
			rid := RandomRoomID
			root, err := s.PostMessage(BobUsername, rid, "thread root")
			require.NoError(t, err)
			for _, u := range []*tclient{c, bob, alice} {
				require.Equal(t, 200, u.post("/api/v1/subscriptions.read", map[string]any{"rid": rid}).status)
			}
			reply := func(who *tclient, text string) time.Time {
				t.Helper()
				clk.Add(time.Second)
				r := who.post("/api/v1/chat.postMessage", map[string]any{"roomId": rid, "text": text, "tmid": root.ID})
				require.Equal(t, 200, r.status, "%s", r.body)
				return clk.Now().Add(-time.Millisecond)
			}

			// alice's reply: bob (the author) follows, the bot does not.
			botBefore, _ := s.Subscription(BotUsername, rid)
			since := reply(alice, "first reply")
			botAfter, _ := s.Subscription(BotUsername, rid)
			assert.Equal(t, botBefore, botAfter, "not a follower: not written")
			assert.False(t, changedSince(t, c, rid, since))
			b, _ := s.Subscription(BobUsername, rid)
			assert.Equal(t, counters{}, countersOf(b), "a thread reply counts in no counter")
			assert.True(t, b.Alert)
			assert.Equal(t, []string{root.ID}, b.ThreadUnread)
			assert.Equal(t, clk.Now(), b.LR)
			assert.Equal(t, clk.Now(), b.UpdatedAt)
			a, _ := s.Subscription(AliceUsername, rid)
			assert.Empty(t, a.ThreadUnread, "the sender's own reply")
			assert.False(t, a.Alert)
			assert.Equal(t, clk.Now(), a.LR)

			// A mention of the bot makes it a follower.
			since = reply(alice, "@"+BotUsername+" look")
			bot, _ := s.Subscription(BotUsername, rid)
			assert.Equal(t, counters{}, countersOf(bot), "a mention in a thread counts in no counter")
			assert.True(t, bot.Alert)
			assert.Equal(t, []string{root.ID}, bot.ThreadUnread)
			assert.Equal(t, []string{root.ID}, bot.ThreadUser)
			assert.Empty(t, bot.ThreadGroup)
			assert.True(t, changedSince(t, c, rid, since))

			// The bot reads everything; bob's @all reaches the followers.
			require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": rid, "readThreads": true}).status)
			reply(bob, "@all done")
			bot, _ = s.Subscription(BotUsername, rid)
			assert.Equal(t, counters{}, countersOf(bot))
			assert.True(t, bot.Alert)
			assert.Equal(t, []string{root.ID}, bot.ThreadUnread)
			assert.Equal(t, []string{root.ID}, bot.ThreadGroup)
			a, _ = s.Subscription(AliceUsername, rid)
			assert.Equal(t, []string{root.ID}, a.ThreadGroup, "alice replied: a follower")
			b, _ = s.Subscription(BobUsername, rid)
			assert.True(t, b.Alert, "a reply only in a thread does not mark the sender's room read")
			assert.Equal(t, []string{root.ID}, b.ThreadUnread)
		})
	}
}

func TestWithUnreadCountUnknownValue(t *testing.T) {
	t.Parallel()
	_, err := Listen("127.0.0.1:0", WithUnreadCount("mentions"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown Unread_Count value "mentions"`)
	assert.PanicsWithValue(t, err.Error(), func() { NewServer(WithUnreadCount("mentions")) })
}

// TestSeedUnderAllMessages: the seeded history is counted under the
// chosen setting too.
func TestSeedUnderAllMessages(t *testing.T) {
	t.Parallel()
	def := subsByRoom(t, getSubs(t, botClient(t, startServer(t)), ""))
	all := subsByRoom(t, getSubs(t, botClient(t, startServer(t, WithUnreadCount(UnreadAllMessages))), ""))
	assert.Equal(t, 1.0, def[GeneralRoomID]["unread"], "default: the mention only")
	assert.Equal(t, 2.0, all[GeneralRoomID]["unread"], "all_messages: the mention and alice's plain message (not the thread reply)")
	for _, rid := range []string{OpsRoomID, DMAliceRoomID} {
		assert.Equal(t, def[rid]["unread"], all[rid]["unread"], "%s: the same either way", rid)
	}
}
