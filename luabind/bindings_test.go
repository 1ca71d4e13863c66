package luabind

import (
	"context"
	"encoding/json"
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
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.get{updated_since = "2024-07-02T00:00:00.250Z"}`)
	c := e.fake.last()
	assert.Equal(t, "subscriptions.get", c.Method)
	assert.NotNil(t, c.Ctx, "context passed")
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
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.get_one("ROOM1")`)
	c := e.fake.last()
	assert.Equal(t, "subscriptions.getOne", c.Method)
	assert.Equal(t, "ROOM1", c.RoomID)
	assert.NotNil(t, c.Ctx)
	require.Len(t, out, 1)
	sub := out[0].(*lua.LTable)
	assert.Equal(t, lua.LString("ROOM1"), sub.RawGetString("rid"))
	assert.Equal(t, lua.LNumber(3), sub.RawGetString("unread"))

	out = e.run(t, `return rc.subscriptions.get_one("NOSUB")`)
	assert.Equal(t, []lua.LValue{lua.LNil}, out, "not subscribed: a single nil")
}

func TestSubscriptionsReadUnreadBinding(t *testing.T) {
	e := newLuaEnv(t)
	out := e.run(t, `return rc.subscriptions.read("R1", {read_threads = true})`)
	assert.Equal(t, []lua.LValue{lua.LTrue}, out)
	c := e.fake.last()
	assert.Equal(t, "R1", c.RoomID)
	require.NotNil(t, c.ReadOpts)
	assert.True(t, c.ReadOpts.ReadThreads)
	assert.NotNil(t, c.Ctx)

	e.run(t, `rc.subscriptions.unread("R2")`)
	assert.Equal(t, "R2", e.fake.last().RoomID)
	e.run(t, `rc.subscriptions.unread{first_unread_message = "M9"}`)
	assert.Equal(t, "M9", e.fake.last().MessageID)
	assert.Empty(t, e.fake.last().RoomID)
}

func TestChatPostMessageBinding(t *testing.T) {
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

// TestNilServices: a Module without services answers nil, err.
func TestNilServices(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	(&Module{}).Open(L)
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
	e := newLuaEnv(t)
	require.Nil(t, e.L.Context())
	e.run(t, `rc.subscriptions.get_one("GENERAL")`)
	assert.Equal(t, context.Background(), e.fake.last().Ctx, "nil state context -> Background")
}

func TestWithLogger(t *testing.T) {
	f := newFake()
	m := f.module()
	buf := &syncBuffer{}
	m2 := m.WithLogger(zerologTo(buf))
	assert.NotSame(t, m, m2)
	assert.Equal(t, m.Subscriptions, m2.Subscriptions, "services shared")
	L := lua.NewState()
	defer L.Close()
	m2.Open(L)
	require.NoError(t, L.DoString(`print("hi")`))
	require.Len(t, buf.lines(), 1)
	assert.Contains(t, buf.lines()[0], `"message":"hi"`)
}

func TestFromClient(t *testing.T) {
	c, err := rc.New("http://127.0.0.1:1")
	require.NoError(t, err)
	m := FromClient(c, zerologTo(&syncBuffer{}))
	assert.Same(t, c.Subscriptions, m.Subscriptions.(*rc.SubscriptionsService))
	assert.Same(t, c.Chat, m.Chat.(*rc.ChatService))
	assert.Same(t, c.Users, m.Users.(*rc.UsersService))
	assert.Same(t, c, m.API.(*rc.Client))
}

func TestTableLayout(t *testing.T) {
	assert.True(t, tableLayoutOK, "ltableLayout no longer matches lua.LTable: the decoder fell back to the slow path")
	assert.True(t, slabBoxOK, "slab-boxed strings are not plain lua.LString values: the decoder fell back to the slow path")
	// Tables built by the fast path behave like ordinary ones.
	L := lua.NewState()
	defer L.Close()
	(&Module{}).Open(L)
	require.NoError(t, L.DoString(`
		local o = rc.json.decode('{"a":1,"b":2,"a":3,"c":[1,2]}')
		assert(o.a == 3 and o.b == 2 and #o.c == 2)
		local keys = {}
		for k, v in pairs(o) do keys[#keys + 1] = k end
		assert(table.concat(keys, ",") == "a,b,c", table.concat(keys, ","))
		o.d = 4; o.b = nil
		keys = {}
		for k in pairs(o) do keys[#keys + 1] = k end
		assert(table.concat(keys, ",") == "a,c,d", table.concat(keys, ","))
		table.insert(o.c, 3)
		assert(#o.c == 3 and o.c[3] == 3)
		assert(rc.json.encode(o) == '{"a":3,"c":[1,2,3],"d":4}', rc.json.encode(o))
		assert(next(rc.json.decode('{}')) == nil)
	`))
}

// TestLogMisuseAtDisabledLevel: misuse of rc.log.* raises even when the
// level is off, so a script that passes with an info logger does not fail
// once debug logging is turned on.
func TestLogMisuseAtDisabledLevel(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	buf := &syncBuffer{}
	(&Module{Logger: zerologTo(buf).Level(zerolog.InfoLevel)}).Open(L)
	err := L.DoString(`rc.log.debug("x", {1})`)
	require.Error(t, err, "non-string field key at a disabled level")
	assert.Contains(t, err.Error(), "bad argument #2 to rc.log.debug (fields: key 1 is not a string)")
	require.NoError(t, L.DoString(`rc.log.debug("x", {a = 1})`))
	assert.Empty(t, buf.lines(), "nothing logged below the level")
}
