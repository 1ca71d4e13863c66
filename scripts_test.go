package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// The example scripts are tested two ways: every one passes runtime.Check
// (the real sandbox), and each one's triggers are driven against rctest
// and their effect checked on the server. Event-driven scripts run in the
// real host; timer scripts are loaded with luabind's rc table and
// capturing rc.every/rc.cron, so the test calls the registered function
// directly instead of waiting hours (or for 9 am).

var exampleScripts = []string{"mention_alert.lua", "morning_mark_read.lua", "unread_digest.lua", "stale_unread_reminder.lua"}

func TestExampleScriptsPassCheck(t *testing.T) {
	entries, err := os.ReadDir("scripts")
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".lua" {
			found = append(found, e.Name())
		}
	}
	assert.ElementsMatch(t, exampleScripts, found, "every example script is tested here")
	for _, name := range found {
		errs := runtime.Check(context.Background(), []string{filepath.Join("scripts", name)}, runtime.Config{})
		assert.Empty(t, errs, "%s passes rclua check", name)
		content, err := os.ReadFile(filepath.Join("scripts", name))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(content), "-- "+name+": "), "%s starts with its header comment", name)
		for _, part := range []string{"What it does:", "rc calls:", "Expects:"} {
			assert.Contains(t, string(content), part, "%s header says %q", name, part)
		}
		assert.NotContains(t, string(content), "\t", "%s is indented with spaces", name)
	}
}

// trigger is a captured rc.every / rc.cron / rc.on registration.
type trigger struct {
	arg string // interval, cron spec or event name
	fn  *lua.LFunction
}

// harness is one example script loaded into a Lua state with the real rc
// table (luabind against rctest) and capturing triggers.
type harness struct {
	t        *testing.T
	L        *lua.LState
	triggers map[string][]trigger // by "every", "cron", "on"
}

func botClient(t *testing.T, s *rctest.Server) *rc.Client {
	t.Helper()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	return c
}

func loadExample(t *testing.T, s *rctest.Server, name string) *harness {
	t.Helper()
	return loadScript(t, s, filepath.Join("scripts", name))
}

// loadScript loads the script at path into a harness.
func loadScript(t *testing.T, s *rctest.Server, path string) *harness {
	t.Helper()
	h := &harness{t: t, L: lua.NewState(), triggers: map[string][]trigger{}}
	t.Cleanup(h.L.Close)
	luabind.FromClient(botClient(t, s), zerolog.Nop()).Open(h.L, h)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.L.SetContext(ctx)
	require.NoError(t, h.L.DoFile(path), "load %s", path)
	h.L.RemoveContext()
	return h
}

// Register records a trigger the script registers (luabind.Host).
func (h *harness) Register(t luabind.Trigger) error {
	arg := t.Event
	switch t.Kind {
	case luabind.Every:
		arg = t.Interval.String()
	case luabind.Cron:
		arg = t.Spec
	}
	h.triggers[t.Kind.String()] = append(h.triggers[t.Kind.String()], trigger{arg: arg, fn: t.Fn})
	return nil
}

// only returns the one trigger of kind the script registered.
func (h *harness) only(kind string) trigger {
	h.t.Helper()
	require.Len(h.t, h.triggers[kind], 1, "one rc.%s registration", kind)
	return h.triggers[kind][0]
}

// call runs a registered function as the host would.
func (h *harness) call(fn *lua.LFunction, args ...lua.LValue) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.L.SetContext(ctx)
	defer h.L.RemoveContext()
	require.NoError(h.t, h.L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, args...))
}

// markAllRead gives the bot a clean slate: no unread room.
func markAllRead(t *testing.T, c *rc.Client) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Subscriptions.Get(ctx, nil)
	require.NoError(t, err)
	for _, sub := range res.Update {
		require.NoError(t, c.Subscriptions.Read(ctx, sub.RoomID, nil), "read %s", sub.Name)
	}
}

// botDMs returns the texts the bot sent to alice.
func botDMs(s *rctest.Server) []string {
	var out []string
	for _, m := range s.Messages(rctest.DMAliceRoomID) {
		if m.Username == rctest.BotUsername {
			out = append(out, m.Text)
		}
	}
	return out
}

func post(t *testing.T, s *rctest.Server, user, room, text string) {
	t.Helper()
	_, err := s.PostMessage(user, room, text)
	require.NoError(t, err)
}

// TestExampleMentionAlert runs mention_alert.lua in the real host: a
// mention of the bot by bob in #general makes it DM alice.
func TestExampleMentionAlert(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	dir := t.TempDir()
	content, err := os.ReadFile("scripts/mention_alert.lua")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "mention_alert.lua"), content, 0o644))

	host, err := runtime.New(runtime.Config{ScriptsDir: dir},
		runtime.Deps{Module: luabind.FromClient(c, zerolog.Nop()),
			Sources: []source.Source{source.NewPoll(c.Subscriptions, source.PollOptions{Interval: 50 * time.Millisecond})}}, zerolog.Nop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		assert.NoError(t, host.Run(ctx))
	}()
	defer wg.Wait()
	defer cancel()
	<-host.Loaded()
	require.Len(t, host.Status(), 1)
	require.Equal(t, runtime.StateRunning, host.Status()[0].State, "loads: %s", host.Status()[0].LastError)

	alerted := func(room string) bool {
		for _, text := range botDMs(s) {
			if strings.Contains(text, "in "+room) {
				return true
			}
		}
		return false
	}
	// The poller's first poll is a baseline: mention again until the
	// alert comes.
	deadline := time.Now().Add(10 * time.Second)
	for !alerted("#general") {
		require.True(t, time.Now().Before(deadline), "no alert for a mention in #general; DMs: %q", botDMs(s))
		post(t, s, "bob", rctest.GeneralRoomID, "@"+rctest.BotUsername+" can you look at the build?")
		waitUntil(time.Second, func() bool { return alerted("#general") })
	}
	assert.Contains(t, botDMs(s)[0], "new mention", "the alert says what happened")

	// A plain message is no mention; alice's own DM is not reported back
	// to her; then a mention in #random is.
	before := len(botDMs(s))
	post(t, s, "bob", rctest.GeneralRoomID, "no mention here")
	post(t, s, "alice", rctest.DMAliceRoomID, "hi bot")
	post(t, s, "bob", rctest.RandomRoomID, "@"+rctest.BotUsername+" ping")
	waitFor(t, 10*time.Second, "alert for #random", func() bool { return alerted("#random") })
	assert.Len(t, botDMs(s), before+1, "exactly one new alert: %q", botDMs(s))
}

// TestExampleMentionAlertBacklog drives mention_alert.lua's handler with
// snapshots as a busy poller delivers them: a backlog of several for the
// same room, stale ones after the room was read, and the bot's own
// messages bumping its subscriptions.
func TestExampleMentionAlertBacklog(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	markAllRead(t, c)
	h := loadExample(t, s, "mention_alert.lua")
	on := h.only("on")
	assert.Equal(t, "subscription", on.arg)
	ctx := context.Background()
	snapshot := func(room string) lua.LValue {
		t.Helper()
		sub, err := c.Subscriptions.GetOne(ctx, room)
		require.NoError(t, err)
		require.NotNil(t, sub)
		v, err := luajson.DecodeBytes(h.L, sub.Raw)
		require.NoError(t, err)
		return v
	}
	deliver := func(v lua.LValue) { h.call(on.fn, lua.LString("updated"), v) }
	getOnes := func() int {
		n := 0
		for _, r := range s.Requests() {
			if r.Endpoint == "subscriptions.getOne" {
				n++
			}
		}
		return n
	}

	// Three mentions, one snapshot after each, all queued: one alert
	// with the current count.
	var backlog []lua.LValue
	for i := range 3 {
		post(t, s, "bob", rctest.GeneralRoomID, fmt.Sprintf("@%s ping %d", rctest.BotUsername, i))
		backlog = append(backlog, snapshot(rctest.GeneralRoomID))
	}
	for _, v := range backlog {
		deliver(v)
	}
	require.Len(t, botDMs(s), 1, "a backlog of snapshots gives one alert: %q", botDMs(s))
	assert.Contains(t, botDMs(s)[0], "3 new mentions in #general")

	// The room is read; stale snapshots arriving afterwards report nothing.
	require.NoError(t, c.Subscriptions.Read(ctx, rctest.GeneralRoomID, nil))
	deliver(backlog[0])
	deliver(backlog[2])
	assert.Len(t, botDMs(s), 1, "stale snapshots are not alerts: %q", botDMs(s))

	// The bot's own messages bump its subscriptions (#general, and the DM
	// with the owner that the alert went to): no alert and no request.
	_, err := c.Chat.PostMessage(ctx, &rc.PostMessage{Channel: "#general", Text: "on it"})
	require.NoError(t, err)
	own, dm := snapshot(rctest.GeneralRoomID), snapshot(rctest.DMAliceRoomID)
	s.ResetRequests()
	deliver(own)
	deliver(dm)
	assert.Len(t, botDMs(s), 1, "the bot's own message is no mention")
	assert.Zero(t, getOnes(), "an unchanged count costs no request")

	// A new mention after all that is reported, as one.
	post(t, s, "carol", rctest.GeneralRoomID, "@"+rctest.BotUsername+" and now?")
	deliver(snapshot(rctest.GeneralRoomID))
	require.Len(t, botDMs(s), 2, "%q", botDMs(s))
	assert.Contains(t, botDMs(s)[1], "1 new mention in #general")
}

// waitUntil polls cond until it holds or timeout; it reports the outcome.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
	return cond()
}

func TestExampleMorningMarkRead(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	markAllRead(t, botClient(t, s))
	h := loadExample(t, s, "morning_mark_read.lua")
	cron := h.only("cron")
	assert.Equal(t, "0 9 * * 1-5", cron.arg, "weekdays at 9")

	post(t, s, "bob", rctest.RandomRoomID, "lunch?")
	post(t, s, "alice", rctest.RandomRoomID, "cat picture")
	post(t, s, "bob", rctest.GeneralRoomID, "deploy at 3")
	h.call(cron.fn)
	random, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	general, _ := s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	assert.Zero(t, random.Unread, "the noisy room is marked read")
	assert.Equal(t, 1, general.Unread, "other rooms are left alone")

	// A mention in a noisy room keeps it unread.
	post(t, s, "bob", rctest.RandomRoomID, "@"+rctest.BotUsername+" are you there?")
	h.call(cron.fn)
	random, _ = s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	assert.Equal(t, 1, random.Unread, "a mention is not hidden")
}

func TestExampleUnreadDigest(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	markAllRead(t, c)
	h := loadExample(t, s, "unread_digest.lua")
	every := h.only("every")
	assert.Equal(t, "3h0m0s", every.arg)

	h.call(every.fn)
	assert.Empty(t, botDMs(s), "nothing unread: no digest")

	post(t, s, "alice", rctest.RandomRoomID, "one")
	post(t, s, "bob", rctest.RandomRoomID, "two")
	post(t, s, "bob", rctest.GeneralRoomID, "@"+rctest.BotUsername+" please check")
	post(t, s, "alice", rctest.DMAliceRoomID, "my own DM")
	h.call(every.fn)
	dms := botDMs(s)
	require.Len(t, dms, 1, "one digest")
	digest := dms[0]
	assert.Contains(t, digest, "Unread digest: 3 messages in 2 rooms")
	assert.Contains(t, digest, "#general: 1 unread (1 mentioning you)")
	assert.Contains(t, digest, "#random: 2 unread")
	assert.Less(t, strings.Index(digest, "#general"), strings.Index(digest, "#random"), "mentions first")
	assert.NotContains(t, digest, "- @", "the owner's own DM is left out")

	// Every 3 hours for months: the same digest is not sent again; a
	// change is.
	h.call(every.fn)
	assert.Len(t, botDMs(s), 1, "an unchanged digest is not repeated")
	post(t, s, "carol", rctest.RandomRoomID, "three")
	h.call(every.fn)
	dms = botDMs(s)
	require.Len(t, dms, 2, "a changed digest is sent")
	assert.Contains(t, dms[1], "#random: 3 unread")
}

func TestExampleStaleUnreadReminder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now().Add(-6 * time.Hour)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	s := rctest.NewServer(rctest.WithClock(clock))
	defer s.Close()
	c := botClient(t, s)

	// Six hours ago: everything read, then a message in #general nobody reads.
	markAllRead(t, c)
	post(t, s, "alice", rctest.GeneralRoomID, "old news")
	post(t, s, "alice", rctest.DMAliceRoomID, "a note to the bot")
	// Now: #random was read just now and has a fresh message.
	mu.Lock()
	now = time.Now()
	mu.Unlock()
	require.NoError(t, c.Subscriptions.Read(context.Background(), rctest.RandomRoomID, nil))
	post(t, s, "bob", rctest.RandomRoomID, "fresh news")

	h := loadExample(t, s, "stale_unread_reminder.lua")
	every := h.only("every")
	assert.Equal(t, "15m0s", every.arg)
	h.call(every.fn)
	dms := botDMs(s)
	require.Len(t, dms, 1, "one reminder")
	assert.Contains(t, dms[0], "#general: 1 unread, not opened for 6 h")
	assert.NotContains(t, dms[0], "#random", "a room read recently is not stale")
	assert.NotContains(t, dms[0], "- @", "the owner's own DM is left out")

	h.call(every.fn)
	assert.Len(t, botDMs(s), 1, "the same stale room is reminded once")
}
