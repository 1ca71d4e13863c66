package luabind

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// The bot of the message tests and the room ids it sees.
var testBot = rc.UserRef{ID: "BOT", Username: "rclua.bot"}

const (
	general = "GENERAL"
	dmAlice = "U_ALICEBOT" // alice's (U_ALICE's) direct room with the bot: the two ids joined
)

// msgEnv is a state with the module on a fake, knowing bot, and a host
// recording the triggers; fire delivers events to them as the host does.
type msgEnv struct {
	L    *lua.LState
	fake *fake
	host *recordingHost
}

func newMsgEnv(t *testing.T, bot rc.UserRef, script string) *msgEnv {
	t.Helper()
	e := &msgEnv{L: lua.NewState(), fake: newFake(), host: &recordingHost{}}
	t.Cleanup(e.L.Close)
	m := e.fake.module()
	m.Logger = zerolog.Nop()
	m.Bot = bot
	m.Open(e.L, e.host)
	e.L.SetGlobal("fake", e.fake.luaTable(e.L))
	require.Empty(t, runChunk(t, e.L, "t.lua", "got = rc.json.array()\n"+script))
	return e
}

// message is the JSON of a message: fields over a plain one from alice in
// #general.
func message(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	m := map[string]any{"_id": "M1", "rid": general, "msg": "hello", "ts": "2024-07-03T09:46:40.000Z",
		"u": map[string]any{"_id": "U_ALICE", "username": "alice", "name": "Alice"}, "mentions": []any{}, "channels": []any{},
		"_updatedAt": "2024-07-03T09:46:40.000Z"}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// fire hands a message event to every message trigger, as the host does
// (each its own arguments, in protected mode), failing on an error.
func (e *msgEnv) fire(t *testing.T, action string, raw []byte) {
	t.Helper()
	for _, tr := range e.host.got {
		if tr.Event != "message" {
			continue
		}
		args, err := EventArgs(e.L, "message", action, raw)
		require.NoError(t, err)
		require.NoError(t, e.L.CallByParam(lua.P{Fn: tr.Fn, Protect: true}, args...), tr.Label())
	}
}

// got returns the global got as JSON and empties it.
func (e *msgEnv) got(t *testing.T) string {
	t.Helper()
	b, err := luajson.Encode(context.Background(), e.L.GetGlobal("got"))
	require.NoError(t, err)
	require.NoError(t, e.L.DoString("got = rc.json.array()"))
	return string(b)
}

func TestHearMatchesAndCaptures(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `
rc.hear("^!ping$", function(msg, ...) got[#got + 1] = {"ping", msg._id, ...} end)
rc.hear("deploy (%w+) to (%w+)", function(msg, what, env) got[#got + 1] = {"deploy", what, env} end)
rc.hear("()@()", function(msg, a, b) got[#got + 1] = {"at", a, b} end)
rc.hear(rc.re.compile([[(?i)^status(?:\s+(\w+))?$]]), function(msg, ...) got[#got + 1] = {"status", ...} end)
rc.hear(rc.re.compile("é+"), function(msg, ...) got[#got + 1] = {"é", ...} end)`)
	for _, tc := range []struct{ text, want string }{
		{"!ping", `[["ping","M1","!ping"]]`},
		{"!ping please", `[]`},
		{"please deploy api to prod now", `[["deploy","api","prod"]]`},
		{"mail me @ home", `[["at",9,10]]`},
		{"STATUS web", `[["status","web"]]`},
		{"status", `[["status",false]]`},
		{"ééé!", `[["é","ééé"]]`},
		{"nothing here", `[]`},
	} {
		e.fire(t, "created", message(t, map[string]any{"msg": tc.text}))
		assert.Equal(t, tc.want, e.got(t), tc.text)
	}
	require.Len(t, e.host.got, 5)
	assert.Equal(t, `hear "^!ping$" (t.lua:3)`, e.host.got[0].Label())
	assert.Equal(t, `hear rc.re("(?i)^status(?:\\s+(\\w+))?$") (t.lua:6)`, e.host.got[3].Label())
	assert.Equal(t, "message", e.host.got[0].Event)
	assert.Equal(t, Hear, e.host.got[0].Kind)
}

func TestRespondAddressing(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `
rc.respond("^ping$", function(msg, m) got[#got + 1] = m end)
rc.respond("^deploy (%a+)$", function(msg, env) got[#got + 1] = "deploy " .. env end)`)
	for _, tc := range []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"a mention", map[string]any{"msg": "@rclua.bot ping"}, `["ping"]`},
		{"a colon", map[string]any{"msg": "@rclua.bot: ping"}, `["ping"]`},
		{"a comma", map[string]any{"msg": "@rclua.bot, deploy prod"}, `["deploy prod"]`},
		{"no space after the colon", map[string]any{"msg": "@rclua.bot:ping"}, `["ping"]`},
		{"white space and case", map[string]any{"msg": " \t@RCLUA.Bot   ping"}, `["ping"]`},
		{"a DM", map[string]any{"msg": "ping", "rid": dmAlice}, `["ping"]`},
		{"a DM with a mention", map[string]any{"msg": "@rclua.bot ping", "rid": dmAlice}, `["ping"]`},
		{"another name that starts alike", map[string]any{"msg": "@rclua.botfoo ping"}, `[]`},
		{"a longer name", map[string]any{"msg": "@rclua.bot.x ping"}, `[]`},
		{"someone else's mention", map[string]any{"msg": "@alice ping"}, `[]`},
		{"a mention not first", map[string]any{"msg": "hey @rclua.bot ping"}, `[]`},
		{"no mention in a room", map[string]any{"msg": "ping"}, `[]`},
		{"others' DM", map[string]any{"msg": "ping", "rid": "U_ALICEU_BOB"}, `[]`},
		{"the mention alone", map[string]any{"msg": "@rclua.bot"}, `[]`},
		{"a DM in the other order", map[string]any{"msg": "ping", "rid": "BOTU_ALICE"}, `["ping"]`},
	} {
		e.fire(t, "created", message(t, tc.fields))
		assert.Equal(t, tc.want, e.got(t), tc.name)
	}

	empty := newMsgEnv(t, testBot, `rc.respond("^$", function(msg, m) got[#got + 1] = "empty" end)`)
	empty.fire(t, "created", message(t, map[string]any{"msg": "@rclua.bot"}))
	assert.Equal(t, `["empty"]`, empty.got(t), "the mention alone leaves an empty text")

	nobody := newMsgEnv(t, rc.UserRef{}, `rc.respond("ping", function(msg) got[#got + 1] = msg._id end)`)
	nobody.fire(t, "created", message(t, map[string]any{"msg": "@rclua.bot ping"}))
	nobody.fire(t, "created", message(t, map[string]any{"msg": "ping", "rid": dmAlice}))
	assert.Equal(t, `[]`, nobody.got(t), "without the bot's identity nothing is addressed to it")
}

func TestMessageTriggersFilter(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `
rc.on("message", function(msg, action) got[#got + 1] = {"on", action, msg.msg} end)
rc.hear("x", function(msg) got[#got + 1] = {"hear", msg.msg} end)
rc.respond("x", function(msg) got[#got + 1] = {"respond", msg.msg} end)`)
	fire := func(action string, fields map[string]any) string {
		e.fire(t, action, message(t, fields))
		return e.got(t)
	}
	assert.Equal(t, `[["on","created","x"],["hear","x"],["respond","x"]]`, fire("created", map[string]any{"msg": "x", "rid": dmAlice}))
	assert.Equal(t, `[]`, fire("created", map[string]any{"msg": "x", "u": map[string]any{"_id": "BOT", "username": "rclua.bot"}}),
		"the bot's own messages reach no trigger")
	assert.Equal(t, `[]`, fire("updated", map[string]any{"msg": "x", "rid": dmAlice, "u": map[string]any{"_id": "BOT", "username": "rclua.bot"}}))
	assert.Equal(t, `[["on","updated","x"]]`, fire("updated", map[string]any{"msg": "x", "rid": dmAlice, "editedAt": "2024-07-03T09:50:00.000Z"}),
		"an edit reaches rc.on only, with its action")
	assert.Equal(t, `[["on","created","x"]]`, fire("created", map[string]any{"msg": "x", "rid": dmAlice, "editedAt": "2024-07-03T09:50:00.000Z"}),
		"an edited message is not heard, whatever its action")
	assert.Equal(t, `[["on","created","x"]]`, fire("created", map[string]any{"msg": "x", "rid": dmAlice, "t": "uj"}),
		"a system message reaches rc.on only")
	assert.Equal(t, `[["on","created","x"],["hear","x"],["respond","x"]]`,
		fire("created", map[string]any{"msg": "x", "rid": dmAlice, "t": nil, "editedAt": nil, "tmid": "T1"}), "a thread reply is a new message")
	assert.Equal(t, `[["on","created"]]`, fire("created", map[string]any{"msg": nil, "rid": dmAlice}), "no text: nothing to match")

	byName := newMsgEnv(t, rc.UserRef{Username: "rclua.bot"}, `rc.on("message", function(msg) got[#got + 1] = msg._id end)`)
	byName.fire(t, "created", message(t, map[string]any{"u": map[string]any{"_id": "X", "username": "rclua.bot"}}))
	byName.fire(t, "created", message(t, map[string]any{"_id": "M2"}))
	assert.Equal(t, `["M2"]`, byName.got(t), "without the bot's id, its own messages are known by username")
}

func TestMessageTable(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `rc.on("message", function(msg, action) last = msg end)`)
	raw := message(t, map[string]any{"reactions": map[string]any{":eyes:": map[string]any{"usernames": []any{"bob"}}}})
	e.fire(t, "created", raw)
	require.Empty(t, runChunk(t, e.L, "m.lua", `
assert(last.u.username == "alice" and last.msg == "hello")
assert(type(last.reply) == "function" and type(last.react) == "function", "methods through the metatable")
assert(rawget(last, "reply") == nil, "no key of the table")
for k in pairs(last) do assert(k ~= "reply" and k ~= "react", k) end
assert(last.no_such_field == nil, "a data table: not strict")
local j = rc.json.encode(last)
assert(not j:find("reply"), j)
assert(rc.json.decode(j).reactions[":eyes:"].usernames[1] == "bob")
assert(rc.json.encode(last.mentions) == "[]")`))
	var back map[string]any
	s, err := luajson.Encode(context.Background(), e.L.GetGlobal("last"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(s, &back))
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	assert.Equal(t, want, back, "the server's message, exactly")

	_, err = EventArgs(e.L, "message", "created", []byte(`[1]`))
	assert.ErrorContains(t, err, "message event: not a JSON object")
	_, err = EventArgs(e.L, "message", "created", []byte(`{"_id":`))
	assert.ErrorContains(t, err, "message event: json:")
}

func TestMessageReplyAndReact(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `rc.on("message", function(msg) last = msg end)`)
	post := func(fields map[string]any, src string) map[string]string {
		t.Helper()
		e.fire(t, "created", message(t, fields))
		require.Empty(t, runChunk(t, e.L, "r.lua", src))
		out := map[string]string{}
		e.L.GetGlobal("p").(*lua.LTable).ForEach(func(k, v lua.LValue) { out[k.String()] = v.String() })
		return out
	}
	const top = `local m = assert(last:reply("pong")); assert(m.msg == "pong"); p = fake.last().post`
	assert.Equal(t, map[string]string{"room_id": general, "text": "pong"}, post(nil, top), "a room message: a reply in the room")
	assert.Equal(t, map[string]string{"room_id": general, "text": "pong", "tmid": "T1"}, post(map[string]any{"tmid": "T1"}, top),
		"a thread message: a reply in its thread")
	assert.Equal(t, map[string]string{"room_id": general, "text": "in thread", "tmid": "M1"},
		post(nil, `assert(last:reply{text = "in thread", thread = true}); p = fake.last().post`), "thread = true starts a thread")
	assert.Equal(t, map[string]string{"room_id": general, "text": "to the room"},
		post(map[string]any{"tmid": "T1"}, `assert(last:reply{text = "to the room", thread = false}); p = fake.last().post`))
	assert.Equal(t, map[string]string{"room_id": dmAlice, "text": "see", "attachments": `[{"title":"T"}]`},
		post(map[string]any{"rid": dmAlice}, `assert(last:reply{text = "see", attachments = {{title = "T"}}}); p = fake.last().post`))

	e.fire(t, "created", message(t, nil))
	require.Empty(t, runChunk(t, e.L, "react.lua", `
assert(last:react("eyes") == true)
local c = fake.last()
assert(c.method == "chat.react" and c.message_id == "M1" and c.emoji == "eyes" and c.should_react == true)
fake.fail_next("server")
local ok, err = last:reply("x")
assert(ok == nil and err.status == 400)`))
	for src, want := range map[string]string{
		// Lua's numbering for methods: self is "bad self", the first argument after it #1.
		`last.reply("pong")`:                   `calling msg:reply on bad self (message table expected (call it as msg:reply(...)), got string)`,
		`last.react()`:                         `calling msg:react on bad self (message table expected (call it as msg:react(...)), got nil)`,
		`last:reply(1)`:                        `bad argument #1 to msg:reply (text or table expected, got number)`,
		`last:reply{text = "x", thread = 1}`:   `bad argument #1 to msg:reply (thread: boolean expected, got number)`,
		`last:reply{text = "x", thred = true}`: `bad argument #1 to msg:reply (unknown option "thred")`,
		`last:reply{text = 1}`:                 `bad argument #1 to msg:reply (text: string expected, got number)`,
		`last:reply{attachments = 1}`:          `bad argument #1 to msg:reply (attachments: table expected, got number)`,
		`last:reply{[1] = "x"}`:                `bad argument #1 to msg:reply (unknown option 1 (option keys are strings))`,
		`last:react()`:                         `bad argument #1 to msg:react (emoji: string expected, got nil)`,
		`last:react("")`:                       `bad argument #1 to msg:react (emoji must not be empty)`,
		`last.reply(last, 1)`:                  `bad argument #1 to msg:reply (text or table expected, got number)`,
		`last.rid = nil; last:reply("x")`:      `msg:reply: the message has no rid`,
		`last._id = nil; last:react("eyes")`:   `msg:react: the message has no _id`,
		`local m = {rid = "R"}; m.reply = last.reply; m:reply{text = "x", thread = true}`: `msg:reply: the message has no _id to reply in its thread`,
	} {
		e.fire(t, "created", message(t, nil))
		assert.Contains(t, runChunk(t, e.L, "bad.lua", src), "bad.lua:1: "+want, src)
	}
}

func TestHandles(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `
handles = {
  rc.on("subscription", function() end),
  rc.every("1m", function() end),
  rc.cron("@hourly", function() end),
  rc.hear("x", function() end),
  rc.respond(rc.re.compile("y"), function() end),
}`)
	require.Len(t, e.host.got, 5)
	require.Empty(t, runChunk(t, e.L, "h.lua", `
assert(tostring(handles[1]) == "rc.trigger: on subscription (t.lua:4)", tostring(handles[1]))
assert(tostring(handles[5]) == 'rc.trigger: respond rc.re("y") (t.lua:8)', tostring(handles[5]))
handles[4]:stop()
handles[4]:stop()
handles[2]:stop()`))
	assert.Equal(t, []int{0, 1, 0, 1, 0}, e.host.stops, "each stop reaches the host once")
	assert.Contains(t, runChunk(t, e.L, "bad.lua", `handles[1].stop()`),
		"bad.lua:1: calling handle:stop on bad self (a trigger's handle expected (call it as handle:stop()), got nil)")
	assert.Contains(t, runChunk(t, e.L, "bad.lua", `handles[1].stop(handles[2].stop)`),
		"bad.lua:1: calling handle:stop on bad self (a trigger's handle expected (call it as handle:stop()), got function)")
	assert.Contains(t, runChunk(t, e.L, "bad.lua", `handles[1]:Stop()`),
		"bad.lua:1: handle.Stop does not exist (did you mean handle.stop? handle has: stop)")
}

func TestPatternArgumentErrors(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]string{
		`rc.hear("[a", print)`:                      `bad argument #1 to rc.hear (bad pattern "[a": malformed pattern (missing ']'))`,
		`rc.respond(42, print)`:                     `bad argument #1 to rc.respond (pattern expected (a Lua pattern string or an rc.re object), got number)`,
		`rc.hear(rc.json.null, print)`:              `bad argument #1 to rc.hear (pattern expected (a Lua pattern string or an rc.re object), got rc.json.null)`,
		`rc.hear("x")`:                              `bad argument #2 to rc.hear (function expected, got nil)`,
		`rc.hear(rc.re.compile("("), print)`:        "rc.re.compile: bad expression \"(\": missing closing ): `(`",
		`local r = rc.re.compile("a**")`:            "rc.re.compile: bad expression \"a**\": invalid nested repetition operator: `**`",
		`rc.re.compile({})`:                         `bad argument #1 to rc.re.compile (string expected, got table)`,
		`rc.re.Compile("x")`:                        `rc.re.Compile does not exist (did you mean rc.re.compile? rc.re has: compile)`,
		`rc.on("message", "f")`:                     `bad argument #2 to rc.on (function expected, got string)`,
		`local r = rc.re.compile("x"); r:matches()`: `re.matches does not exist (did you mean re.match? re has: find, gmatch, gsub, match, source)`,
	} {
		e := newMsgEnv(t, testBot, "")
		msg := runChunk(t, e.L, "bad.lua", "\n"+src)
		assert.Contains(t, msg, "bad.lua:2: "+want, src)
		assert.Empty(t, e.host.got, "%s: nothing registered", src)
	}
	e := newMsgEnv(t, testBot, "")
	assert.Contains(t, runChunk(t, e.L, "long.lua", `rc.re.compile(string.rep("a", 70000))`), "expression longer than 65536 bytes")
}

// TestHearPatternDeadline: a Lua pattern that backtracks for ever ends
// with the handler's deadline, as string.find's do.
func TestHearPatternDeadline(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `rc.hear(string.rep("a*", 30) .. "b", function() got[1] = "matched" end)`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.L.SetContext(ctx)
	args, err := EventArgs(e.L, "message", "created", message(t, map[string]any{"msg": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}))
	require.NoError(t, err)
	err = e.L.CallByParam(lua.P{Fn: e.host.got[0].Fn, Protect: true}, args...)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "context canceled")
}

// TestMessageBodiesAreCountedAsJSON: a message's body is bounded by what
// it takes as JSON, not by its strings' lengths: 3 MiB of control
// characters are 18 MiB escaped, and text and attachments count together;
// msg:reply, rc.chat.post_message and rc.chat.update refuse before any
// request, and the same text in plain letters goes.
func TestMessageBodiesAreCountedAsJSON(t *testing.T) {
	t.Parallel()
	e := newMsgEnv(t, testBot, `rc.on("message", function(msg) last = msg end)`)
	e.fire(t, "created", message(t, nil))
	require.Empty(t, runChunk(t, e.L, "big.lua", limitsPrelude+`
local ctl = string.rep("\1", 3 * 1024 * 1024)
local half = string.rep("x", 9 * 1024 * 1024)
local calls = fake.count()
raises("msg:reply: the message as JSON (text, alias, emoji, avatar and attachments together) exceeds the limit of 16777216 bytes", last.reply, last, ctl)
raises("rc.chat.post_message: the message as JSON", rc.chat.post_message, {channel = "#a", text = ctl})
raises("rc.chat.post_message: the message as JSON", rc.chat.post_message, {channel = "#a", text = half, attachments = {{text = half}}})
raises("rc.chat.update: the text as JSON exceeds the limit", rc.chat.update, {room_id = "r", message_id = "m", text = ctl})
-- An id, a name or an emoji is short: a long one would be escaped many
-- times over by any route.
local id = string.rep("\1", 1025)
raises("channel: 1025 bytes, more than the 1024 an id or a name may have", rc.chat.post_message, {channel = id, text = "x"})
raises("tmid: 1025 bytes", rc.chat.post_message, {room_id = "r", tmid = id, text = "x"})
raises("message_id: 1025 bytes", rc.chat.update, {room_id = "r", message_id = id, text = "x"})
raises("emoji: 1025 bytes", last.react, last, id)
raises("room_id: 1025 bytes", rc.subscriptions.read, id)
raises("room_name: 1025 bytes", rc.rooms.info, {room_name = id})
assert(fake.count() == calls, "nothing was sent")
assert(last:reply(string.rep("x", 3 * 1024 * 1024)))
assert(rc.chat.post_message{channel = "#a", text = half})
assert(fake.count() == calls + 2)
-- Just under the cap, the body's keys can still pass it: the client
-- refuses it before sending, a limit too.
fake.fail_next("too_large")
local m, err = rc.chat.post_message{channel = "#a", text = half}
assert(m == nil and err.error_type == "limit" and err.status == 0, tostring(err))
`))
}

// TestJSONLen: jsonLen is the length encoding/json gives a string, HTML
// characters unescaped (as the rc client sends it).
func TestJSONLen(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", "a\"b\\c", "\n\r\t\b\f", "\x00\x01\x1f", "<>&", "é€😀", "\xff\xfe", "\u2028\u2029", "mixed \x01 é \xff <"} {
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		assert.Equal(t, len(strings.TrimSuffix(buf.String(), "\n")), jsonLen(s), "%q", s)
	}
}
