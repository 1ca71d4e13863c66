package scripttest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// files writes a script and its test file into a new folder and returns
// the test file's path.
func files(t testing.TB, script, test string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "s.lua"), []byte(script), 0o644))
	path := filepath.Join(dir, "s_test.lua")
	require.NoError(t, os.WriteFile(path, []byte(test), 0o644))
	return path
}

// results runs path and returns its results by test name.
func results(t *testing.T, path string, opts Options) map[string]Result {
	t.Helper()
	res, err := RunFile(context.Background(), path, opts)
	require.NoError(t, err)
	out := map[string]Result{}
	for _, r := range res {
		out[r.Name] = r
	}
	return out
}

// TestTimersFireInOrderOnTheFakeClock: rc.every and rc.cron fire in due
// order, each with the clock at its due time; cron specs read the test's
// zone (t.start) unless they name one with CRON_TZ; a stopped timer stays
// stopped; os.date reads the fake clock in the test's zone.
func TestTimersFireInOrderOnTheFakeClock(t *testing.T) {
	t.Parallel()
	path := files(t, `
local function note(what) rc.log.info(what .. " " .. os.date("%d %H:%M")) end
rc.every("40m", function() note("every") end)
rc.cron("0 9 * * 1-5", function() note("cron") end)
rc.cron("CRON_TZ=UTC 0 9 * * *", function() note("utc") end)
local h
h = rc.every("1h", function() note("once"); h:stop() end)
`, `
t.start("2026-12-07T08:00:00", "Europe/Berlin")

function test_order()
  t.set_time("2026-12-07T10:40:00")
  local got = {}
  for _, l in ipairs(t.logs()) do got[#got + 1] = l.message end
  t.eq(got, {
    "every 07 08:40", "cron 07 09:00", "once 07 09:00", "every 07 09:20",
    "every 07 10:00", "utc 07 10:00", "every 07 10:40", -- the same time: in registration order
  })
end

function test_weekend()
  t.set_time("2026-12-12T08:59:00") -- Saturday
  t.advance("61m")
  local got = {}
  for _, l in ipairs(t.logs()) do got[#got + 1] = l.message end
  t.ok(not table.concat(got, ","):find("cron 12", 1, true), "no weekday cron on Saturday")
  t.contains(got, "utc 12 10:00", "the UTC cron fires every day, at 10:00 in Berlin")
end

function test_os_time_is_the_fake_clock()
  t.eq(os.date("%Y-%m-%d %H:%M"), "2026-12-07 08:00", "the test file reads the fake clock in its zone")
  t.advance("2h")
  t.eq(t.now(), os.time())
end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_order", "test_weekend", "test_os_time_is_the_fake_clock"} {
		assert.True(t, r[name].Passed, "%+v", r[name])
	}
}

// TestCronAcrossDaylightSavingTime: in the test's zone, a daily job at a
// time the clock skips (02:30 in Paris on the last Sunday of March) runs
// at the change that day, and one at a time the clock repeats (the last
// Sunday of October) runs once, as in the daemon.
func TestCronAcrossDaylightSavingTime(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.cron("30 2 * * *", function() rc.log.info(os.date("!%d %H:%M")) end)
`, `
t.start("2026-03-28T00:00:00", "Europe/Paris")

local function fired(from)
  local got = {}
  for i, l in ipairs(t.logs()) do
    if i > (from or 0) then got[#got + 1] = l.message end
  end
  return got
end

function test_spring()
  t.set_time("2026-03-30T12:00:00")
  t.eq(fired(), { "28 01:30", "29 01:00", "30 00:30" }) -- UTC
end

function test_autumn()
  t.set_time("2026-10-24T12:00:00")
  local before = #t.logs()
  t.set_time("2026-10-26T12:00:00")
  t.eq(fired(before), { "25 00:30", "26 01:30" })
end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_spring", "test_autumn"} {
		assert.True(t, r[name].Passed, "%+v", r[name])
	}
}

// TestFailuresNameTheTestFileLine: a failed assertion gives the test
// file's file:line and both values (tables compared deeply and shown);
// a Lua error in a test, an unexpected handler failure (with the script's
// file:line), and a script that does not load fail the test too; --run
// selects; each test starts afresh.
func TestFailuresNameTheTestFileLine(t *testing.T) {
	t.Parallel()
	path := files(t, `
count = 0
rc.hear("^boom", function() error("exploded") end)
rc.hear("^hi", function(msg) count = count + 1; msg:reply("hi " .. count) end)
`, `function test_deep()
  t.post { room = "#general", text = "hi" }
  t.eq(t.posted(), { { room = "#general", text = "hi 2" } })
end

function test_fresh_each_time()
  t.post { room = "#general", text = "hi" }
  t.eq(t.posted()[1].text, "hi 1", "a fresh state per test")
end

function test_lua_error()
  local x = nil
  return x.y
end

function test_unexpected_handler_failure()
  t.post { room = "#general", text = "boom" }
end

function test_expected_handler_failure()
  t.post { room = "#general", text = "boom" }
  t.contains(t.errors()[1], "s.lua:3: exploded")
end

function test_refusals()
  t.advance(-1)
end

function test_assertion_after_handler_failure()
  t.post { room = "#general", text = "boom" }
  t.post { room = "#general", text = "boom" }
  t.eq(t.posted(), { { room = "#general", text = "boomed" } })
end

function test_set_time_backwards()
  t.set_time("2020-01-01T00:00:00")
end

function test_unknown_option()
  t.post { room = "#general", text = "hi", usr = "bob" }
end

function test_unknown_user()
  t.post { room = "#general", text = "hi", user = "mallory" }
end

function test_unknown_room()
  for _, room in ipairs({ "#general", "#random", "#empty", "#nosub" }) do
    t.post { room = room, text = "the rooms the message names exist" }
  end
  t.post { room = "#nope", text = "hi" }
end

function test_misspelt_t_function()
  t.postd { room = "#general", text = "hi" }
end
`)
	r := results(t, path, Options{})
	deep := r["test_deep"]
	assert.False(t, deep.Passed)
	assert.Equal(t, path+":3", deep.Where)
	assert.Equal(t, `t.eq: got {{room = "#general", text = "hi 1"}}, want {{room = "#general", text = "hi 2"}}`, deep.Failure)
	assert.True(t, r["test_fresh_each_time"].Passed, "%+v", r["test_fresh_each_time"])
	assert.Equal(t, path+":13", r["test_lua_error"].Where)
	u := r["test_unexpected_handler_failure"]
	assert.False(t, u.Passed)
	assert.Equal(t, path+":17", u.Where, "the test's line that made the handler run")
	assert.Contains(t, u.Failure, "a handler of the script failed: "+filepath.Join(filepath.Dir(path), "s.lua")+":3: exploded", "the script's file:line")
	assert.True(t, r["test_expected_handler_failure"].Passed, "%+v", r["test_expected_handler_failure"])
	a := r["test_assertion_after_handler_failure"]
	assert.False(t, a.Passed)
	assert.Equal(t, path+":32", a.Where, "the failed assertion's line")
	assert.Equal(t, `t.eq: got {}, want {{room = "#general", text = "boomed"}}`+"\n    before that, a handler of the script failed (at "+path+":30): "+
		filepath.Join(filepath.Dir(path), "s.lua")+":3: exploded (and 1 more)", firstLine(a.Failure, 2), "the handler's failure, the likely cause, beside it")
	for name, want := range map[string]string{
		"test_refusals":            "the clock only moves forward",
		"test_set_time_backwards":  "is before the clock's now",
		"test_unknown_option":      `t.post: unknown option "usr"`,
		"test_unknown_user":        `unknown user "mallory"`,
		"test_unknown_room":        `alice cannot post in #nope: no such room (the fake server has #general, #random, #empty, #nosub, ops, and a DM with each user`,
		"test_misspelt_t_function": "t.postd does not exist (did you mean t.post?",
	} {
		assert.False(t, r[name].Passed, name)
		assert.Contains(t, r[name].Failure, want, name)
		assert.True(t, strings.HasPrefix(r[name].Where, path+":"), "%s: %q", name, r[name].Where)
	}

	only := results(t, path, Options{Run: regexp.MustCompile("^test_deep$")})
	assert.Len(t, only, 1)

	bad := files(t, "rc.every('bogus', print)\n", "function test_x() end\n")
	r = results(t, bad, Options{})
	assert.False(t, r["test_x"].Passed)
	assert.Equal(t, filepath.Join(filepath.Dir(bad), "s.lua")+":1", r["test_x"].Where)
	assert.Contains(t, r["test_x"].Failure, "the script under test did not load")
}

// TestFileProblems: a test file that cannot run is an error naming it.
func TestFileProblems(t *testing.T) {
	t.Parallel()
	_, err := RunFile(context.Background(), files(t, "", "local = 1\n"), Options{})
	assert.ErrorContains(t, err, "s_test.lua:1:")
	_, err = RunFile(context.Background(), files(t, "", "-- no tests\n"), Options{})
	assert.ErrorContains(t, err, "no test functions")
	_, err = RunFile(context.Background(), files(t, "", "t.post{room='#general', text='x'}\nfunction test_x() end\n"), Options{})
	assert.ErrorContains(t, err, "t.post: only inside a test_* function")
	dir := t.TempDir()
	lone := filepath.Join(dir, "lone_test.lua")
	require.NoError(t, os.WriteFile(lone, []byte("function test_x() end\n"), 0o644))
	_, err = RunFile(context.Background(), lone, Options{})
	assert.ErrorContains(t, err, "the script under test")
}

// TestFailIsTheScriptsOnly: t.fail makes the script's requests fail (a
// 429 with a retry time), not the users' posts, and stops after times.
func TestFailIsTheScriptsOnly(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.hear("^hi", function(msg)
  local _, err = msg:reply("hello")
  if err then rc.log.warn("failed", { status = err.status, retry = err.retry_after }) end
end)
`, `function test_x()
  t.fail("chat.postMessage", 429, "slow down", 1)
  t.post { room = "#general", text = "hi" }
  t.eq(t.posted(), {})
  t.eq(t.logs()[1].status, 429)
  t.ok(t.logs()[1].retry > 0)
  t.post { room = "#general", text = "hi" }
  t.eq(#t.posted(), 1, "one request only")
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_x"].Passed, "%+v", r["test_x"])
}

// TestBotMayImpersonate: the test server's bot has the bot role, as
// --dev's and a real bot account: post_message's alias and avatar work.
func TestBotMayImpersonate(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.hear("^hi", function(msg)
  local m, err = rc.chat.post_message{room_id = msg.rid, text = "hello", alias = "Deploy", avatar = "https://example.com/a.png"}
  if err then error(tostring(err)) end
  rc.log.info("posted", {alias = m.alias, avatar = m.avatar})
end)
`, `function test_x()
  t.post { room = "#general", text = "hi" }
  t.eq(t.posted(), {{room = "#general", text = "hello"}})
  t.eq(t.logs()[1].alias, "Deploy")
  t.eq(t.logs()[1].avatar, "https://example.com/a.png")
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_x"].Passed, "%+v", r["test_x"])
}

// TestFailRefusesUnknownEndpoints: t.fail of a name no request of the
// script can have (a near miss of a served endpoint, the /api/v1/ prefix)
// fails the test, naming the closest endpoint; an endpoint the test server
// does not serve is accepted, and its fault answers the script (the
// fault comes first).
func TestFailRefusesUnknownEndpoints(t *testing.T) {
	t.Parallel()
	path := files(t, `rc.hear("^members$", function()
  local _, err = rc.get("channels.members", {roomId = "GENERAL"})
  rc.log.info("members", {status = err and err.status})
end)`, `
function test_typo() t.fail("chat.postMesage", 500) end
function test_case() t.fail("chat.postmessage", 500) end
function test_prefix() t.fail("/api/v1/chat.postMessage", 500) end
function test_served() t.fail("subscriptions.getOne", 500) t.fail("logout", 503, "down", 1) end
function test_unserved()
  t.fail("channels.members", 429)
  t.post { room = "#general", text = "members" }
  t.eq(t.logs()[1].status, 429)
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_served"].Passed, "%+v", r["test_served"])
	assert.True(t, r["test_unserved"].Passed, "%+v", r["test_unserved"])
	for name, want := range map[string]string{
		"test_typo":   `t.fail: unknown endpoint "chat.postMesage" (did you mean chat.postMessage?)`,
		"test_case":   `t.fail: unknown endpoint "chat.postmessage" (did you mean chat.postMessage?)`,
		"test_prefix": `t.fail: unknown endpoint "/api/v1/chat.postMessage" (did you mean chat.postMessage?)`,
	} {
		assert.False(t, r[name].Passed, name)
		assert.Contains(t, r[name].Failure, want, name)
		assert.Equal(t, path+":"+map[string]string{"test_typo": "2", "test_case": "3", "test_prefix": "4"}[name], r[name].Where, name)
	}
}

// TestStoreIsInspectable: t.store reads what the script's rc.store holds,
// each test starts with an empty store, and expiries follow the fake clock.
func TestStoreIsInspectable(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.hear("^!count$", function(msg)
  local n = rc.store.incr("n")
  rc.store.set("last", {by = msg.u.username, n = n}, {ttl = "1h"})
end)
`, `
function test_counts()
  t.eq(t.store("n"), nil, "empty at the start")
  t.post { room = "#general", user = "bob", text = "!count" }
  t.post { room = "#general", user = "alice", text = "!count" }
  t.eq(t.store("n"), 2)
  t.eq(t.store("last"), {by = "alice", n = 2})
  t.advance("59m")
  t.eq(t.store("last").n, 2, "not expired yet")
  t.advance("2m")
  t.eq(t.store("last"), nil, "expired on the fake clock")
end

function test_fresh_store()
  t.eq(t.store("n"), nil, "a fresh store per test")
end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_counts", "test_fresh_store"} {
		assert.True(t, r[name].Passed, "%s: %+v", name, r[name])
	}
}

// TestSecretsGivenByTheTestFile: t.secret at the top level gives the
// script a secret as the daemon's environment would, only for a name its
// section allows, redacted from its logs; inside a test it is refused.
func TestSecretsGivenByTheTestFile(t *testing.T) {
	t.Parallel()
	path := files(t, `
local key = assert(rc.secret("api_key"))
local _, other = rc.secret("other")
rc.hear("^!key$", function(msg)
  rc.log.info("using " .. key, { key = key, other = tostring(other) })
end)
`, `
t.secret("api_key", "k-123-secret")
t.secret("other", "not-allowed-value")

function test_the_script_has_its_secret()
  t.post { room = "#general", text = "!key" }
  local line = t.logs()[#t.logs()]
  t.ne(line.message, "using k-123-secret", "redacted")
  t.contains(line.message, "using ")
  t.ne(line.key, "k-123-secret")
  t.contains(line.other, "not allowed")
end

function test_secret_is_top_level_only()
  t.secret("api_key", "x")
end
`)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "rclua.toml"), []byte("[s]\nsecrets = [\"api_key\"]\n"), 0o644))
	r := results(t, path, Options{})
	assert.True(t, r["test_the_script_has_its_secret"].Passed, "%+v", r["test_the_script_has_its_secret"])
	top := r["test_secret_is_top_level_only"]
	assert.False(t, top.Passed)
	assert.Contains(t, top.Failure, "t.secret: only at the test file's top level")
}

// TestSecretNameChecked: t.secret refuses a name rc.secret would never
// find (upper case), instead of the script seeing "not set".
func TestSecretNameChecked(t *testing.T) {
	t.Parallel()
	path := files(t, "rc.every('1h', function() end)\n", "t.secret(\"API_KEY\", \"v\")\nfunction test_x() end\n")
	_, err := RunFile(context.Background(), path, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `t.secret: "API_KEY" is not a secret name`)
}

// TestAccountUserIsRateLimited: t.account("user") runs the script as a
// personal token's account: past 10 calls to one endpoint in 60 s of the
// fake clock its calls get the server's 429, and the window resets as
// the fake clock moves; the users' posts and the harness's own reads do
// not count against the script (another address); a bot account (the
// default) is never limited; an unknown kind and a call inside a test are
// refused.
func TestAccountUserIsRateLimited(t *testing.T) {
	t.Parallel()
	script := `
rc.respond("^ping$", function(msg)
  local ok, err = msg:reply("pong")
  if not ok then rc.log.warn("no pong", { error = tostring(err) }) end
end)
`
	body := `
local function pings(n)
  for i = 1, n do t.post { room = "@rclua.bot", user = "alice", text = "ping" } end
end

function test_limited()
  pings(12)
  t.eq(#t.posted(), 10, "10 replies in the window")
  local warned = t.logs()
  t.eq(#warned, 2)
  t.contains(warned[1].error, "too many requests")
  t.advance("61s")
  pings(1)
  t.eq(#t.posted(), 11, "a new window")
end
`
	r := results(t, files(t, script, "t.account(\"user\")\n"+body), Options{})
	assert.True(t, r["test_limited"].Passed, "%+v", r["test_limited"])

	r = results(t, files(t, script, body), Options{})
	assert.False(t, r["test_limited"].Passed, "a bot is not limited")
	assert.Contains(t, r["test_limited"].Failure, "10 replies in the window")

	_, err := RunFile(context.Background(), files(t, script, "t.account(\"admin\")\nfunction test_x() end\n"), Options{})
	assert.ErrorContains(t, err, `s_test.lua:1: t.account: unknown account "admin": want "bot" or "user"`)
	r = results(t, files(t, script, "function test_inside() t.account(\"user\") end\n"), Options{})
	assert.Contains(t, r["test_inside"].Failure, "t.account: only at the test file's top level")
}

// TestEditDeliversUpdated: t.edit has the author edit a message: the
// script's rc.on("message") handler gets it as "updated" with editedAt
// and the new text, rc.hear does not fire again on it, and a message
// that is not one t.post returned is refused.
func TestEditDeliversUpdated(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.on("message", function(msg, action)
  rc.log.info("seen", { action = action, text = msg.msg, edited = msg.editedAt ~= nil })
end)
rc.hear("^deploy", function(msg) msg:reply("deploying") end)
`, `
function test_edit()
  local msg = t.post { room = "#general", user = "bob", text = "deploy now" }
  local edited = t.edit(msg, "deploy later")
  t.eq(edited.msg, "deploy later")
  t.eq(#t.posted(), 1, "hear answers the post, not the edit")
  local logs = t.logs()
  t.eq(logs[#logs].action, "updated")
  t.eq(logs[#logs].text, "deploy later")
  t.eq(logs[#logs].edited, true)
end

function test_not_a_message()
  t.edit({ _id = "x" }, "text")
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_edit"].Passed, "%+v", r["test_edit"])
	assert.Contains(t, r["test_not_a_message"].Failure, "t.edit: a message t.post returned expected")
}

// TestPostLimitOnTheFakeClock: a test's script is held to the daemon's
// post limit (60 a minute) on the fake clock: a loop's 61st post is
// refused, and a minute later posts go again.
func TestPostLimitOnTheFakeClock(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.every("1h", function()
  for i = 1, 61 do
    local m, err = rc.chat.post_message { channel = "#general", text = "n" .. i }
    if not m then rc.log.warn("refused", { n = i, error_type = err.error_type }) end
  end
end)
`, `
function test_limit()
  t.advance("1h")
  t.eq(#t.posted(), 60)
  local refused = {}
  for _, l in ipairs(t.logs()) do if l.message == "refused" then refused[#refused + 1] = l end end
  t.eq(#refused, 1)
  t.eq(refused[1].n, 61)
  t.eq(refused[1].error_type, "limit")
  t.advance("1h")
  t.eq(#t.posted(), 120, "the next hour's window has room")
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_limit"].Passed, "%+v", r["test_limit"])
}

// firstLine returns the first n lines of s (a failure with a traceback).
func firstLine(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// TestStoreUpdateUnwindsAsPcall: an error in rc.store.update's fn unwinds
// as one in pcall does (runtime/sandbox/unwind.go): a closure fn made
// keeps its value, and an update that returned does not leave a later
// error to close the live frames' upvalues (review 13: update called fn
// through gopher-lua's own protected call, which did both wrong).
func TestStoreUpdateUnwindsAsPcall(t *testing.T) {
	t.Parallel()
	path := files(t, `
local saved
pcall(rc.store.update, "k", function() local s = "upd"; saved = function() return s end; error("e") end)
local x1, x2, x3 = 1, 2, 3
rc.log.info("kept " .. tostring(saved()))
local a
local function use_a() return a end
pcall(function() rc.store.update("k3", function() return 1 end); error("after") end)
a = "late"
rc.log.info("late " .. tostring(use_a()))
`, `
function test_unwinds()
  t.eq(t.store("k"), nil, "nothing written")
  t.eq(t.store("k3"), 1)
  t.eq(t.logs()[1].message, "kept upd")
  t.eq(t.logs()[2].message, "late late")
end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_unwinds"].Passed, "%+v", r["test_unwinds"])
}
