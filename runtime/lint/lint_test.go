package lint_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/lint"
	"github.com/rclua/rclua/runtime/sandbox"
)

// realAPI reads the API from a real sandbox state with the offline rc
// module, as rclua check does; extra changes the state first.
func realAPI(t testing.TB, extra func(L *lua.LState)) *lint.API {
	t.Helper()
	L := sandbox.New(sandbox.Options{})
	t.Cleanup(L.Close)
	luabind.Offline(zerolog.Nop()).Open(L, nil)
	if extra != nil {
		extra(L)
	}
	return lint.FromState(L, luabind.DefaultMinInterval)
}

// findings checks src and renders each finding "line: kind: message".
func findings(t *testing.T, api *lint.API, src string) []string {
	t.Helper()
	fs, err := api.Check("s.lua", []byte(src))
	require.NoError(t, err)
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%d: %s: %s", f.Line, f.Kind, f.Message))
	}
	return out
}

func TestRCPathMissing(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.on("subscription", function(action, sub)
  rc.subscriptions.raed(sub.rid)
end)
local s = rc.subscriptions
local function later() s.getOne("r") end
rc.chat:postMessage{text = "x"}
local x = rc["users"]["infos"]
`)
	require.Len(t, got, 4, "%q", got)
	assert.Equal(t, "3: rc-path: "+luabind.MissingKeyMessage("rc.subscriptions", []string{"get", "get_one", "read", "unread"}, "raed"), got[0], "in a handler, with the strict table's message")
	assert.Contains(t, got[0], "did you mean rc.subscriptions.read?")
	assert.Contains(t, got[1], "6: rc-path: rc.subscriptions.getOne does not exist (did you mean rc.subscriptions.get_one?", "through a local alias")
	assert.Contains(t, got[2], "7: rc-path: rc.chat.postMessage does not exist (did you mean rc.chat.post_message?", "a method call on an rc table")
	assert.Contains(t, got[3], "8: rc-path: rc.users.infos does not exist (did you mean rc.users.info?", "constant string keys")
}

func TestRCPathPresent(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	assert.Empty(t, findings(t, api, `
rc.on("subscription", function(action, sub)
  rc.subscriptions.read(sub.rid)
  local one = rc.subscriptions.get_one(sub.rid)
  local j = rc.json.encode({}); local n = rc.json.null
end)
local s = rc.subscriptions
s.get_one("r")
rc.hear("x", function(msg) msg:reply("y") end)
rc.on("subscription", function(msg) msg:nothing_checked(); local t = msg.text end) -- a subscription, not a message
local h = rc.every("5m", function() end)
h:stop(); h:whatever()
local re = rc.re.compile("a"); re:match("a"); re:nope()
rc.helpers = {}
rc.helpers.anything()
function rc.chat.shout() end
rc.chat.shout()
function rc.log:mine() end
rc.log:mine()
local key = "raed"
local f = rc.subscriptions[key]
s = {}
s.raed()
local rc = {}
rc.anything = 1
print(rc.subscriptions)
`), "methods on values, computed keys, keys the file assigns, a local alias reassigned and a shadowed rc are not checked")
}

// TestRCPathsFromTheRealTable: a namespace added to the state (as every new one
// is) is known to the check without a list of its own.
func TestRCPathsFromTheRealTable(t *testing.T) {
	t.Parallel()
	api := realAPI(t, func(L *lua.LState) {
		rcT := L.GetGlobal("rc").(*lua.LTable)
		widgets := L.NewTable()
		widgets.RawSetString("get", L.NewFunction(func(*lua.LState) int { return 0 }))
		rcT.RawSetString("widgets", widgets)
		L.SetGlobal("extra_global", lua.LTrue)
	})
	assert.Contains(t, api.Paths(), "rc.widgets.get")
	assert.Contains(t, api.Paths(), "rc.chat.post_message")
	assert.Empty(t, findings(t, api, "rc.widgets.get('k'); print(extra_global)"))
	got := findings(t, api, "rc.widgets.gte('k')")
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "rc.widgets.gte does not exist (did you mean rc.widgets.get?")
	assert.Len(t, findings(t, realAPI(t, nil), "rc.widgets.get('k'); print(extra_global)"), 2, "without them, both are findings")
}

func TestUndefinedGlobal(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
local count = 0
rc.every("1m", function()
  count = conut + 1
  undefined_fn()
end)
print(io, require, loadfile)
`)
	require.Len(t, got, 2, "%q", got)
	assert.Equal(t, "4: undefined-global: undefined global conut (did you mean count?)", got[0], "a typo of a local")
	assert.Equal(t, "5: undefined-global: undefined global undefined_fn", got[1])
	// io, require and loadfile are globals of the sandbox (stubs that
	// raise): not findings.
}

func TestDefinedGlobals(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	assert.Empty(t, findings(t, api, `
local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
rc.every("1m", function() helper(); counter = (counter or 0) + 1; print(_G.other, viaG) end)
function helper() return string.format("%d", fact(3)), os.time(), table.concat({}), math.max(1, 2) end
_G.viaG = 1
for i = 1, 3 do print(i) end
for k, v in pairs({}) do print(k, v, ipairs, select, type, tostring, pcall, error, unpack, setmetatable) end
repeat local done = true until done
local a, b = 1
print(a, b, coroutine, load, loadstring, _VERSION)
`), "locals, for variables, recursive local functions, globals assigned anywhere, sandbox globals")
}

// TestEndpointArgs: a constant endpoint rc.get or rc.post refuses (a
// path, a query, one that would end the daemon's session) is a finding,
// in handlers and through an alias; a good one, or a computed one, is not.
func TestEndpointArgs(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.get("/api/v1/me")
rc.on("message", function()
  rc.post("logout")
end)
local post = rc.post
post("rooms.info?roomId=1", {})
`)
	require.Len(t, got, 3, "%q", got)
	assert.Equal(t, `2: endpoint: bad argument #1 to rc.get (invalid endpoint "/api/v1/me": give it without the "/api/v1/" prefix ("me"))`, got[0])
	assert.Contains(t, got[1], `4: endpoint: bad argument #1 to rc.post (endpoint "logout" is refused: it would end or replace the daemon's own session`, "in a handler")
	assert.Contains(t, got[2], `7: endpoint: bad argument #1 to rc.post (invalid endpoint "rooms.info?roomId=1"`, "through an alias")

	assert.Empty(t, findings(t, api, `
rc.get("me")
rc.post("chat.postMessage", {channel = "#general", text = "hi"})
local name = "lo" .. "gout"
rc.post(name)
`))
}

func TestTriggerArgs(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.every("5x", function() end)
rc.every(0.5, function() end)
rc.on("subscription", function()
  rc.cron("61 * * * *", function() end)
end)
local every = rc.every
every("-1s", function() end)
`)
	got = slices.DeleteFunc(got, func(f string) bool { return strings.Contains(f, "trigger-in-handler") }) // see TestTriggerInHandler
	require.Len(t, got, 4, "%q", got)
	assert.Equal(t, `2: trigger-arg: bad argument #1 to rc.every (bad interval "5x": want a duration such as "90s", "5m", "1h30m", "2d" or a number of seconds (10, not "10"))`, got[0])
	assert.Equal(t, `3: trigger-arg: bad argument #1 to rc.every (interval 500ms is below the minimum of 1s)`, got[1])
	assert.Contains(t, got[2], `5: trigger-arg: bad argument #1 to rc.cron (bad cron spec "61 * * * *":`, "in a handler")
	assert.Contains(t, got[3], `8: trigger-arg: bad argument #1 to rc.every (interval -1s is below`, "through an alias")

	assert.Empty(t, findings(t, api, `
rc.every("5m", function() end)
rc.every(60, function() end)
rc.every(0x10, function() end)
rc.cron("0 9 * * 1-5", function() end)
rc.cron("CRON_TZ=Europe/Berlin 30 8 * * *", function() end)
rc.cron("@hourly", function() end)
local d = "bad"
rc.every(d, function() end)
rc.every(d .. "x", function() end)
`), "good constants; arguments that are not constants are left to the load")
}

func TestIgnoreComments(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	src := `
foo() -- rclua: ignore foo
foo() -- rclua: ignore undefined-global
foo() -- rclua: ignore
foo() -- rclua: ignore bar
rc.every("5x", f) -- rclua: ignore trigger-arg, undefined-global
rc.chat.nope() -- rclua: ignore rc.chat.nope
rc.chat.nope() -- rclua: ignore rc-path
rc.chat.nope() -- rclua: ignore trigger-arg
-- rclua: ignore
foo()
`
	got := findings(t, api, src)
	require.Len(t, got, 3, "%q", got)
	assert.True(t, strings.HasPrefix(got[0], "5: undefined-global: undefined global foo"), "another name does not silence it")
	assert.True(t, strings.HasPrefix(got[1], "9: rc-path:"), "another kind does not silence it")
	assert.True(t, strings.HasPrefix(got[2], "11: undefined-global:"), "a comment silences its own line only")
}

// Every kind a finding has is in lint.Kinds (the names rclua check's help
// and the README give an ignore comment), and its name silences it.
func TestEveryKindListed(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	lines := []string{
		`rc.chat.nope()`,
		`foo()`,
		`string.fromat("%d", 1)`,
		`rc.subscriptions.get_one(42)`,
		`rc.hear("^ping", function(msg) msg:replly("pong") end)`,
		`rc.every("5x", function() end)`,
		`rc.get("/api/v1/me")`,
		`rc.config.owner = "x"`,
		`rc.on("message", function() rc.every("1d", function() end) end)`,
	}
	fs, err := api.Check("s.lua", []byte(strings.Join(lines, "\n")))
	require.NoError(t, err)
	var kinds []string
	for _, f := range fs {
		assert.Contains(t, lint.Kinds, f.Kind, "line %d: %s", f.Line, f.Message)
		if !slices.Contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
		silenced := slices.Clone(lines)
		silenced[f.Line-1] += " -- rclua: ignore " + f.Kind
		again, err := api.Check("s.lua", []byte(strings.Join(silenced, "\n")))
		require.NoError(t, err)
		for _, g := range again {
			assert.False(t, g.Line == f.Line && g.Kind == f.Kind, "ignore %s does not silence line %d", f.Kind, f.Line)
		}
	}
	slices.Sort(kinds)
	listed := slices.Sorted(slices.Values(lint.Kinds))
	assert.Equal(t, listed, kinds, "the sample has one finding of each listed kind")
}

func TestCheckRefusesWhatDoesNotParse(t *testing.T) {
	t.Parallel()
	_, err := realAPI(t, nil).Check("bad.lua", []byte("local = 1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.lua")
}

// TestConfigIsData: rc.config is the script's settings, whatever keys its
// section has, so paths below it are not checked; rc.config itself and its
// neighbours still are.
func TestConfigIsData(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	assert.Empty(t, findings(t, api, `local o = rc.config.owner; print(o, rc.config.rooms.general, rc.secret("k"))`))
	got := findings(t, api, `print(rc.confg.owner)`)
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "rc.confg does not exist (did you mean rc.config?")
}

// TestTriggerInHandler: a trigger registered inside a handler literal (it
// would raise on every run of the handler) is a finding, through an alias,
// at any depth of the handler's body, once per call in nested handlers;
// registering from the top level or from a function the top level calls
// is not, and an ignore comment silences it.
func TestTriggerInHandler(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.on("message", function(msg)
  rc.every("1d", function() end)
  if msg then
    local r = rc.respond
    r("x", function() end)
  end
end)
rc.every("1h", function()
  local function later() rc.cron("0 9 * * *", function() end) end
  later()
end)
`)
	require.Len(t, got, 3, "%q", got)
	assert.Equal(t, "3: trigger-in-handler: rc.every in a handler of rc.on: triggers are registered only while the script loads (its top level); this call would raise each time the handler runs", got[0])
	assert.Contains(t, got[1], "6: trigger-in-handler: rc.respond in a handler of rc.on")
	assert.Contains(t, got[2], "10: trigger-in-handler: rc.cron in a handler of rc.every", "in a function defined in the handler")
	assert.Empty(t, findings(t, api, `
local function setup(every)
  rc.every(every, function() rc.log.info("tick") end)
end
setup("1h")
local h = rc.hear("^!stop$", function(msg) end)
rc.on("message", function(msg) h:stop() end)
`), "the top level, a function it calls, a handle stopped in a handler")
	got = findings(t, api, `
rc.on("message", function()
  rc.every("1m", function()
    rc.cron("0 9 * * *", function() end)
  end)
end)
`)
	require.Len(t, got, 2, "one finding per registration in nested handlers: %q", got)
	assert.Contains(t, got[0], "3: trigger-in-handler: rc.every in a handler of rc.on")
	assert.Contains(t, got[1], "4: trigger-in-handler: rc.cron in a handler of rc.on")
	got = findings(t, api, `rc.on("message", function() rc.every("1d", function() end) end) -- rclua: ignore trigger-in-handler`)
	assert.Empty(t, got, "ignored by kind")
}

// TestConfigWrite: an assignment through rc.config itself, with a
// constant or a computed key, is a finding (it changes a copy that is gone
// at once); reading it, and writing a local copy (a default filled in: the
// local keeps it), are not.
func TestConfigWrite(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.config.owner = "x"
rc.config.rooms[1] = "x"
rc.config.rooms.extra = 1
`)
	require.Len(t, got, 3, "%q", got)
	assert.Equal(t, "2: config-write: rc.config.owner is read-only (each read of rc.config is a fresh copy of the settings: change the settings file)", got[0])
	assert.Contains(t, got[1], "3: config-write: rc.config.rooms[...] is read-only")
	assert.Contains(t, got[2], "4: config-write: rc.config.rooms.extra is read-only")
	assert.Empty(t, findings(t, api, `
local c = rc.config
c.interval = c.interval or "5m"
c.rooms[1] = "x"
local r = c.rooms
r.extra = 1
print(c.owner, rc.config.rooms[1], #rc.config.rooms, next(rc.config))
rc.config.x = 1 -- rclua: ignore config-write
local rc = { config = {} }
rc.config.y = 2
`))
}

// TestMethodSelf: a method's body reads its implicit self (function
// M:get(), also nested and on rc tables); an undefined global in a method
// is still reported, and self outside a method is a global like another.
func TestMethodSelf(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	assert.Empty(t, findings(t, api, `
local M = {x = 1}
function M:get() return self.x end
function M.sub:deep() return function() return self end end
function rc.log:mine() return self end
return M
`))
	got := findings(t, api, `
local M = {}
function M:get() return self.x + missing_value end
function M.plain() return self end
`)
	require.Len(t, got, 2, "%q", got)
	assert.Equal(t, "3: undefined-global: undefined global missing_value", got[0])
	assert.Equal(t, "4: undefined-global: undefined global self", got[1], "a function defined with . has no self")
}

// TestLibraryFields: a field of a standard library table that the sandbox
// does not have is a finding, with "did you mean" (string.fromat), or,
// for a library the sandbox withholds, that it is disabled there (io,
// os.exit); through a local too. A field the file adds (function
// string.trim), a test of whether one exists (if ..., or, and, not) and
// the fields that exist are not.
func TestLibraryFields(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
local s = string.fromat("%d", 1)
local u = table.unpack({1})
io.write("x")
os.exit(1)
local str = string
str.uper("x")
`)
	require.Len(t, got, 5, "%q", got)
	assert.Contains(t, got[0], `2: library-field: string.fromat does not exist (did you mean string.format?`)
	assert.NotContains(t, got[0], "__index", "metatable plumbing is not listed")
	assert.Contains(t, got[1], `3: library-field: table.unpack does not exist (Lua 5.1 has unpack; table has:`, "the README's hint")
	assert.Equal(t, `4: library-field: io.write is disabled in the sandbox`, got[2])
	assert.Equal(t, `5: library-field: os.exit is disabled in the sandbox`, got[3])
	assert.Contains(t, got[4], `7: library-field: string.uper does not exist (did you mean string.upper?`, "through a local")

	assert.Empty(t, findings(t, api, `
local f = string.format("%d", math.huge > 1 and 1 or 0)
local unpack = table.unpack or unpack
if string.trim == nil then end
if not table.pack then end
function string.trim(x) return (x:gsub("^%s+", "")) end
print(string.trim(" a"), os.time(), os.date("%Y"), coroutine.wrap, f, unpack)
if type(table.unpack) == "function" then end
`))

	// A field a required module adds to a library table is no finding;
	// one it does not add still is.
	util := []byte("function string.startswith(s, p) return s:sub(1, #p) == p end\nreturn {}")
	fs, err := api.CheckModules("s.lua", []byte(`require("util")
print(string.startswith("ab", "a"), string.endswith("ab", "b"))
`), func(name string) ([]byte, bool) { return util, name == "util" })
	require.NoError(t, err)
	require.Len(t, fs, 1, "%+v", fs)
	assert.Equal(t, "string.endswith", fs[0].Name)
}

// TestCallArgs: a literal argument of an rc function that its documented
// parameter does not take (a number for a room id, a string for an
// options table), an unknown key of a literal options table, and an
// argument past the last are findings, in handlers and through an alias;
// the calls the README shows, computed arguments and a trailing call's
// values are not.
func TestCallArgs(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.subscriptions.get_one(42)
rc.on("message", function(msg)
  rc.chat.post_message{chanel = "#general", text = "x"}
end)
local post = rc.chat.post_message
post("hi")
rc.subscriptions.read("R", {threads = true})
rc.me(1)
rc.store.incr("k", "x")
rc.hear(42, function() end)
rc.me(1, rc.me())
`)
	require.Len(t, got, 8, "%q", got)
	assert.Equal(t, `11: call-arg: bad argument #1 to rc.hear (pattern: string|rc.Re expected, got number)`, got[6])
	assert.Equal(t, `12: call-arg: bad argument #1 to rc.me (unexpected argument: rc.me takes no arguments)`, got[7], "a trailing call does not hide an argument before it")
	assert.Equal(t, `2: call-arg: bad argument #1 to rc.subscriptions.get_one (room_id: string expected, got number)`, got[0])
	assert.Equal(t, `4: call-arg: bad argument #1 to rc.chat.post_message (unknown option "chanel" (did you mean channel?))`, got[1])
	assert.Equal(t, `7: call-arg: bad argument #1 to rc.chat.post_message (msg: table expected, got string)`, got[2])
	assert.Equal(t, `8: call-arg: bad argument #2 to rc.subscriptions.read (unknown option "threads" (known: read_threads))`, got[3])
	assert.Equal(t, `9: call-arg: bad argument #1 to rc.me (unexpected argument: rc.me takes no arguments)`, got[4])
	assert.Equal(t, `10: call-arg: bad argument #2 to rc.store.incr (n: number expected, got string)`, got[5])

	assert.Empty(t, findings(t, api, `
rc.log.info(42)
rc.log.info("m", {a = 1, room = "x"})
rc.store.set("k", {1, 2}, {ttl = "1h"})
rc.store.set("k", nil)
rc.get("me", {roomId = "x"})
rc.subscriptions.unread({first_unread_message = "m"})
rc.subscriptions.unread("R")
rc.subscriptions.get()
rc.subscriptions.get{updated_since = 0}
local t = {}
rc.chat.post_message(t)
rc.chat.post_message{channel = "#general", text = "hi", attachments = {{text = "a"}}}
rc.rooms.info{room_name = "general"}
rc.json.encode(nil)
print(rc.json.decode(rc.json.encode({})))
rc.every("1m", function() end)
local function f(...) return rc.chat.react(...) end
rc.chat.post_message{room_id = "r", text = "t", thread = nil}
rc.get("me", rc.me())
`))
}

// TestMessageHandlers: in a handler of rc.hear, rc.respond and
// rc.on("message"), the first parameter is the message: a method it has
// not (msg:replly), an option msg:reply does not take (tmid, worded as at
// run time) and a field another bot's message has but Rocket.Chat's not
// (Hubot's msg.text) are findings; the same calls on a value not known
// to be a message, a reassigned msg and a write of msg.text are not.
func TestMessageHandlers(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.hear("^ping", function(msg)
  msg:replly("pong")
end)
rc.respond("x", function(m) m:reply { text = "pong", tmid = m._id } end)
rc.on("message", function(msg, action)
  if msg.text == "hi" then msg:react("wave") end
  local who = msg.user
end)
rc.hear("y", function(msg)
  msg:reply { text = "ok", thread = true }
  msg.text = msg.msg -- a write: the script's own field from here on
  local t = msg.text
  msg = { text = "x" }; msg:anything()
end)
rc.respond("z", function(m) m:replly("x"); return m.room end)
`)
	assert.Equal(t, []string{
		`3: message: msg:replly: a message has no method replly (did you mean msg:reply?)`,
		`5: call-arg: bad argument #1 to msg:reply (unknown option "tmid" (known: text, attachments, thread))`,
		`7: message: a Rocket.Chat message has no field "text" (it is nil): use msg.msg`,
		`8: message: a Rocket.Chat message has no field "user" (it is nil): use msg.u (msg.u.username, msg.u._id)`,
		`16: message: m:replly: a message has no method replly (did you mean m:reply?)`,
		`16: message: a Rocket.Chat message has no field "room" (it is nil): use m.rid (the room's id)`,
	}, got)
	assert.Empty(t, findings(t, api, `rc.respond("z", function(m) m:replly("x") end) -- rclua: ignore m:replly`+"\n"), "silenced by the name it is reported under")
}

// TestNamedHandlers: a handler passed by name (a local function, a local
// assigned a function, a global function defined before or after the
// registration) is read as a handler too: its message checks and
// trigger-in-handler, each reported once however many triggers name it,
// without repeating what its definition's walk found; a name assigned
// again, a global defined twice, a table's field and a subscription
// handler are not read as message handlers.
func TestNamedHandlers(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
local function on_ping(msg)
  msg:replly("pong")
  rc.subscriptions.raed("x")
end
rc.hear("^!ping", on_ping)
rc.respond("ping", on_ping)
local on_echo
on_echo = function(m) return m.text end
rc.respond("echo", on_echo)
rc.on("message", later)
function later(msg, action)
  rc.every("1h", function() end)
  return msg.user
end
`)
	assert.Equal(t, []string{
		`3: message: msg:replly: a message has no method replly (did you mean msg:reply?)`,
		`4: rc-path: rc.subscriptions.raed does not exist (did you mean rc.subscriptions.read? rc.subscriptions has: get, get_one, read, unread)`,
		`9: message: a Rocket.Chat message has no field "text" (it is nil): use m.msg`,
		`13: trigger-in-handler: rc.every in a handler of rc.on: triggers are registered only while the script loads (its top level); this call would raise each time the handler runs`,
		`14: message: a Rocket.Chat message has no field "user" (it is nil): use msg.u (msg.u.username, msg.u._id)`,
	}, got)
	assert.Empty(t, findings(t, api, `
local function h(msg) return msg.text end
h = function() end
rc.hear("a", h)
function twice(msg) return msg.text end
function twice(msg) return msg.room end
rc.hear("b", twice)
local M = {}
function M.on(msg) return msg.text end
rc.hear("c", M.on)
local function sub(s) return s.text end
rc.on("subscription", sub)
local function setup() rc.every("1h", function() end) end
setup()
`), "not followed: reassigned, defined twice, a field, a subscription handler; a function the top level calls")
	got = findings(t, api, `
local function on_msg(msg) msg:replly("a") end
rc.hear("^a", on_msg)
on_msg = function(m) end
local function later(msg) msg:raect("x") end
rc.hear("^b", later)
local function later(msg) msg:nothing() end
`)
	assert.Equal(t, []string{
		`2: message: msg:replly: a message has no method replly (did you mean msg:reply?)`,
		`5: message: msg:raect: a message has no method raect (did you mean msg:react?)`,
	}, got, "a local's function as it was when registered, not what the name holds at the end")
}

// TestStoreTTLConstant: a constant ttl that rc.store.set refuses is a
// finding with its run-time message; a good one, a computed one and a
// ttl of another function are not.
func TestStoreTTLConstant(t *testing.T) {
	t.Parallel()
	api := realAPI(t, nil)
	got := findings(t, api, `
rc.every("1h", function()
  rc.store.set("a", 1, { ttl = "1 day" })
  rc.store.set("b", 1, { ttl = -5 })
  rc.store.set("c", 1, { ttl = "36h" })
  rc.store.set("d", 1, { ttl = 90 })
  local d = "1 day"
  rc.store.set("e", 1, { ttl = d })
end)
`)
	require.Len(t, got, 2, "%q", got)
	_, err := luabind.ParseTTL(lua.LString("1 day"))
	require.Error(t, err)
	assert.Equal(t, "3: call-arg: bad argument #3 to rc.store.set ("+err.Error()+")", got[0])
	assert.True(t, strings.HasPrefix(got[1], "4: call-arg: bad argument #3 to rc.store.set (ttl "), got[1])
}

// TestRequires: the modules required by a constant name anywhere in a
// script (handlers, rc method calls, nested functions), and through the
// modules it so requires; not a computed name, not a shadowed require,
// nothing through a module that does not parse.
func TestRequires(t *testing.T) {
	t.Parallel()
	mods := map[string]string{
		"a":     `return {f = function() return require("sub.b") end}`,
		"sub.b": `require("c")`,
		"c":     `return 1`,
		"bad":   `return {`,
	}
	find := func(name string) ([]byte, bool) {
		src, ok := mods[name]
		return []byte(src), ok
	}
	got, err := lint.Requires("s.lua", []byte(`local x = "dyn"
rc.every("1m", function() local m = require("a"); require(x) end)
rc.hear("x", function(msg) msg:reply(require("bad").v) end)
do local require = print; require("shadowed") end
`), find)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"a": true, "sub.b": true, "c": true, "bad": true}, got)

	got, err = lint.Requires("s.lua", []byte(`require("a")`), nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"a": true}, got, "find nil: not followed")

	_, err = lint.Requires("s.lua", []byte(`require(`), find)
	assert.Error(t, err)
}
