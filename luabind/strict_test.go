package luabind

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// runChunk runs src, named name, in L and returns the Lua error message
// ("" when it ran).
func runChunk(t *testing.T, L *lua.LState, name, src string) string {
	t.Helper()
	fn, err := L.Load(strings.NewReader(src), name)
	require.NoError(t, err)
	err = L.CallByParam(lua.P{Fn: fn, Protect: true})
	if err == nil {
		return ""
	}
	var ae *lua.ApiError
	require.True(t, errors.As(err, &ae), "a Lua error: %v", err)
	return ae.Object.String()
}

// TestStrictCamelCaseTrial is the new user's trial: the camelCase name of
// the REST docs fails where it is read, with the script's file:line, the
// name and the snake_case one.
func TestStrictCamelCaseTrial(t *testing.T) {
	t.Parallel()
	f := newFake()
	L := lua.NewState()
	defer L.Close()
	f.module().Open(L, nil)
	msg := runChunk(t, L, "camel.lua", `rc.chat.postMessage{channel = "#general", text = "hello"}`)
	require.Equal(t,
		"camel.lua:1: rc.chat.postMessage does not exist (did you mean rc.chat.post_message? rc.chat has: delete, post_message, react, update)",
		msg)
	require.Empty(t, f.calls, "nothing was posted")

	require.Empty(t, runChunk(t, L, "snake.lua", `rc.chat.post_message{channel = "#general", text = "hello"}`))
	require.Len(t, f.calls, 1)
}

// TestStrictTriggers: the triggers are part of the rc table from Open on:
// read normally, listed in the error of a miss, suggested for a misspelt
// name.
func TestStrictTriggers(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	newFake().module().Open(L, nil)

	require.Empty(t, runChunk(t, L, "probe.lua", `assert(rawget(rc, "on") and rawget(rc, "every") and rawget(rc, "cron"))`))
	msg := runChunk(t, L, "after.lua", "local x = 1\n\nrc.On('subscription', print)")
	require.Equal(t, "after.lua:3: rc.On does not exist (did you mean rc.on? "+
		"rc has: chat, config, cron, every, get, hear, json, log, me, on, post, re, respond, rooms, secret, store, subscriptions, time, users)", msg)
	msg = runChunk(t, L, "after.lua", "rc.evry('1m', print)")
	require.Contains(t, msg, "after.lua:1: rc.evry does not exist (did you mean rc.every? rc has: chat, config, cron, every,")
}

// TestStrictDoesNotReachData: only the API tables are strict; tables of
// data and the tables a script makes read missing keys as nil.
func TestStrictDoesNotReachData(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	newFake().module().Open(L, nil)
	require.Empty(t, runChunk(t, L, "data.lua", `
local sub = assert(rc.subscriptions.get_one("GENERAL"))
assert(sub.no_such_field == nil)
assert(rc.json.decode('{"a":1}').b == nil)
assert(rc.json.array().x == nil)
local _, err = rc.users.info{username = "nobody-at-all"}
if err then assert(err.no_such_field == nil) end
`))
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"get", "get_one", "read", "unread"}
	for key, want := range map[string]string{
		"getOne":  "get_one",
		"GetOne":  "get_one",
		"getone":  "get_one",
		"GET":     "get",
		"get_on":  "get_one",
		"unraed":  "unread",
		"reads":   "read",
		"raed":    "read", // a swap is one edit
		"dear":    "",
		"x":       "",
		"on":      "",
		"getMany": "",
		"delete":  "",
	} {
		require.Equal(t, want, suggest(key, keys), key)
	}
}

// TestMissingKeyMessageIsTheRaisedOne: the exported message (what rclua
// check reports) is the one the strict table raises, "did you mean"
// included; Suggest follows the same rule.
func TestMissingKeyMessageIsTheRaisedOne(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	newFake().module().Open(L, nil)
	raised := runChunk(t, L, "typo.lua", `rc.subscriptions.raed("r")`)
	keys := []string{"unread", "get", "read", "get_one"}
	require.Equal(t, "typo.lua:1: "+MissingKeyMessage("rc.subscriptions", keys, "raed"), raised)
	require.Equal(t, []string{"unread", "get", "read", "get_one"}, keys, "the caller's slice is not sorted")
	require.Contains(t, MissingKeyMessage("rc.subscriptions", keys, "raed"), "did you mean rc.subscriptions.read?")
	require.Equal(t, "read", Suggest("raed", []string{"get", "read"}))
	require.Equal(t, "post_message", Suggest("postMessage", []string{"post_message"}))
	require.Empty(t, Suggest("zzzz", []string{"get", "read"}))
}
