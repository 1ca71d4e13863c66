package luabind

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// run executes src in e's state and returns the values it returns.
func (e *luaEnv) run(t *testing.T, src string) []lua.LValue {
	t.Helper()
	top := e.L.GetTop()
	require.NoError(t, e.L.DoString(src), src)
	n := e.L.GetTop() - top
	out := make([]lua.LValue, n)
	for i := range n {
		out[i] = e.L.Get(top + 1 + i)
	}
	e.L.SetTop(top)
	return out
}

func TestSubscriptionsGetBinding(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.get{updated_since = "2024-07-02T00:00:00.250Z"}`)
	c := e.fake.last()
	assert.Equal(t, "subscriptions.get", c.Method)
	require.NotNil(t, c.GetOpts, "options passed")
	assert.True(t, c.GetOpts.UpdatedSince.Equal(time.Date(2024, 7, 2, 0, 0, 0, 250e6, time.UTC)), "updated_since: %v", c.GetOpts.UpdatedSince)
	require.Len(t, out, 1)
	res := out[0].(*lua.LTable)
	assert.Equal(t, lua.LNil, res.RawGetString("success"), "success dropped")
	update := res.RawGetString("update").(*lua.LTable)
	assert.Equal(t, 2, update.Len())
	first := update.RawGetInt(1).(*lua.LTable)
	assert.Equal(t, lua.LString("GENERAL"), first.RawGetString("rid"))
	assert.Equal(t, lua.LNumber(4), first.RawGetString("unread"))

	e.run(t, `rc.subscriptions.get()`)
	assert.Nil(t, e.fake.last().GetOpts, "no options -> nil")
}

func TestSubscriptionsGetOneBinding(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.get_one("ROOM1")`)
	c := e.fake.last()
	assert.Equal(t, "subscriptions.getOne", c.Method)
	assert.Equal(t, "ROOM1", c.RoomID)
	require.Len(t, out, 1)
	sub := out[0].(*lua.LTable)
	assert.Equal(t, lua.LString("ROOM1"), sub.RawGetString("rid"))
	assert.Equal(t, lua.LNumber(3), sub.RawGetString("unread"))

	out = e.run(t, `return rc.subscriptions.get_one("NOSUB")`)
	assert.Equal(t, []lua.LValue{lua.LNil}, out, "not subscribed: a single nil")
}

func TestSubscriptionsReadUnreadBinding(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.read("R1", {read_threads = true})`)
	assert.Equal(t, []lua.LValue{lua.LTrue}, out)
	c := e.fake.last()
	assert.Equal(t, "R1", c.RoomID)
	require.NotNil(t, c.ReadOpts)
	assert.True(t, c.ReadOpts.ReadThreads)

	e.run(t, `rc.subscriptions.unread("R2")`)
	assert.Equal(t, "R2", e.fake.last().RoomID)
	e.run(t, `rc.subscriptions.unread{first_unread_message = "M9"}`)
	assert.Equal(t, "M9", e.fake.last().MessageID)
	assert.Empty(t, e.fake.last().RoomID)
}

func TestChatPostMessageBinding(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	out := e.run(t, `return rc.chat.post_message{room_id = "R1", text = "hi", tmid = "T1",
		attachments = {{title = "x", fields = rc.json.array()}}}`)
	c := e.fake.last()
	require.NotNil(t, c.Post)
	assert.Equal(t, "R1", c.Post.RoomID)
	assert.Equal(t, "hi", c.Post.Text)
	assert.Equal(t, "T1", c.Post.ThreadID)
	assert.JSONEq(t, `[{"title":"x","fields":[]}]`, string(c.Post.RawAttachments))
	assert.True(t, json.Valid(c.Post.RawAttachments))
	require.Len(t, out, 1)
	assert.Equal(t, lua.LString("MSG1"), out[0].(*lua.LTable).RawGetString("_id"))
}

func TestUsersMeRawBindings(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	out := e.run(t, `return rc.users.info{user_id = "U1"}`)
	assert.Equal(t, rc.UserInfoOptions{UserID: "U1"}, e.fake.last().Info)
	assert.Equal(t, lua.LString("user-U1"), out[0].(*lua.LTable).RawGetString("username"))

	out = e.run(t, `return rc.me()`)
	assert.Equal(t, "me", e.fake.last().Method)
	assert.Equal(t, lua.LString("rclua.bot"), out[0].(*lua.LTable).RawGetString("username"))

	e.run(t, `rc.get("rooms.info", {roomId = "R1", count = 2.5})`)
	c := e.fake.last()
	assert.Equal(t, "rooms.info", c.Endpoint)
	assert.Equal(t, "R1", c.Query.Get("roomId"))
	assert.Equal(t, "2.5", c.Query.Get("count"))

	e.run(t, `rc.post("chat.react", {emoji = ":x:", list = {1, 2}})`)
	c = e.fake.last()
	assert.Equal(t, "chat.react", c.Endpoint)
	raw, ok := c.Body.(json.RawMessage)
	require.True(t, ok, "body is json.RawMessage, got %T", c.Body)
	assert.JSONEq(t, `{"emoji":":x:","list":[1,2]}`, string(raw))
}

// ctxMarker is the key of a value the tests put into a state's context,
// so that a context derived from another one cannot pass for it.
type ctxMarker struct{}

// TestBindingsPassStateContext: every binding that calls the client hands
// it the state's own context (L.Context()), not context.Background or a
// context of its own, so that cancelling the state's context stops the
// request.
func TestBindingsPassStateContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, src string }{
		{"subscriptions.get", `rc.subscriptions.get()`},
		{"subscriptions.getOne", `rc.subscriptions.get_one("R1")`},
		{"subscriptions.read", `rc.subscriptions.read("R1")`},
		{"subscriptions.unread", `rc.subscriptions.unread("R1")`},
		{"subscriptions.unread", `rc.subscriptions.unread{first_unread_message = "M1"}`},
		{"chat.postMessage", `rc.chat.post_message{channel = "#general", text = "x"}`},
		{"chat.react", `rc.chat.react{message_id = "M1", emoji = "eyes"}`},
		{"chat.update", `rc.chat.update{room_id = "R1", message_id = "M1", text = "x"}`},
		{"chat.delete", `rc.chat.delete{room_id = "R1", message_id = "M1"}`},
		{"rooms.info", `rc.rooms.info{room_name = "general"}`},
		{"users.info", `rc.users.info{username = "alice"}`},
		{"me", `rc.me()`},
		{"get", `rc.get("channels.info")`},
		{"post", `rc.post("chat.react")`},
	} {
		t.Run(tc.src, func(t *testing.T) {
			e := newLuaEnv(t)
			ctx := context.WithValue(t.Context(), ctxMarker{}, tc.src)
			e.L.SetContext(ctx)
			e.run(t, tc.src)
			c := e.fake.last()
			require.Equal(t, tc.method, c.Method)
			assert.True(t, c.Ctx == ctx, "%s got %v, not the state's context", tc.method, c.Ctx)
			if c.Ctx != nil {
				assert.Equal(t, tc.src, c.Ctx.Value(ctxMarker{}), "context value")
			}
		})
	}
}

// TestMissingMember: post_message, update, rooms.info and users.info answer nil, err
// (error_type "decode") when the response lacks its member, has it null or
// not an object; get_one answers a single nil for absent or null and
// nil, err when it is not an object.
func TestMissingMember(t *testing.T) {
	t.Parallel()
	calls := []struct{ src, endpoint string }{
		{`rc.chat.post_message{channel = "#general", text = "x"}`, "chat.postMessage"},
		{`rc.users.info{username = "alice"}`, "users.info"},
		{`rc.chat.update{room_id = "R1", message_id = "M1", text = "x"}`, "chat.update"},
		{`rc.rooms.info{room_id = "R1"}`, "rooms.info"},
		{`rc.subscriptions.get_one("R1")`, "subscriptions.getOne"},
	}
	for _, kind := range []string{"no_member", "null_member", "array_member"} {
		for _, call := range calls {
			t.Run(kind+"/"+call.endpoint, func(t *testing.T) {
				e := newLuaEnv(t)
				e.fake.failNext = kind
				out := e.run(t, `return `+call.src)
				if call.endpoint == "subscriptions.getOne" && kind != "array_member" {
					assert.Equal(t, []lua.LValue{lua.LNil}, out, "not subscribed: a single nil")
					return
				}
				require.Len(t, out, 2, "nil, err")
				assert.Equal(t, lua.LNil, out[0])
				errT, ok := out[1].(*lua.LTable)
				require.True(t, ok, "err is a table: %v", out[1])
				assert.Equal(t, lua.LNumber(0), errT.RawGetString("status"))
				assert.Equal(t, lua.LString("decode"), errT.RawGetString("error_type"))
				assert.Contains(t, errT.RawGetString("message").String(), call.endpoint)
			})
		}
	}
}

// TestRetryAfterOnlyStatus: a rate-limit error without Retry-After or a
// reset time still carries retry_after (0); so does one the server marks
// as error-too-many-requests under another status.
func TestRetryAfterOnlyStatus(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	b := &binding{}
	b.errMeta = newErrorMeta(L, b)
	for _, re := range []*rc.Error{
		{Endpoint: "x", Status: 429, Message: "slow down"},
		{Endpoint: "x", Status: 400, Type: "error-too-many-requests", Message: "slow down"},
	} {
		tb := b.errorTable(L, re)
		assert.Equal(t, lua.LNumber(0), tb.RawGetString("retry_after"), "%+v", re)
	}
	tb := b.errorTable(L, &rc.Error{Endpoint: "x", Status: 400, Message: "bad"})
	assert.Equal(t, lua.LNil, tb.RawGetString("retry_after"), "not a rate limit")
}

// TestLogHugeNumbers: numbers log as integers only when integral and in
// int64's range; larger ones log as floats, never as a wrapped or
// saturated integer.
func TestLogHugeNumbers(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	e.run(t, `rc.log.info("n", {big = 2^63, huge = 1e300, min = -2^63, exact = 2^53, frac = 1.5, neg = -3})`)
	lines := e.logs.lines()
	require.Len(t, lines, 1)
	var got map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got), lines[0])
	assert.Equal(t, "9223372036854776000", string(got["big"]), "2^63 is out of int64's range: a float")
	assert.Equal(t, "1e+300", string(got["huge"]))
	assert.Equal(t, "-9223372036854775808", string(got["min"]), "-2^63 is in range")
	assert.Equal(t, "9007199254740992", string(got["exact"]))
	assert.Equal(t, "1.5", string(got["frac"]))
	assert.Equal(t, "-3", string(got["neg"]))
}

// TestLogReservedKeys: fields named as the keys every line has (level,
// message, time, script) cannot forge them: they are logged as
// field.<name>, and each key of the line appears once; other names (error)
// are kept as given.
func TestLogReservedKeys(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	e.run(t, `rc.log.info("m", {level = "error", message = "spoof", time = "then", script = "other", error = "e"})`)
	lines := e.logs.lines()
	require.Len(t, lines, 1)
	for _, key := range []string{`"level":`, `"message":`, `"script":`, `"field.level":`, `"field.message":`, `"field.script":`, `"field.time":`} {
		assert.LessOrEqual(t, strings.Count(lines[0], key), 1, "%s once in %s", key, lines[0])
	}
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got), lines[0])
	assert.Equal(t, "info", got["level"])
	assert.Equal(t, "m", got["message"])
	assert.Equal(t, "error", got["field.level"])
	assert.Equal(t, "spoof", got["field.message"])
	assert.Equal(t, "other", got["field.script"])
	assert.Equal(t, "then", got["field.time"])
	assert.Equal(t, "e", got["error"], "not reserved")
}

// TestNilServices: a Module without services answers nil, err.
func TestNilServices(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	(&Module{}).Open(L, nil)
	for _, src := range []string{
		`return rc.subscriptions.get()`, `return rc.subscriptions.get_one("R")`,
		`return rc.subscriptions.read("R")`, `return rc.subscriptions.unread("R")`,
		`return rc.chat.post_message{channel = "#a"}`, `return rc.users.info{username = "a"}`,
		`return rc.me()`, `return rc.get("x")`, `return rc.post("x")`,
	} {
		require.NoError(t, L.DoString(`local v, err = (function() `+src+` end)()
			assert(v == nil and err.error == "luabind: service not available" and err.error_type == "unavailable")`), src)
	}
}

// TestContextCancelInFlight: cancelling the state's context ends an
// in-flight call promptly with nil, err.
func TestContextCancelInFlight(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.L.SetContext(ctx)
	e.fake.failNext = "slow"
	type result struct {
		vals []lua.LValue
		err  error
	}
	done := make(chan result, 1)
	go func() { // owns e.L until it sends
		top := e.L.GetTop()
		err := e.L.DoString(`local s, err = rc.subscriptions.get_one("GENERAL"); return s, err`)
		var vals []lua.LValue
		for i := top + 1; i <= e.L.GetTop(); i++ {
			vals = append(vals, e.L.Get(i))
		}
		done <- result{vals, err}
	}()
	select {
	case <-e.fake.started:
	case <-time.After(5 * time.Second):
		t.Fatal("call never reached the fake")
	}
	start := time.Now()
	cancel()
	select {
	case r := <-done:
		assert.Less(t, time.Since(start), time.Second, "returned promptly")
		if r.err != nil {
			// the VM may also stop at its next instruction: acceptable
			assert.Contains(t, r.err.Error(), "context canceled")
			return
		}
		require.Len(t, r.vals, 2)
		assert.Equal(t, lua.LNil, r.vals[0])
		errT := r.vals[1].(*lua.LTable)
		assert.Equal(t, lua.LNumber(0), errT.RawGetString("status"))
		assert.Equal(t, lua.LString("canceled"), errT.RawGetString("error_type"))
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return after cancel")
	}
}

func TestStateWithoutContext(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	require.Nil(t, e.L.Context())
	e.run(t, `rc.subscriptions.get_one("GENERAL")`)
	assert.Equal(t, context.Background(), e.fake.last().Ctx, "nil state context -> Background")
}

func TestWithLogger(t *testing.T) {
	t.Parallel()
	f := newFake()
	m := f.module()
	buf := &syncBuffer{}
	m2 := m.WithLogger(zerologTo(buf))
	assert.NotSame(t, m, m2)
	assert.Equal(t, m.Subscriptions, m2.Subscriptions, "services shared")
	L := lua.NewState()
	defer L.Close()
	m2.Open(L, nil)
	require.NoError(t, L.DoString(`print("hi")`))
	require.Len(t, buf.lines(), 1)
	assert.Contains(t, buf.lines()[0], `"message":"hi"`)
}

func TestFromClient(t *testing.T) {
	t.Parallel()
	c, err := rc.New("http://127.0.0.1:1")
	require.NoError(t, err)
	m := FromClient(c, zerologTo(&syncBuffer{}))
	assert.Same(t, c.Subscriptions, m.Subscriptions.(*rc.SubscriptionsService))
	assert.Same(t, c.Chat, m.Chat.(*rc.ChatService))
	assert.Same(t, c.Users, m.Users.(*rc.UsersService))
	assert.Same(t, c, m.API.(*rc.Client))
}

// TestLogMisuseAtDisabledLevel: misuse of rc.log.* raises even when the
// level is off, so a script that passes with an info logger does not fail
// once debug logging is turned on.
func TestLogMisuseAtDisabledLevel(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	buf := &syncBuffer{}
	(&Module{Logger: zerologTo(buf).Level(zerolog.InfoLevel)}).Open(L, nil)
	err := L.DoString(`rc.log.debug("x", {1})`)
	require.Error(t, err, "non-string field key at a disabled level")
	assert.Contains(t, err.Error(), "bad argument #2 to rc.log.debug (fields: key 1 is not a string)")
	require.NoError(t, L.DoString(`rc.log.debug("x", {a = 1})`))
	assert.Empty(t, buf.lines(), "nothing logged below the level")
}

// TestExtraArgumentsRaise: a function of the rc table called with more
// arguments than it takes raises, naming the first extra one, instead of
// ignoring it (rc.json.encode has no options); calls within it work.
func TestExtraArgumentsRaise(t *testing.T) {
	t.Parallel()
	e := newLuaEnv(t)
	for src, want := range map[string]string{
		`rc.json.encode({}, {indent = 2})`:      "bad argument #2 to rc.json.encode (unexpected argument: rc.json.encode takes 1 argument)",
		`rc.me(1)`:                              "bad argument #1 to rc.me (unexpected argument: rc.me takes no arguments)",
		`rc.subscriptions.unread("R", {x = 1})`: "bad argument #2 to rc.subscriptions.unread (unexpected argument: rc.subscriptions.unread takes 1 argument)",
		`rc.log.info("m", {}, 3)`:               "bad argument #3 to rc.log.info (unexpected argument: rc.log.info takes 2 arguments)",
		`local f = rc.get; f("me", {}, true)`:   "bad argument #3 to rc.get (unexpected argument: rc.get takes 2 arguments)",
	} {
		err := e.L.DoString(src)
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), want, src)
	}
	e.run(t, `assert(rc.json.encode({1}) == "[1]"); rc.log.info("m", {a = 1}); rc.me()`)
}
