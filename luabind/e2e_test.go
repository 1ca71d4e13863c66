package luabind

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// e2eState is a Lua state with the module on the real client against the
// fake server s.
func e2eState(tb testing.TB, s *rctest.Server) *lua.LState {
	tb.Helper()
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(tb, err)
	L := lua.NewState()
	tb.Cleanup(L.Close)
	FromClient(c, zerolog.Nop()).Open(L, nil)
	L.SetGlobal("GENERAL", lua.LString(rctest.GeneralRoomID))
	L.SetGlobal("NOSUB", lua.LString(rctest.NoSubRoomID))
	return L
}

func TestEndToEndReadMarksRoomRead(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	_, err := s.PostMessage("alice", rctest.GeneralRoomID, "hello @"+rctest.BotUsername)
	require.NoError(t, err)
	L := e2eState(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	L.SetContext(ctx)
	require.NoError(t, L.DoString(`
		local before = assert(rc.subscriptions.get_one(GENERAL))
		assert(before.rid == GENERAL, "rid")
		assert(before.unread > 0, "unread before read: " .. tostring(before.unread))
		assert(before.userMentions > 0, "mention counted")
		assert(rc.subscriptions.read(GENERAL, {read_threads = true}))
		local after = assert(rc.subscriptions.get_one(GENERAL))
		assert(after.unread == 0, "unread after read: " .. tostring(after.unread))
		assert(tostring(after.unread) == "0")
		local none, err = rc.subscriptions.get_one(NOSUB)
		assert(none == nil and err == nil, "not subscribed")
		local all = assert(rc.subscriptions.get())
		assert(#all.update > 0 and all.success == nil)
		local msg = assert(rc.chat.post_message{room_id = GENERAL, text = "done",
			attachments = {{title = "t", fields = {{title = "a", value = "b"}}}}})
		assert(msg.msg == "done", "message text")
		local me = assert(rc.me())
		assert(me.username == "rclua.bot", me.username)
		local alice = assert(rc.users.info{username = "alice"})
		assert(alice.username == "alice")
		local body = assert(rc.get("subscriptions.getOne", {roomId = GENERAL}))
		assert(body.success == true and body.subscription.unread == 0)
	`))
	st, ok := s.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
	require.True(t, ok)
	assert.Equal(t, 0, st.Unread, "server state after rc.subscriptions.read")
	msgs := s.Messages(rctest.GeneralRoomID)
	require.NotEmpty(t, msgs)
	assert.Equal(t, "done", msgs[len(msgs)-1].Text)
}

func TestEndToEndRateLimit(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer(rctest.WithRateLimit(2, time.Minute))
	defer s.Close()
	L := e2eState(t, s)
	require.NoError(t, L.DoString(`
		assert(rc.subscriptions.get_one(GENERAL))
		assert(rc.subscriptions.get_one(GENERAL))
		local sub, err = rc.subscriptions.get_one(GENERAL)
		assert(sub == nil, "third call limited")
		assert(err.status == 429, "status " .. tostring(err.status))
		assert(type(err.retry_after) == "number" and err.retry_after > 0 and err.retry_after <= 60,
			"retry_after " .. tostring(err.retry_after))
		assert(string.find(tostring(err), "too many requests", 1, true), tostring(err))
	`))
}

func TestEndToEndServerError(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	L := e2eState(t, s)
	require.NoError(t, L.DoString(`
		local ok, err = rc.subscriptions.read(NOSUB)
		assert(ok == nil and err.status == 400, "status " .. tostring(err and err.status))
		assert(err.error == "error-invalid-subscription", err.error)
	`))
}

// BenchmarkGetEndToEnd is rc.subscriptions.get() of 5,000 subscriptions
// from Lua through the real client and HTTP against rctest.
func BenchmarkGetEndToEnd(b *testing.B) {
	s := rctest.NewServer(rctest.WithSubscriptions(5000))
	defer s.Close()
	L := e2eState(b, s)
	fn := L.GetField(L.GetField(L.GetGlobal("rc"), "subscriptions"), "get")
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 2, Protect: true}); err != nil {
			b.Fatal(err)
		}
		res, ok := L.Get(-2).(*lua.LTable)
		if !ok {
			b.Fatalf("get failed: %v", L.Get(-1))
		}
		if n := res.RawGetString("update").(*lua.LTable).Len(); n < 5000 {
			b.Fatalf("%d subscriptions", n)
		}
		L.Pop(2)
	}
}

// TestEndToEndBodyStringsStayPut: decoded strings longer than
// maxCopiedLen share the response body's memory (bodyString), so the
// client must hand each body over and never reuse its buffer. Strings from
// one call, long and short, must survive later calls unchanged.
func TestEndToEndBodyStringsStayPut(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	L := e2eState(t, s)
	require.NoError(t, L.DoString(`
		local first = assert(rc.subscriptions.get_one(GENERAL))
		local posted = assert(rc.chat.post_message{room_id = GENERAL, text = string.rep("a long message ", 6)})
		assert(#posted.msg > 32, "a view into the body")
		local long_before = first._updatedAt .. "|" .. first._id .. "|" .. first.rid .. "|" .. posted.msg
		for i = 1, 20 do
			assert(rc.subscriptions.get_one(NOSUB) == nil)
			assert(rc.get("subscriptions.getOne", {roomId = GENERAL}))
			assert(rc.subscriptions.get())
			assert(rc.chat.post_message{room_id = GENERAL, text = string.rep("other text " .. i, 6)})
		end
		local long_after = first._updatedAt .. "|" .. first._id .. "|" .. first.rid .. "|" .. posted.msg
		assert(long_before == long_after, long_before .. " became " .. long_after)
	`))
}

// TestEndToEndMessageCalls: rc.chat.react, update, delete and rc.rooms.info
// through the real client against rctest, success and the server's own
// error bodies; msg:reply and msg:react on a message event built from a
// stored message.
func TestEndToEndMessageCalls(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	theirs, err := s.PostMessage("alice", rctest.GeneralRoomID, "ship it")
	require.NoError(t, err)
	L := e2eState(t, s)
	L.SetGlobal("THEIRS", lua.LString(theirs.ID))
	require.NoError(t, L.DoString(`
		assert(rc.chat.react{message_id = THEIRS, emoji = ":rocket:", should_react = true} == true)
		local ok, err = rc.chat.react{message_id = THEIRS, emoji = "no_such_emoji"}
		assert(ok == nil and err.status == 400 and err.error_type == "error-not-allowed", tostring(err))
		assert(err.error == "Invalid emoji provided. [error-not-allowed]" and err.details.method == "setReaction")

		local mine = assert(rc.chat.post_message{room_id = GENERAL, text = "v1"})
		local upd = assert(rc.chat.update{room_id = GENERAL, message_id = mine._id, text = "v2"})
		assert(upd.msg == "v2" and type(upd.editedAt) == "string" and upd.editedBy.username == "rclua.bot")
		local none
		none, err = rc.chat.update{room_id = GENERAL, message_id = THEIRS, text = "x"}
		assert(none == nil and err.error_type == "error-action-not-allowed" and err.details.action == "Message_editing")
		none, err = rc.chat.delete{room_id = NOSUB, message_id = mine._id}
		assert(none == nil and err.status == 400 and err.error_type == "", tostring(err))
		assert(err.error == "The room id provided does not match where the message is from.")
		assert(rc.chat.delete{room_id = GENERAL, message_id = mine._id} == true)
		none, err = rc.chat.delete{room_id = GENERAL, message_id = mine._id}
		assert(none == nil and err.status == 400 and err.error_type == "", "deleted already: " .. tostring(err))
		assert(err.error == 'No message found with the id of "' .. mine._id .. '".', err.error)

		local room = assert(rc.rooms.info{room_name = "#general"})
		assert(room._id == GENERAL and room.t == "c" and room.usersCount > 0)
		none, err = rc.rooms.info{room_name = "nope"}
		assert(none == nil and err.error_type == "error-room-not-found", tostring(err))
	`))

	uid, token := s.CreateToken(rctest.AliceUsername)
	alice, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	asked, err := alice.Chat.PostMessage(context.Background(), &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "!ping"})
	require.NoError(t, err)
	args, err := EventArgs(L, "message", "created", asked.Raw)
	require.NoError(t, err)
	L.SetGlobal("msg", args[0])
	require.NoError(t, L.DoString(`
		local reply = assert(msg:reply{text = "pong", thread = true})
		assert(reply.tmid == msg._id and reply.rid == GENERAL)
		assert(msg:react("eyes") == true)`))
	var pong rctest.MessageInfo
	stored := s.Messages(rctest.GeneralRoomID)
	for _, m := range stored {
		if m.Text == "pong" {
			pong = m
		}
		if m.ID == asked.ID {
			assert.Equal(t, map[string][]string{":eyes:": {rctest.BotUsername}}, m.Reactions, "msg:react")
		}
		if m.ID == theirs.ID {
			assert.Equal(t, map[string][]string{":rocket:": {rctest.BotUsername}}, m.Reactions)
		}
		assert.NotEqual(t, "v2", m.Text, "deleted")
	}
	assert.Equal(t, asked.ID, pong.ThreadID, "msg:reply in a thread on the message")
}

// TestEndToEndSessionEndpointsRefused: rc.get and rc.post refuse the
// endpoints that would end or replace the daemon's own credentials
// (logout with a personal access token deletes the token, facts §1.4),
// in every spelling a route matches, before any request: the bot's token
// keeps working.
func TestEndToEndSessionEndpointsRefused(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	L := e2eState(t, s)
	for _, src := range []string{
		`rc.post("logout")`, `rc.get("logout")`, `rc.post("/logout")`, `rc.post("LogOut")`, `rc.post("login", {user = "x", password = "y"})`,
		`rc.post("users.logout", {userId = "me"})`, `rc.post("users.removeOtherTokens")`,
		`rc.post("users.removePersonalAccessToken", {tokenName = "rclua"})`, `rc.post("users.regeneratePersonalAccessToken", {tokenName = "rclua"})`,
		`rc.post("method.call/logout", {message = "{}"})`, `local p = rc.post; p("logout")`,
		`rc.post("//logout")`, `rc.post("logout/")`, `rc.post("./logout")`, `rc.get("///Users.Logout")`,
		`rc.post("method.call/x", {message = rc.json.encode({msg = "method", method = "logout", params = {}, id = "1"})})`,
		`rc.post("method.callAnon/x", {message = '{"method":"personalAccessTokens:removeToken"}'})`,
		`rc.post("method.call/x", {message = '{"msg":"method","method":"logout","METHOD":"x","params":[],"id":"1"}'})`,            // the server reads "method"
		`rc.post("method.call/x", {message = '{"msg":"method","Method":"x","method":"removeOtherTokens","params":[],"id":"1"}'})`, // whatever the order
	} {
		got := runChunk(t, L, "bad.lua", src)
		assert.Contains(t, got, "bad.lua:1: bad argument #", src)
		assert.Contains(t, got, "is refused: it would end or replace the daemon's own session or token", src)
	}
	assert.Empty(t, s.Requests(), "no refused endpoint reaches the server")
	require.Empty(t, runChunk(t, L, "ok.lua", `assert(rc.get("me").username == "rclua.bot", "the token still works")`))
}

// TestEndToEndMalformedEndpointRaises: a malformed endpoint given to
// rc.get or rc.post is the script's mistake: it raises with the script's
// file:line and the client's reason before any request, while a
// well-formed endpoint the server refuses still returns nil, err.
func TestEndToEndMalformedEndpointRaises(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	L := e2eState(t, s)
	for src, want := range map[string]string{
		`rc.get("rooms.info?roomId=X")`:                `bad argument #1 to rc.get (invalid endpoint "rooms.info?roomId=X": only letters, digits and . _ - / are allowed (query parameters go in the query argument))`,
		`rc.get("https://chat.example.com/api/v1/me")`: `bad argument #1 to rc.get (invalid endpoint "https://chat.example.com/api/v1/me": give the endpoint's name, not a URL (the server's address is configured))`,
		`rc.get("/api/v1/me")`:                         `bad argument #1 to rc.get (invalid endpoint "/api/v1/me": give it without the "/api/v1/" prefix ("me"))`,
		`rc.get("api/v1/me")`:                          `bad argument #1 to rc.get (invalid endpoint "api/v1/me": give it without the "api/v1/" prefix ("me"))`,
		`rc.post("/api/v1/chat.react", {})`:            `bad argument #1 to rc.post (invalid endpoint "/api/v1/chat.react": give it without the "/api/v1/" prefix ("chat.react"))`,
		`rc.post("chat.react?x=1")`:                    `bad argument #1 to rc.post (invalid endpoint "chat.react?x=1": only letters`,
		`rc.post("../chat.react")`:                     `bad argument #1 to rc.post (invalid endpoint "../chat.react")`,
		`rc.get("")`:                                   `bad argument #1 to rc.get (endpoint must not be empty)`,
		`rc.post("/")`:                                 `bad argument #1 to rc.post (empty endpoint)`,
		`local f = rc.get; f("/api/v1/me")`:            `bad argument #1 to rc.get (invalid endpoint "/api/v1/me"`,
	} {
		assert.Contains(t, runChunk(t, L, "bad.lua", src), "bad.lua:1: "+want, src)
	}
	assert.Empty(t, s.Requests(), "a malformed endpoint never reaches the server")

	require.Empty(t, runChunk(t, L, "ok.lua", `
		local body, err = rc.get("no.such.endpoint")
		assert(body == nil and err.status == 404, "a server-side failure is nil, err: " .. tostring(err and err.status))
		body, err = rc.post("no.such.endpoint", {})
		assert(body == nil and err.status == 404, "post: " .. tostring(err and err.status))
		assert(rc.get("me").username == "rclua.bot")
		assert(rc.get("/me").username == "rclua.bot", "a leading / is dropped")`))
	var paths []string
	for _, r := range s.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
	}
	assert.Equal(t, []string{"GET /api/v1/no.such.endpoint", "POST /api/v1/no.such.endpoint", "GET /api/v1/me", "GET /api/v1/me"}, paths)
}
