package runtime

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
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/source"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

// The example scripts are tested two ways: every one passes runtime.Check
// (the real sandbox), and each one's triggers are driven against rctest
// and their effect checked on the server. Event-driven scripts run in the
// real host; timer scripts are loaded with luabind's rc table and
// capturing rc.every/rc.cron, so the test calls the registered function
// directly instead of waiting hours (or for 9 am).
//
// rctest counts unread as a server with default settings does (facts page
// §2.7): a plain channel message sets alert but counts in no unread
// counter, a mention does, and in a DM every message counts in unread.
// Each example is driven with all three, so one that took unread for
// "has new messages" (true only under all_messages) fails here.
//
// Each example also has its own scripts/*_test.lua, which rclua test runs
// (as a user would, on the fake clock). These Go tests stay beside them
// for what a Lua test does not reach: the real host and its sources (the
// event-driven scripts), the rctest server's state after each trigger,
// and the three unread counting rules in one table-driven test.

// examplesDir is the project's scripts folder, seen from this package.
const examplesDir = "../scripts"

var exampleScripts = []string{"mention_alert.lua", "morning_mark_read.lua", "unread_digest.lua", "stale_unread_reminder.lua", "ping.lua"}

func TestExampleScriptsPassCheck(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(examplesDir)
	require.NoError(t, err)
	var found []string
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".lua" && !watch.IsTest(e.Name()) {
			found = append(found, e.Name())
		}
	}
	assert.ElementsMatch(t, exampleScripts, found, "every example script is tested here")
	for _, name := range found {
		_, err := os.Stat(filepath.Join(examplesDir, strings.TrimSuffix(name, ".lua")+watch.TestSuffix))
		assert.NoError(t, err, "%s has its *_test.lua", name)
	}
	for _, name := range found {
		errs := Check(context.Background(), []string{filepath.Join(examplesDir, name)}, Config{})
		assert.Empty(t, errs, "%s passes rclua check", name)
		content, err := os.ReadFile(filepath.Join(examplesDir, name))
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(content), "-- "+name+": "), "%s starts with its header comment", name)
		for _, part := range []string{"What it does:", "rc calls:", "Expects:"} {
			assert.Contains(t, string(content), part, "%s header says %q", name, part)
		}
		assert.NotContains(t, string(content), "\t", "%s is indented with spaces", name)
	}
}

// captured is one trigger an example registered: its argument (interval,
// cron spec or event name) and its function.
type captured struct {
	arg string
	fn  *lua.LFunction
}

// harness is one example script loaded as the host loads it: in the real
// sandbox, with luabind's rc table against rctest and a registry in run
// mode. The test fires its triggers directly instead of waiting hours (or
// for 9 am).
type harness struct {
	t   *testing.T
	L   *lua.LState
	reg *registry
}

func botClient(t *testing.T, s *rctest.Server) *rc.Client {
	t.Helper()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	return c
}

func loadExample(t *testing.T, s *rctest.Server, name string) *harness {
	t.Helper()
	return loadScript(t, s, filepath.Join(examplesDir, name))
}

// loadScript loads the script at path into a harness.
func loadScript(t *testing.T, s *rctest.Server, path string) *harness {
	t.Helper()
	cfg := Config{}.withDefaults()
	dir := filepath.Dir(path) // its lib/ and its settings, as the host gives them
	set, err := readSettings(dir)
	require.NoError(t, err)
	h := &harness{t: t, L: sandbox.New(sandbox.Options{Modules: newModules(dir).find}), reg: newRegistry(modeRun, zerolog.Nop())}
	t.Cleanup(h.L.Close)
	name := scriptBaseName(filepath.Base(path))
	mem := store.OpenMemory(store.Options{SweepEvery: -1}) // rc.store, as the daemon gives it
	t.Cleanup(func() { _ = mem.Close() })
	env{module: luabind.FromClient(botClient(t, s), zerolog.Nop()), store: mem}.openState(h.L, cfg, name, zerolog.Nop(), h.reg, set.section(name), nil, nil)
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, runChunk(context.Background(), h.L, filepath.Base(path), content, cfg.LoadTimeout), "load %s", path)
	h.reg.loading = false
	return h
}

// only returns the one trigger of kind ("on", "every", "cron") the script
// registered.
func (h *harness) only(kind string) captured {
	h.t.Helper()
	var found []captured
	for event, list := range h.reg.handlers {
		for _, tr := range list {
			if kind == "on" {
				found = append(found, captured{arg: event, fn: tr.Fn})
			}
		}
	}
	for _, tr := range h.reg.timers {
		switch {
		case kind == "every" && tr.Kind == luabind.Every:
			found = append(found, captured{arg: tr.Interval.String(), fn: tr.Fn})
		case kind == "cron" && tr.Kind == luabind.Cron:
			found = append(found, captured{arg: tr.Spec, fn: tr.Fn})
		}
	}
	require.Len(h.t, found, 1, "one rc.%s registration", kind)
	return found[0]
}

// call runs a registered function as the host does: under the handler
// deadline, in protected mode.
func (h *harness) call(fn *lua.LFunction, args ...lua.LValue) {
	h.t.Helper()
	require.NoError(h.t, pcall(context.Background(), h.L, 10*time.Second, fn, args...))
}

// subscriptionArgs are the arguments the host gives an rc.on handler for
// an "updated" event of sub.
func (h *harness) subscriptionArgs(sub *rc.Subscription) []lua.LValue {
	h.t.Helper()
	require.NotNil(h.t, sub)
	args, err := luabind.EventArgs(h.L, source.KindSubscription, source.ActionUpdated, sub.Raw)
	require.NoError(h.t, err)
	return args
}

// markAllRead gives the bot a clean slate: no room alerted, no unread
// thread.
func markAllRead(t *testing.T, c *rc.Client) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Subscriptions.Get(ctx, nil)
	require.NoError(t, err)
	for _, sub := range res.Update {
		require.NoError(t, c.Subscriptions.Read(ctx, sub.RoomID, &rc.ReadOptions{ReadThreads: true}), "read %s", sub.Name)
	}
}

// dmFromBob sends the bot a direct message as bob through chat.postMessage
// (the first one creates the DM) and returns the DM's room id.
func dmFromBob(t *testing.T, s *rctest.Server, text string) string {
	t.Helper()
	uid, token := s.CreateToken(rctest.BobUsername)
	bob, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	m, err := bob.Chat.PostMessage(context.Background(), &rc.PostMessage{Channel: "@" + rctest.BotUsername, Text: text})
	require.NoError(t, err)
	return m.RoomID
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
	require.NoError(t, os.Mkdir(filepath.Join(dir, "lib"), 0o755))
	for _, name := range []string{"mention_alert.lua", "lib/rooms.lua", SettingsFile} { // the script, its module, its settings
		content, err := os.ReadFile(filepath.Join(examplesDir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), content, 0o644))
	}

	host, err := New(Config{ScriptsDir: dir},
		Deps{Module: luabind.FromClient(c, zerolog.Nop()),
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
	require.Equal(t, StateRunning, host.Status()[0].State, "loads: %s", host.Status()[0].LastError)

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
	require.Eventually(t, func() bool { return alerted("#random") }, 10*time.Second, 20*time.Millisecond, "alert for #random")
	assert.Len(t, botDMs(s), before+1, "exactly one new alert: %q", botDMs(s))

	// In a DM every message counts (in unread; a plain DM message is no
	// userMentions): bob's first DM is alerted.
	dmFromBob(t, s, "hi, a quick question")
	require.Eventually(t, func() bool { return alerted("a direct message with Bob Smith") }, 10*time.Second, 20*time.Millisecond,
		"alert for bob's DM: %q", botDMs(s))
	assert.Len(t, botDMs(s), before+2, "exactly one new alert: %q", botDMs(s))
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
	snapshot := func(room string) []lua.LValue {
		t.Helper()
		sub, err := c.Subscriptions.GetOne(ctx, room)
		require.NoError(t, err)
		return h.subscriptionArgs(sub)
	}
	deliver := func(args []lua.LValue) { h.call(on.fn, args...) }
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
	var backlog [][]lua.LValue
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

	// Plain DM messages from bob, snapshots queued: one alert counting both.
	bobDM := dmFromBob(t, s, "are you around?")
	first := snapshot(bobDM)
	dmFromBob(t, s, "never mind, found it")
	deliver(first)
	deliver(snapshot(bobDM))
	require.Len(t, botDMs(s), 3, "%q", botDMs(s))
	assert.Contains(t, botDMs(s)[2], "2 new mentions in a direct message with Bob Smith")
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
	c := botClient(t, s)
	markAllRead(t, c)
	h := loadExample(t, s, "morning_mark_read.lua")
	cron := h.only("cron")
	assert.Equal(t, "0 9 * * 1-5", cron.arg, "weekdays at 9")
	sub := func(rid string) rctest.SubscriptionState {
		t.Helper()
		st, ok := s.Subscription(rctest.BotUsername, rid)
		require.True(t, ok)
		return st
	}

	// Plain messages in the noisy room and in #general, and a DM: they
	// alert the rooms without counting in unread (but for the DM).
	post(t, s, "bob", rctest.RandomRoomID, "lunch?")
	post(t, s, "alice", rctest.RandomRoomID, "cat picture")
	post(t, s, "bob", rctest.GeneralRoomID, "deploy at 3")
	dm := dmFromBob(t, s, "see you at lunch")
	require.True(t, sub(rctest.RandomRoomID).Alert)
	require.Zero(t, sub(rctest.RandomRoomID).Unread, "a plain channel message counts in no unread")
	h.call(cron.fn)
	assert.False(t, sub(rctest.RandomRoomID).Alert, "the noisy room is marked read")
	assert.True(t, sub(rctest.GeneralRoomID).Alert, "other rooms are left alone")
	assert.Equal(t, 1, sub(dm).Unread, "the DM is left alone")

	// A mention in a noisy room keeps it unread.
	post(t, s, "bob", rctest.RandomRoomID, "@"+rctest.BotUsername+" are you there?")
	h.call(cron.fn)
	assert.True(t, sub(rctest.RandomRoomID).Alert, "a mention is not hidden")
	assert.Equal(t, 1, sub(rctest.RandomRoomID).UserMentions)

	// A reply in the bot's own thread there (alert and tunread, no counter):
	// marked read, the thread too.
	markAllRead(t, c)
	root, err := c.Chat.PostMessage(context.Background(), &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "who joins?"})
	require.NoError(t, err)
	uid, token := s.CreateToken(rctest.BobUsername)
	bob, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	_, err = bob.Chat.PostMessage(context.Background(), &rc.PostMessage{RoomID: rctest.RandomRoomID, Text: "me too", ThreadID: root.ID})
	require.NoError(t, err)
	require.NotEmpty(t, sub(rctest.RandomRoomID).ThreadUnread)
	h.call(cron.fn)
	assert.False(t, sub(rctest.RandomRoomID).Alert, "an unread thread is read too")
	assert.Empty(t, sub(rctest.RandomRoomID).ThreadUnread)
}

func TestExampleUnreadDigest(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	markAllRead(t, c)
	h := loadExample(t, s, "unread_digest.lua")
	every := h.only("every")
	assert.Equal(t, "3h0m0s", every.arg, "every 3 hours")

	h.call(every.fn)
	assert.Empty(t, botDMs(s), "no new messages: no digest")

	post(t, s, "alice", rctest.RandomRoomID, "one")
	post(t, s, "bob", rctest.RandomRoomID, "two")
	post(t, s, "bob", rctest.GeneralRoomID, "@"+rctest.BotUsername+" please check")
	dmFromBob(t, s, "got a minute?")
	dmFromBob(t, s, "it is about the release")
	post(t, s, "alice", rctest.DMAliceRoomID, "my own DM")
	h.call(every.fn)
	dms := botDMs(s)
	require.Len(t, dms, 1, "one digest")
	assert.Equal(t, "Unread digest: 3 rooms with new messages\n"+
		"- #general: 1 unread (1 mentioning you)\n"+
		"- @Bob Smith: 2 unread\n"+
		"- #random: new messages", dms[0], "mentions first, then the most unread; plain channel messages count as new messages")

	// Every 3 hours for months: the same digest is not sent again. More
	// plain messages in a listed room change nothing on the server either;
	// a room with new messages that was not listed is a change.
	h.call(every.fn)
	post(t, s, "carol", rctest.RandomRoomID, "three")
	h.call(every.fn)
	assert.Len(t, botDMs(s), 1, "an unchanged digest is not repeated")
	post(t, s, "bob", rctest.OpsRoomID, "ops news")
	h.call(every.fn)
	dms = botDMs(s)
	require.Len(t, dms, 2, "a changed digest is sent")
	assert.Contains(t, dms[1], "Unread digest: 4 rooms with new messages")
	assert.Contains(t, dms[1], "- ops: new messages")
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

	// Six hours ago: everything read, then a plain message in #general, a
	// mention in ops and a DM from bob that nobody reads.
	markAllRead(t, c)
	post(t, s, "alice", rctest.GeneralRoomID, "old news")
	post(t, s, "bob", rctest.OpsRoomID, "@"+rctest.BotUsername+" the backup failed")
	dmFromBob(t, s, "ping")
	post(t, s, "alice", rctest.DMAliceRoomID, "a note to the bot")
	// Now: #random was read just now and has a fresh message.
	mu.Lock()
	now = time.Now()
	mu.Unlock()
	require.NoError(t, c.Subscriptions.Read(context.Background(), rctest.RandomRoomID, nil))
	post(t, s, "bob", rctest.RandomRoomID, "fresh news")

	h := loadExample(t, s, "stale_unread_reminder.lua")
	every := h.only("every")
	assert.Equal(t, "15m0s", every.arg, "every 15 minutes")
	h.call(every.fn)
	dms := botDMs(s)
	require.Len(t, dms, 1, "one reminder")
	assert.Contains(t, dms[0], "- #general: new messages, not opened for 6 h", "a plain channel message counts as new messages")
	assert.Contains(t, dms[0], "- ops: 1 unread, not opened for 6 h")
	assert.Contains(t, dms[0], "- @Bob Smith: 1 unread, not opened for 6 h")
	assert.NotContains(t, dms[0], "#random", "a room read recently is not stale")
	assert.NotContains(t, dms[0], "@Alice", "the owner's own DM is left out")

	h.call(every.fn)
	assert.Len(t, botDMs(s), 1, "the same stale room is reminded once")
}

// readmeScript returns the README's complete script whose header names
// name.
func readmeScript(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "```lua\n-- "+name+":")
	require.True(t, ok, "README.md shows %s", name)
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok)
	return "-- " + name + ":" + block
}

// TestReadmeGreetMentions drives the README's greet_mentions.lua with
// snapshots as a busy poller delivers them: a backlog for one room gives
// one answer, and stale snapshots after it none.
func TestReadmeGreetMentions(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	markAllRead(t, c)
	path := filepath.Join(t.TempDir(), "greet_mentions.lua")
	require.NoError(t, os.WriteFile(path, []byte(readmeScript(t, "greet_mentions.lua")), 0o644))
	h := loadScript(t, s, path)
	on := h.only("on")
	ctx := context.Background()
	snapshot := func() []lua.LValue {
		t.Helper()
		sub, err := c.Subscriptions.GetOne(ctx, rctest.RandomRoomID)
		require.NoError(t, err)
		return h.subscriptionArgs(sub)
	}
	answers := func() int {
		n := 0
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.Username == rctest.BotUsername {
				n++
			}
		}
		return n
	}

	var backlog [][]lua.LValue
	for i := range 2 {
		post(t, s, "bob", rctest.RandomRoomID, fmt.Sprintf("@%s question %d", rctest.BotUsername, i))
		backlog = append(backlog, snapshot())
	}
	for _, args := range backlog {
		h.call(on.fn, args...)
	}
	assert.Equal(t, 1, answers(), "a backlog of snapshots gets one answer")
	sub, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	assert.Zero(t, sub.UserMentions, "the room is marked read")

	// The bot's own answer bumped its subscription; that snapshot and the
	// stale ones answer nothing.
	h.call(on.fn, snapshot()...)
	h.call(on.fn, backlog[1]...)
	assert.Equal(t, 1, answers(), "stale snapshots get no answer")

	post(t, s, "carol", rctest.RandomRoomID, "@"+rctest.BotUsername+" me too")
	h.call(on.fn, snapshot()...)
	assert.Equal(t, 2, answers(), "a new mention is answered")
}
