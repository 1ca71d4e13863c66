package luabind

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// limitsPrelude defines, in a test's state, raises(want, f, ...), which
// calls f and requires an error containing want, and big, a 1 MiB string.
const limitsPrelude = `
	function raises(want, f, ...)
		local ok, err = pcall(f, ...)
		assert(not ok, "no error, expected: " .. want)
		err = tostring(err)
		assert(string.find(err, want, 1, true), string.format("error %q does not contain %q", err:sub(1, 300), want))
		return err
	end
	big = string.rep("x", 1024 * 1024)
`

// newLimitsEnv is newLuaEnv with a call deadline, as the host sets one,
// and the prelude.
func newLimitsEnv(t *testing.T) *luaEnv {
	t.Helper()
	e := newLuaEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	e.L.SetContext(ctx)
	e.run(t, limitsPrelude)
	return e
}

// goCall calls the rc function at path (e.g. "rc.json.encode") from Go,
// with args, and returns its results, or the message it raised. Unlike
// Lua code, whose every instruction first checks the state's context,
// such a call reaches the function with a context that is done: the state
// of a host function when the deadline passes during its work.
func goCall(t *testing.T, L *lua.LState, path string, args ...lua.LValue) ([]lua.LValue, string) {
	t.Helper()
	fn := L.GetGlobal("rc")
	for _, name := range strings.Split(path, ".")[1:] {
		fn = L.GetField(fn, name)
	}
	if path == "print" {
		fn = L.GetGlobal("print")
	}
	require.Equal(t, lua.LTFunction, fn.Type(), path)
	top := L.GetTop()
	err := L.CallByParam(lua.P{Fn: fn, NRet: lua.MultRet, Protect: true}, args...)
	if err != nil {
		var ae *lua.ApiError
		require.True(t, errors.As(err, &ae), "%s: %v", path, err)
		return nil, ae.Object.String()
	}
	out := make([]lua.LValue, L.GetTop()-top)
	for i := range out {
		out[i] = L.Get(top + 1 + i)
	}
	L.SetTop(top)
	return out, ""
}

// cancel gives e's state a context that is done.
func (e *luaEnv) cancel() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.L.SetContext(ctx)
}

// TestDecodeRoutesCountWhatTheyBuild: every route from JSON to Lua values
// (rc.json.decode, each call's response, an error's details, an event) is
// bounded by what the decode builds, not only by the input's size: 40 KB
// of one-member objects is refused under a 1 MiB limit.
func TestDecodeRoutesCountWhatTheyBuild(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	luajson.SetMaxDecodedSize(e.L, 1<<20)
	e.run(t, `
		local bomb = "[" .. string.rep('{"a":0},', 4999) .. '{"a":0}]'
		local v, err = rc.json.decode(bomb)
		assert(v == nil and err.error_type == "json" and
			err.message:find("rc.json.decode: decoded value exceeds the limit of 1048576 bytes", 1, true), tostring(err))

		local calls = {
			["rc.get"] = function() return rc.get("x") end,
			["rc.post"] = function() return rc.post("x") end,
			["rc.me"] = rc.me,
			["rc.subscriptions.get"] = function() return rc.subscriptions.get() end,
			["rc.subscriptions.get_one"] = function() return rc.subscriptions.get_one("R") end,
			["rc.users.info"] = function() return rc.users.info{username = "a"} end,
			["rc.chat.post_message"] = function() return rc.chat.post_message{channel = "#a", text = "x"} end,
		}
		for name, call in pairs(calls) do
			fake.fail_next("bomb")
			local v, err = call()
			assert(v == nil and err ~= nil, name)
			assert(err.error_type == "decode", name .. ": " .. tostring(err.error_type))
			assert(err.message:find("exceeds the limit of 1048576 bytes", 1, true), name .. ": " .. err.message)
		end

		fake.fail_next("details_bomb")
		local v, err = rc.me()
		assert(err.status == 400 and err.error == "Bad request", "the error itself is kept")
		assert(err.details == nil, "details beyond the limit are dropped")
	`)
	bomb := []byte(`{"_id":"S","list":[` + strings.Repeat(`{"a":0},`, 4999) + `{"a":0}]}`)
	_, err := EventArgs(e.L, "subscription", "updated", bomb)
	var le *luajson.LimitError
	assert.ErrorAs(t, err, &le, "an event's object")
}

// TestDecodeRoutesStopAtTheDeadline: a decode that outlives the call's
// deadline stops there, by rc.json.decode and by a call's response (whose
// err is then a timeout or cancellation, not a malformed response).
func TestDecodeRoutesStopAtTheDeadline(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	e.run(t, `fake.fail_next("big")`)
	body := e.run(t, `return rc.get("x")`)[0]
	require.Equal(t, lua.LTTable, body.Type(), "300 subscriptions decode in time")

	e.run(t, `fake.fail_next("big")`)
	e.cancel()
	out, msg := goCall(t, e.L, "rc.get", lua.LString("x"))
	require.Empty(t, msg)
	require.Len(t, out, 2)
	errT := out[1].(*lua.LTable)
	assert.Equal(t, lua.LString("canceled"), errT.RawGetString("error_type"))
	assert.Contains(t, errT.RawGetString("message").String(), "json: decoding stopped at offset")

	enc, err := luajson.Encode(context.Background(), body)
	require.NoError(t, err)
	out, msg = goCall(t, e.L, "rc.json.decode", lua.LString(enc))
	require.Empty(t, msg)
	require.Len(t, out, 2)
	assert.Equal(t, lua.LNil, out[0])
	errT = out[1].(*lua.LTable)
	assert.Equal(t, lua.LString("canceled"), errT.RawGetString("error_type"), "a stop, not bad JSON")
	assert.Contains(t, errT.RawGetString("message").String(), "rc.json.decode: decoding stopped at offset")
	assert.Contains(t, errT.RawGetString("message").String(), "context canceled")
}

// TestEncodeRoutesBoundTheirOutput: every route from Lua values to text
// (rc.json.encode, rc.post's body, attachments, rc.log's fields and line,
// print, rc.get's query, an error's concatenation) refuses to build more
// than 16 MiB, however the value is made: a table sharing subtables
// (2^40 leaves), or one string many times over. Nothing reaches the
// server or the log.
func TestEncodeRoutesBoundTheirOutput(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	e.run(t, `
		local dag = {}
		for i = 1, 40 do dag = {dag, dag} end
		local s, err = rc.json.encode(dag)
		assert(s == nil and err.message == "rc.json.encode: encoded text exceeds the limit of 16777216 bytes", tostring(err))

		-- The other routes share the encoder: one string twenty times over
		-- is quicker to refuse than 2^40 leaves.
		local many = {}
		for i = 1, 20 do many[i] = big end
		local calls = fake.count()
		raises("bad argument #2 to rc.post (body: json: encoded text exceeds the limit of 16777216 bytes)", rc.post, "x", many)
		raises("bad argument #1 to rc.chat.post_message (attachments: json: encoded text exceeds the limit of 16777216 bytes)",
			rc.chat.post_message, {channel = "#a", attachments = {{text = big}, many}})
		raises("rc.get: query exceeds the limit of 16777216 bytes", rc.get, "x", {q = many})
		assert(fake.count() == calls, "nothing was sent")

		raises('rc.log.info: field "f": json: encoded text exceeds the limit of 16777216 bytes', rc.log.info, "m", {f = many})
		local fields = {}
		for i = 1, 20 do fields["f" .. i] = big end
		raises("rc.log.warn: log line exceeds the limit of 16777216 bytes", rc.log.warn, "m", fields)
		raises("rc.log.debug: log line exceeds the limit of 16777216 bytes", rc.log.debug, string.rep(big, 17))
		raises("print: output exceeds the limit of 16777216 bytes", print, unpack(many))

		fake.fail_next("server")
		local _, e = rc.me()
		raises("rc.error: concatenation exceeds the limit of 16777216 bytes", function() return e .. string.rep(big, 16) end)
		assert(#(e .. big) > #big, "a concatenation within the limit works")
	`)
	assert.Empty(t, e.logs.lines(), "nothing was logged")
}

// TestEncodeRoutesStopAtTheDeadline: the same routes stop once the call's
// deadline has passed, before anything is sent or logged.
func TestEncodeRoutesStopAtTheDeadline(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	e.run(t, `
		list = {}
		fields = {}
		for i = 1, 10000 do list[i] = {text = "attachment " .. i} fields["f" .. i] = i end
	`)
	list, fields := e.L.GetGlobal("list"), e.L.GetGlobal("fields")
	e.cancel()

	out, msg := goCall(t, e.L, "rc.json.encode", list)
	require.Empty(t, msg)
	require.Len(t, out, 2)
	errT := out[1].(*lua.LTable)
	assert.Equal(t, lua.LString("rc.json.encode: encoding stopped: context canceled"), errT.RawGetString("message"))
	assert.Equal(t, lua.LString("canceled"), errT.RawGetString("error_type"))

	post := e.L.NewTable()
	post.RawSetString("channel", lua.LString("#a"))
	post.RawSetString("attachments", list)
	query := e.L.NewTable()
	query.RawSetString("q", list)
	args := make([]lua.LValue, 4500) // more than budgetCheckEvery, fewer than the registry holds
	for i := range args {
		args[i] = lua.LString("x")
	}
	for _, c := range []struct {
		fn   string
		args []lua.LValue
		want string
	}{
		{"rc.post", []lua.LValue{lua.LString("x"), list}, "bad argument #2 to rc.post (body: json: encoding stopped: context canceled)"},
		{"rc.chat.post_message", []lua.LValue{post}, "(attachments: json: encoding stopped: context canceled)"},
		{"rc.log.info", []lua.LValue{lua.LString("m"), fields}, "rc.log.info: context canceled"},
		{"print", args, "print: context canceled"},
	} {
		_, msg := goCall(t, e.L, c.fn, c.args...)
		assert.Contains(t, msg, c.want, c.fn)
	}
	seq := e.L.NewTable()
	for range 10000 {
		seq.Append(lua.LString("v"))
	}
	query.RawSetString("q", seq)
	_, msg = goCall(t, e.L, "rc.get", lua.LString("x"), query)
	assert.Contains(t, msg, "rc.get: context canceled")

	assert.Empty(t, e.fake.calls, "nothing was sent")
	assert.Empty(t, e.logs.lines(), "nothing was logged")
}

// TestStrictMessagesAreBounded: the message for a missing key of an API
// table does not grow with what a script stored there: past 64 keys it
// lists none, and long keys (looked up or listed) are clipped.
func TestStrictMessagesAreBounded(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	e.run(t, `
		local clipped = string.rep("x", 64) .. "..."
		local err = raises('rc.chat["' .. clipped .. '"] does not exist (rc.chat has: delete, post_message, react, update)', function()
			return rc.chat[big]
		end)
		assert(#err < 300, err)
		rc.chat[big] = 1
		err = raises("rc.chat.post_mesage does not exist (did you mean rc.chat.post_message? rc.chat has: delete, post_message, react, update, " ..
			clipped .. ")", function() return rc.chat.post_mesage end)
		assert(#err < 300, err)
		for i = 1, 100000 do rc["k" .. i] = i end
		err = raises("rc.nope does not exist (rc has more than 64 keys)", function() return rc.nope end)
		assert(#err < 300, err)
	`)
}

// TestArgumentErrorsClipValues: an argument error shows at most 64 bytes
// of a string the script gave, not a copy (or a quoted copy, four times
// the size) of a huge one.
func TestArgumentErrorsClipValues(t *testing.T) {
	t.Parallel()
	e := newLimitsEnv(t)
	e.run(t, `
		local f = function() end
		local cases = {
			{"unknown option", function() rc.users.info{[big] = 1} end},
			{"bad interval", function() rc.every(big, f) end},
			{"unknown event", function() rc.on(big, f) end},
			{"longer than 256 bytes", function() rc.cron(big, f) end},
			{"not an ISO-8601 time", function() rc.subscriptions.get{updated_since = big} end},
			{"a sequence of values expected", function() rc.get("x", {[big] = {a = 1}}) end},
			{"string, number or boolean expected", function() rc.get("x", {[big] = f}) end},
			{"got key", function() rc.get("x", {q = {[big] = 1}}) end},
		}
		for _, c in ipairs(cases) do
			local err = raises(c[1], c[2])
			assert(#err < 400 and err:find(string.rep("x", 64) .. "...", 1, true), err:sub(1, 400))
		end
	`)
}
