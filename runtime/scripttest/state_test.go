package scripttest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfigGivenByTheTestFile: t.config at the top level is every test's
// rc.config instead of rclua.toml's section (values of every kind
// rclua.toml holds); inside a test it replaces it whole for that test
// only, the script's top level running again with it (and a t.restart
// after keeps it); without t.config, rclua.toml's section is read.
func TestConfigGivenByTheTestFile(t *testing.T) {
	t.Parallel()
	script := `
local me = rc.config.me
rc.log.info("loaded", { me = me })
rc.hear("^!who$", function(msg)
  local c = rc.config
  msg:reply(table.concat({ me, table.concat(c.rooms or {}, ","), tostring(c.quiet_for),
    tostring(c.ratio), tostring(c.nested and c.nested.deep.on), rc.json.encode(c.empty or "-") }, " "))
end)
`
	path := files(t, script, `
t.config { me = "bob", rooms = { "#general", "#random" }, quiet_for = 90, ratio = 1.5,
  nested = { deep = { on = true } }, empty = {} }

function test_top_level_config()
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[1].text, "bob #general,#random 90 1.5 true {}")
end

function test_inside_a_test()
  t.config { me = "carol" }
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[1].text, 'carol  nil nil nil "-"', "replaced whole; the top level ran again")
  t.eq(t.logs()[1].me, "bob")
  t.eq(t.logs()[2].me, "carol")
  t.restart()
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[2].text, 'carol  nil nil nil "-"', "a restart keeps the test's settings")
end

function test_that_test_only()
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[1].text, "bob #general,#random 90 1.5 true {}")
end
`)
	toml := "[s]\nme = \"from-the-file\"\nrooms = [\"#ops\"]\n"
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "rclua.toml"), []byte(toml), 0o644))
	r := results(t, path, Options{})
	for _, name := range []string{"test_top_level_config", "test_inside_a_test", "test_that_test_only"} {
		assert.True(t, r[name].Passed, "%s: %+v", name, r[name])
	}

	plain := files(t, script, `
function test_file()
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[1].text, 'from-the-file #ops nil nil nil "-"')
end
`)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(plain), "rclua.toml"), []byte(toml), 0o644))
	r = results(t, plain, Options{})
	assert.True(t, r["test_file"].Passed, "%+v", r["test_file"])
}

// TestConfigSecretsAllowList: t.config's section is also the allow-list
// of rc.secret: t.config{secrets = {...}} lets t.secret's value through,
// one without the name does not.
func TestConfigSecretsAllowList(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.hear("^!key$", function(msg)
  local v, err = rc.secret("api_key")
  msg:reply(v and "have it" or tostring(err))
end)
`, `
t.secret("api_key", "k-1")
t.config { secrets = { "api_key" } }

function test_allowed()
  t.post { room = "#general", text = "!key" }
  t.eq(t.posted()[1].text, "have it")
end

function test_not_allowed_once_replaced()
  t.config { me = "bob" }
  t.post { room = "#general", text = "!key" }
  t.contains(t.posted()[1].text, "not allowed")
end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_allowed", "test_not_allowed_once_replaced"} {
		assert.True(t, r[name].Passed, "%s: %+v", name, r[name])
	}
}

// TestConfigRefusals: t.config refuses, with the test file's file:line,
// what rclua.toml cannot hold (a function, at the top or nested, mixed
// keys, an array as the section, a cycle, a bad secrets list, no table);
// a section the script's top level rejects fails t.config with the
// script's file:line and keeps the running state, as the daemon's reload.
func TestConfigRefusals(t *testing.T) {
	t.Parallel()
	path := files(t, `assert(type(rc.config.me) == "string", "me must be a string")
rc.hear("^!who$", function(msg) msg:reply(rc.config.me) end)
`, `
t.config { me = "bob" }

function test_function_value() t.config { me = "x", on = print } end
function test_nested_function() t.config { me = "x", rooms = { "#a", { f = function() end } } } end
function test_mixed_keys() t.config { me = "x", rooms = { "#a", x = 1 } } end
function test_holes() t.config { me = "x", rooms = { [1] = "#a", [3] = "#c" } } end
function test_array_section() t.config { "bob" } end
function test_not_a_table() t.config("me = bob") end
function test_two_args() t.config({ me = "x" }, {}) end
function test_cycle() local c = {}; c.c = c; t.config { me = "x", c = c } end
function test_bad_secret_name() t.config { me = "x", secrets = { "API_KEY" } } end
function test_secrets_not_a_list() t.config { me = "x", secrets = "api_key" } end

function test_load_fails_keeps_running()
  local ok, err = pcall(t.config, { me = 5 })
  t.ok(not ok)
  t.contains(err, "did not load again")
  t.contains(err, "s.lua:1: me must be a string")
  t.post { room = "#general", text = "!who" }
  t.eq(t.posted()[1].text, "bob", "the running state is kept")
end
`)
	r := results(t, path, Options{})
	for name, want := range map[string]string{
		"test_function_value":     "t.config: on: a function is not a setting",
		"test_nested_function":    "t.config: rooms[2].f: a function is not a setting",
		"test_mixed_keys":         "t.config: rooms: mixes named keys and array items",
		"test_holes":              "t.config: rooms: not an array (no item 2",
		"test_array_section":      "t.config: a table of named settings expected, not an array",
		"test_not_a_table":        "t.config: a table of settings expected, got string",
		"test_two_args":           "t.config: one argument expected",
		"test_cycle":              "nested deeper than 32 tables",
		"test_bad_secret_name":    `t.config: secrets: "API_KEY" is not a secret name`,
		"test_secrets_not_a_list": "t.config: secrets: must be an array of secret names",
	} {
		assert.False(t, r[name].Passed, name)
		assert.Contains(t, r[name].Failure, want, name)
		assert.True(t, strings.HasPrefix(r[name].Where, path+":"), "%s: %q", name, r[name].Where)
	}
	assert.True(t, r["test_load_fails_keeps_running"].Passed, "%+v", r["test_load_fails_keeps_running"])

	top := files(t, "", "\nt.config { f = function() end }\nfunction test_x() end\n")
	_, err := RunFile(context.Background(), top, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), top+":2:")
	assert.Contains(t, err.Error(), "t.config: f: a function is not a setting")
}

// TestStoreSeeded: t.store(key, value) seeds what the script's rc.store
// reads (tables too; nil deletes), with rc.store.set's conversion and
// limits; extra or missing arguments, an empty key, a value JSON cannot
// hold and one over the value limit are refused.
func TestStoreSeeded(t *testing.T) {
	t.Parallel()
	path := files(t, `
rc.hear("^!n$", function(msg)
  local n = rc.store.incr("n")
  msg:reply(n .. " " .. rc.store.get("cfg").rooms[2])
end)
`, `
function test_seeded()
  t.store("n", 41)
  t.store("cfg", { rooms = { "#a", "#b" } })
  t.eq(t.store("cfg"), { rooms = { "#a", "#b" } })
  t.post { room = "#general", text = "!n" }
  t.eq(t.posted()[1].text, "42 #b")
  t.eq(t.store("n"), 42)
  t.store("n", nil)
  t.eq(t.store("n"), nil, "nil deletes")
end

function test_three_args() t.store("n", 1, { ttl = "1h" }) end
function test_no_args() t.store() end
function test_empty_key() t.store("", 1) end
function test_function_value() t.store("n", print) end
function test_mixed_table() t.store("n", { 1, a = 2 }) end
function test_too_large() t.store("big", string.rep("x", 300 * 1024)) end
function test_key_too_long() t.store(string.rep("k", 600), 1) end
`)
	r := results(t, path, Options{})
	assert.True(t, r["test_seeded"].Passed, "%+v", r["test_seeded"])
	for name, want := range map[string]string{
		"test_three_args":     "t.store: 3 arguments: t.store(key) reads, t.store(key, value) seeds",
		"test_no_args":        "t.store: 0 arguments",
		"test_empty_key":      "t.store: the key must not be empty",
		"test_function_value": `t.store: cannot store the value of "n"`,
		"test_mixed_table":    `t.store: cannot store the value of "n"`,
		"test_too_large":      `t.store: store: the value of "big" is`,
		"test_key_too_long":   "t.store: store: a key of 600 bytes is more than the limit",
	} {
		assert.False(t, r[name].Passed, name)
		assert.Contains(t, r[name].Failure, want, name)
		assert.True(t, strings.HasPrefix(r[name].Where, path+":"), "%s: %q", name, r[name].Where)
	}
}

// TestRestart: t.restart closes the script's state and loads it again: its
// globals are gone, its top level runs again, its timers start again from
// the clock's now (which does not move), while the store, the server and
// the records (posts, logs) stay, so "the digest is posted once, also
// after a restart" is testable.
func TestRestart(t *testing.T) {
	t.Parallel()
	path := files(t, `if rc.store.get("poison") then error("poisoned") end
boots = (boots or 0) + 1 -- a global: a fresh state has none
rc.log.info("loaded", { boots = boots, stored = rc.store.incr("boots"), at = os.date("!%H:%M") })
rc.every("1h", function()
  rc.log.info("tick " .. os.date("!%H:%M"))
  local day = os.date("!%Y-%m-%d")
  if not rc.store.get("digest:" .. day) then
    rc.chat.post_message { channel = "#general", text = "digest " .. day }
    rc.store.set("digest:" .. day, true)
  end
end)
`, `
local function lines()
  local out = {}
  for _, l in ipairs(t.logs()) do
    out[#out + 1] = l.boots and (l.message .. " " .. l.boots .. "/" .. l.stored .. " " .. l.at) or l.message
  end
  return out
end

function test_digest_once_across_a_restart()
  t.advance("1h")
  t.eq(t.posted(), { { room = "#general", text = "digest 2026-01-05" } })
  t.advance("30m")
  local now = t.now()
  t.restart()
  t.eq(t.now(), now, "the clock does not move")
  t.eq(#t.posted(), 1, "the posts before the restart stay recorded")
  t.advance("1h")
  t.eq(#t.posted(), 1, "posted once, also after a restart")
  t.eq(lines(), { "loaded 1/1 08:00", "tick 09:00", "loaded 1/2 09:30", "tick 10:30" })
end

function test_down_after_a_failed_load()
  t.store("poison", true)
  local ok, err = pcall(t.restart)
  t.ok(not ok)
  t.contains(err, "t.restart: the script under test did not load again")
  t.contains(err, "s.lua:1: poisoned")
  ok, err = pcall(t.post, { room = "#general", text = "hi" })
  t.contains(err, "t.post: the script under test is not running")
  ok, err = pcall(t.advance, "2h")
  t.contains(err, "t.advance: the script under test is not running")
  t.eq(#t.posted(), 0)
  t.store("poison", nil)
  t.restart()
  t.advance("1h")
  t.eq(#t.posted(), 1, "up again")
end

function test_no_arguments() t.restart(true) end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_digest_once_across_a_restart", "test_down_after_a_failed_load"} {
		assert.True(t, r[name].Passed, "%s: %+v", name, r[name])
	}
	assert.False(t, r["test_no_arguments"].Passed)
	assert.Contains(t, r["test_no_arguments"].Failure, "t.restart: takes no arguments")

	top := files(t, "", "t.restart()\nfunction test_x() end\n")
	_, err := RunFile(context.Background(), top, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), top+":1:")
	assert.Contains(t, err.Error(), "t.restart: only inside a test_* function")
}

// TestInProcessAbortIsAnError: a handler that aborts the request (as
// rctest's dropped-connection fault does) is an error of the harness's
// request, not a panic of the test run.
func TestInProcessAbortIsAnError(t *testing.T) {
	t.Parallel()
	c := &http.Client{Transport: inProcess{http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })}}
	res, err := c.Get("http://rctest.invalid/api/v1/me")
	if res != nil {
		res.Body.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server aborted the request")
}
