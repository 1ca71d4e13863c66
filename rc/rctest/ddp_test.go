package rctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ddpConn is a raw DDP client for the server's side of the protocol.
type ddpConn struct {
	t *testing.T
	c *websocket.Conn
}

func dialDDP(t *testing.T, s *Server) *ddpConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/websocket", nil)
	require.NoError(t, err)
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &ddpConn{t: t, c: c}
}

func (d *ddpConn) send(v any) {
	d.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(v)
		require.NoError(d.t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(d.t, d.c.Write(ctx, websocket.MessageText, b))
}

// read returns the next frame, decoded.
func (d *ddpConn) read() map[string]any {
	d.t.Helper()
	m, err := d.tryRead()
	require.NoError(d.t, err)
	return m
}

func (d *ddpConn) tryRead() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := d.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("frame %s: %w", data, err)
	}
	return m, nil
}

// next returns the next frame that is not an "updated" or a server ping.
func (d *ddpConn) next() map[string]any {
	d.t.Helper()
	for {
		m := d.read()
		if m["msg"] != "updated" && m["msg"] != "ping" {
			return m
		}
	}
}

// connect does the handshake after the default first frame.
func (d *ddpConn) connect() {
	d.t.Helper()
	require.Equal(d.t, map[string]any{"server_id": "0"}, d.read())
	d.send(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
	m := d.read()
	for m["msg"] == "ping" { // a short test heartbeat may beat a slow handshake
		m = d.read()
	}
	require.Equal(d.t, "connected", m["msg"], "%v", m)
}

func (d *ddpConn) login(token string) map[string]any {
	d.t.Helper()
	d.send(map[string]any{"msg": "method", "method": "login", "id": "L", "params": []any{map[string]any{"resume": token}}})
	m := d.next()
	require.Equal(d.t, "result", m["msg"], "%v", m)
	require.Equal(d.t, "L", m["id"])
	return m
}

func (d *ddpConn) sub(id, name, event string) map[string]any {
	d.t.Helper()
	d.send(map[string]any{"msg": "sub", "id": id, "name": name, "params": []any{event, false}})
	return d.next()
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDDPFirstFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		frame ServerIDFrame
		want  map[string]any // nil: no frame before connected
	}{
		{"plain", ServerIDPlain, map[string]any{"server_id": "0"}},
		{"msg", ServerIDMsg, map[string]any{"msg": "server_id", "server_id": "0"}},
		{"none", ServerIDNone, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t)
			s.SetServerIDFrame(tc.frame)
			d := dialDDP(t, s)
			d.send(map[string]any{"msg": "connect", "version": "1", "support": []string{"1"}})
			m := d.read()
			if tc.want != nil {
				assert.Equal(t, tc.want, m, "first frame")
				m = d.read()
			}
			assert.Equal(t, "connected", m["msg"], "%v", m)
			assert.Len(t, m["session"], 17, "session id")
		})
	}
}

func TestDDPFirstMessageMustBeConnect(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.read() // server_id
	d.send(map[string]any{"msg": "ping"})
	_, err := d.tryRead()
	assert.Equal(t, websocket.StatusProtocolError, websocket.CloseStatus(err), "close status: %v", err)
}

func TestDDPUnsupportedVersion(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.read()
	d.send(map[string]any{"msg": "connect", "version": "2", "support": []string{"2"}})
	assert.Equal(t, map[string]any{"msg": "failed", "version": "1"}, d.read())
}

func TestDDPLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	loginToken := botClient(t, s).login(AliceUsername, AlicePassword).token

	for _, tc := range []struct {
		name, token, uid string
	}{
		{"personal access token", BotToken, BotUserID},
		{"login token", loginToken, AliceUserID},
	} {
		d := dialDDP(t, s)
		d.connect()
		m := d.login(tc.token)
		res, ok := m["result"].(map[string]any)
		require.True(t, ok, "%s: %v", tc.name, m)
		assert.Equal(t, tc.uid, res["id"], tc.name)
		assert.Equal(t, tc.token, res["token"], tc.name)
		assert.Equal(t, "resume", res["type"], tc.name)
		exp, _ := res["tokenExpires"].(map[string]any)
		assert.IsType(t, float64(0), exp["$date"], "%s: tokenExpires is an EJSON date: %v", tc.name, res)
	}

	d := dialDDP(t, s)
	d.connect()
	m := d.login("no-such-token")
	assert.Equal(t, map[string]any{"isClientSafe": true, "error": float64(403),
		"reason":  "You've been logged out by the server. Please log in again.",
		"message": "You've been logged out by the server. Please log in again. [403]", "errorType": "Meteor.Error"},
		m["error"], "unknown token")
	assert.NotContains(t, m, "result")

	s.RefuseLogins(1)
	m = d.login(BotToken)
	assert.Contains(t, m, "error", "refused once")
	m = d.login(BotToken)
	assert.Contains(t, m, "result", "then accepted")

	d.send(map[string]any{"msg": "method", "method": "login", "id": "L", "params": []any{map[string]any{"user": "x"}}})
	m = d.next()
	assert.Equal(t, float64(400), m["error"].(map[string]any)["error"], "not a resume login: %v", m)

	st := s.DDPStats()
	assert.Equal(t, 6, st.Logins, "login calls")
	assert.Equal(t, 3, st.LoginsRefused, "refused")
	assert.Equal(t, 3, st.Sessions, "sessions")
}

func TestDDPMethodResultThenUpdated(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d.send(map[string]any{"msg": "method", "method": "nope", "id": "7", "params": []any{}})
	m := d.read()
	assert.Equal(t, "result", m["msg"])
	assert.Equal(t, "Method 'nope' not found [404]", m["error"].(map[string]any)["message"])
	assert.Equal(t, map[string]any{"msg": "updated", "methods": []any{"7"}}, d.read())
}

func TestDDPPingPong(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d.send(map[string]any{"msg": "ping", "id": "p1"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "p1"}, d.read(), "ping with id")
	d.send(map[string]any{"msg": "ping"})
	assert.Equal(t, map[string]any{"msg": "pong"}, d.read(), "ping without id")

	// The server pings a quiet client and keeps the session when it
	// answers.
	s.SetHeartbeat(20*time.Millisecond, 5*time.Second)
	d2 := dialDDP(t, s)
	d2.connect()
	for range 3 {
		assert.Equal(t, map[string]any{"msg": "ping"}, d2.read(), "server ping")
		d2.send(map[string]any{"msg": "pong"})
	}
	assert.Equal(t, 2, s.DDPStats().Pings, "client pings")
	waitFor(t, "3 pongs", func() bool { return s.DDPStats().Pongs == 3 })
	assert.Len(t, s.Sessions(), 2, "both sessions open")
}

func TestDDPHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.SetHeartbeat(10*time.Millisecond, 20*time.Millisecond)
	d := dialDDP(t, s)
	d.connect()
	assert.Equal(t, map[string]any{"msg": "ping"}, d.read())
	_, err := d.tryRead() // no pong: the server gives up
	assert.Equal(t, websocket.StatusCode(4000), websocket.CloseStatus(err), "close: %v", err)
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		assert.Equal(t, "TIMEOUT", ce.Reason)
	}
}

func TestDDPStopAnsweringPings(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	s.StopAnsweringPings(true)
	d.send(map[string]any{"msg": "ping", "id": "p"})
	d.send(map[string]any{"msg": "method", "method": "nope", "id": "m"})
	m := d.next()
	assert.Equal(t, "result", m["msg"], "the ping got no pong, the method its result: %v", m)
	assert.Len(t, s.Sessions(), 1, "a silent server closes nothing")
	s.StopAnsweringPings(false)
	d.send(map[string]any{"msg": "ping", "id": "p2"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "p2"}, d.next())
}

func TestDDPSubRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	m := d.sub("a", streamNotifyUser, BotUserID+"/subscriptions-changed")
	assert.Equal(t, "nosub", m["msg"], "before login")
	assert.Equal(t, "not-allowed", m["error"].(map[string]any)["error"])
	m = d.sub("b", streamRoomMessages, myMessages)
	assert.Equal(t, map[string]any{"msg": "ready", "subs": []any{"b"}}, m, "__my_messages__ before login")

	d.login(BotToken)
	for _, tc := range []struct {
		name, stream, event string
		code                any
	}{
		{"another user's events", streamNotifyUser, AliceUserID + "/subscriptions-changed", "not-allowed"},
		{"unknown stream", "stream-nope", "x", float64(404)},
		{"empty event", streamRoomMessages, "", "invalid-event-name"},
		{"unknown room", streamRoomMessages, "nowhere", "not-allowed"},
	} {
		m := d.sub("x", tc.stream, tc.event)
		require.Equal(t, "nosub", m["msg"], "%s: %v", tc.name, m)
		assert.Equal(t, tc.code, m["error"].(map[string]any)["error"], tc.name)
	}
	assert.Equal(t, "ready", d.sub("c", streamRoomMessages, NoSubRoomID)["msg"], "a public room the bot is not in")
	d.send(map[string]any{"msg": "unsub", "id": "c"})
	assert.Equal(t, map[string]any{"msg": "nosub", "id": "c"}, d.next(), "unsub")
	sess := s.Sessions()
	require.Len(t, sess, 1)
	assert.Equal(t, []DDPSub{{ID: "b", Name: streamRoomMessages, EventName: myMessages}}, sess[0].Subs)
	assert.Equal(t, BotUserID, sess[0].UserID)
	assert.Equal(t, []string{"connect", "sub stream-notify-user " + BotUserID + "/subscriptions-changed",
		"sub stream-room-messages __my_messages__", "login",
		"sub stream-notify-user " + AliceUserID + "/subscriptions-changed", "sub stream-nope x",
		"sub stream-room-messages ", "sub stream-room-messages nowhere",
		"sub stream-room-messages " + NoSubRoomID, "unsub c"}, sess[0].Received)
	assert.Equal(t, 7, s.DDPStats().Subs)
	assert.Equal(t, map[string]int{streamNotifyUser: 2, streamRoomMessages: 4, "stream-nope": 1}, s.DDPStats().SubsByStream)
}

// subEvent reads the next subscriptions-changed event: action and payload.
func (d *ddpConn) subEvent() (string, map[string]any) {
	d.t.Helper()
	m := d.next()
	require.Equal(d.t, "changed", m["msg"], "%v", m)
	require.Equal(d.t, streamNotifyUser, m["collection"])
	require.Equal(d.t, "id", m["id"])
	f := m["fields"].(map[string]any)
	require.Equal(d.t, BotUserID+"/subscriptions-changed", f["eventName"])
	args := f["args"].([]any)
	require.Len(d.t, args, 2)
	return args[0].(string), args[1].(map[string]any)
}

// restForm turns the EJSON dates of a DDP document into REST's strings.
func restForm(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, x := range v {
		if o, ok := x.(map[string]any); ok && len(o) == 1 {
			if ms, ok := o["$date"].(float64); ok {
				x = time.UnixMilli(int64(ms)).UTC().Format(timeLayout)
			}
		}
		out[k] = x
	}
	return out
}

// TestDDPSubscriptionEvents checks that subscriptions-changed follows the
// REST state one for one, with the subscription as REST returns it.
func TestDDPSubscriptionEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	bot := botClient(t, s)
	alice := bot.as(AliceUserID, AliceToken)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	require.Equal(t, "ready", d.sub("s", streamNotifyUser, BotUserID+"/subscriptions-changed")["msg"])

	restSub := func(rid string) map[string]any {
		t.Helper()
		return bot.get("/api/v1/subscriptions.getOne?roomId=" + rid).json(t)["subscription"].(map[string]any)
	}
	expect := func(what, action, rid string) map[string]any {
		t.Helper()
		a, sub := d.subEvent()
		require.Equal(t, action, a, what)
		require.Equal(t, rid, sub["rid"], what)
		if action != actionRemoved {
			assert.IsType(t, map[string]any{}, sub["_updatedAt"], "%s: EJSON date", what)
			assert.Equal(t, restSub(rid), restForm(t, sub), "%s: the subscription as REST returns it", what)
		}
		return sub
	}

	require.NoError(t, s.AddSubscription(BotUsername, NoSubRoomID))
	expect("joined", actionInserted, NoSubRoomID)

	// general is alerted in the seed: a plain message changes nothing.
	_, err := s.PostMessage(AliceUsername, GeneralRoomID, "plain")
	require.NoError(t, err)
	_, err = s.PostMessage(CarolUsername, GeneralRoomID, "@"+BotUsername+" look")
	require.NoError(t, err)
	sub := expect("mentioned (the plain message before sent nothing)", actionUpdated, GeneralRoomID)
	assert.Equal(t, float64(2), sub["userMentions"])

	r := bot.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID, "readThreads": true})
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, false, expect("read", actionUpdated, GeneralRoomID)["alert"])

	// Now not alerted: a plain message alerts it, the next does nothing.
	r = alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": "first"})
	require.Equal(t, 200, r.status, "%s", r.body)
	assert.Equal(t, true, expect("alerted", actionUpdated, GeneralRoomID)["alert"])
	r = alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": "second"})
	require.Equal(t, 200, r.status, "%s", r.body)

	// The bot's own message marks its subscription read.
	r = bot.post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "mine"})
	require.Equal(t, 200, r.status, "%s", r.body)
	expect("own message (the second plain message sent nothing)", actionUpdated, RandomRoomID)

	r = bot.post("/api/v1/subscriptions.unread", map[string]any{"roomId": RandomRoomID})
	require.Equal(t, 200, r.status, "%s", r.body)
	expect("marked unread", actionUpdated, RandomRoomID)

	// Alice's messages change alice's subscriptions: not the bot's events.
	_, err = s.PostMessage(BotUsername, EmptyRoomID, "hello alice")
	require.NoError(t, err)
	expect("own message in empty", actionUpdated, EmptyRoomID)

	require.NoError(t, s.RemoveSubscription(BotUsername, NoSubRoomID))
	_, removed := d.subEvent()
	assert.Equal(t, map[string]any{"_id": removed["_id"], "u": map[string]any{"_id": BotUserID, "username": BotUsername},
		"rid": NoSubRoomID}, removed, "removed: what the trash holds")

	ids, err := s.TouchSubscriptions(BotUsername)
	require.NoError(t, err)
	for range ids {
		a, _ := d.subEvent()
		assert.Equal(t, actionUpdated, a, "touched")
	}

	// A DM created by a post: inserted, once, with its final state.
	r = bot.post("/api/v1/chat.postMessage", map[string]any{"channel": "@" + BobUsername, "text": "hi bob"})
	require.Equal(t, 200, r.status, "%s", r.body)
	dm := BobUserID + BotUserID
	if BotUserID < BobUserID {
		dm = BotUserID + BobUserID
	}
	expect("new DM", actionInserted, dm)

	d.send(map[string]any{"msg": "ping", "id": "end"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "end"}, d.next(), "nothing more")
}

// msgEvent reads the next stream-room-messages event.
func (d *ddpConn) msgEvent() (eventName string, msg map[string]any, extra map[string]any) {
	d.t.Helper()
	m := d.next()
	require.Equal(d.t, "changed", m["msg"], "%v", m)
	require.Equal(d.t, streamRoomMessages, m["collection"])
	f := m["fields"].(map[string]any)
	args := f["args"].([]any)
	msg = args[0].(map[string]any)
	if len(args) > 1 {
		extra = args[1].(map[string]any)
	}
	return f["eventName"].(string), msg, extra
}

func TestDDPMessageEvents(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := botClient(t, s).as(AliceUserID, AliceToken)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	require.Equal(t, "ready", d.sub("r", streamRoomMessages, GeneralRoomID)["msg"])
	require.Equal(t, "ready", d.sub("m", streamRoomMessages, myMessages)["msg"])

	posted, err := s.PostMessage(AliceUsername, GeneralRoomID, "hello")
	require.NoError(t, err)
	ev, msg, extra := d.msgEvent()
	assert.Equal(t, GeneralRoomID, ev, "room stream first (subscribed first)")
	assert.Nil(t, extra, "no extra on the room stream")
	assert.Equal(t, posted.ID, msg["_id"])
	assert.Equal(t, "hello", msg["msg"])
	assert.Equal(t, map[string]any{"$date": float64(posted.TS.UnixMilli())}, msg["ts"], "EJSON date")
	ev, msg2, extra := d.msgEvent()
	assert.Equal(t, myMessages, ev)
	assert.Equal(t, msg, msg2, "the same message")
	assert.Equal(t, map[string]any{"roomParticipant": true, "roomType": "c", "roomName": "general"}, extra)

	// A public room the bot is not in: only __my_messages__, not a participant.
	_, err = s.PostMessage(AliceUsername, NoSubRoomID, "elsewhere")
	require.NoError(t, err)
	ev, msg, extra = d.msgEvent()
	assert.Equal(t, myMessages, ev)
	assert.Equal(t, "elsewhere", msg["msg"])
	assert.Equal(t, map[string]any{"roomParticipant": false, "roomType": "c", "roomName": "nosub"}, extra)

	// A DM: no roomName. The bot's own message comes too.
	_, err = s.PostMessage(BotUsername, DMAliceRoomID, "my own")
	require.NoError(t, err)
	ev, msg, extra = d.msgEvent()
	assert.Equal(t, myMessages, ev)
	assert.Equal(t, BotUserID, msg["u"].(map[string]any)["_id"])
	assert.Equal(t, map[string]any{"roomParticipant": true, "roomType": "d"}, extra)

	// A thread reply: the reply, then the parent with its new tcount.
	r := alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": GeneralRoomID, "text": "in thread", "tmid": posted.ID})
	require.Equal(t, 200, r.status, "%s", r.body)
	ev, reply, _ := d.msgEvent()
	assert.Equal(t, GeneralRoomID, ev)
	assert.Equal(t, posted.ID, reply["tmid"])
	assert.Equal(t, reply, d.mustMyMessage(t), "__my_messages__ gets the reply")
	ev, parent, _ := d.msgEvent()
	assert.Equal(t, GeneralRoomID, ev)
	assert.Equal(t, posted.ID, parent["_id"])
	assert.Equal(t, float64(1), parent["tcount"])
	assert.Equal(t, parent, d.mustMyMessage(t), "and the parent")

	// A private group: while the bot is in it, then not.
	_, err = s.PostMessage(AliceUsername, DiscussionRoomID, "in a group the bot is in")
	require.NoError(t, err)
	assert.Equal(t, "in a group the bot is in", d.mustMyMessage(t)["msg"])
	require.NoError(t, s.RemoveSubscription(BotUsername, DiscussionRoomID))
	_, err = s.PostMessage(AliceUsername, DiscussionRoomID, "after the bot left")
	require.NoError(t, err)
	d.send(map[string]any{"msg": "ping", "id": "end"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "end"}, d.next(), "nothing from a group the bot left")
}

func (d *ddpConn) mustMyMessage(t *testing.T) map[string]any {
	t.Helper()
	ev, msg, _ := d.msgEvent()
	require.Equal(t, myMessages, ev)
	return msg
}

func TestDDPTwoSubsTwoCopies(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	d.sub("a", streamRoomMessages, GeneralRoomID)
	d.sub("b", streamRoomMessages, GeneralRoomID)
	d.sub("a", streamRoomMessages, GeneralRoomID) // a reused id replaces
	_, err := s.PostMessage(AliceUsername, GeneralRoomID, "twice")
	require.NoError(t, err)
	for i := range 2 {
		_, msg, _ := d.msgEvent()
		assert.Equal(t, "twice", msg["msg"], "copy %d", i)
	}
	d.send(map[string]any{"msg": "ping", "id": "end"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "end"}, d.next(), "two copies, not three")
}

func TestDDPDropSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d2 := dialDDP(t, s)
	d2.connect()
	assert.Equal(t, 2, s.DropSessions())
	assert.Empty(t, s.Sessions())
	for _, c := range []*ddpConn{d, d2} {
		_, err := c.tryRead()
		require.Error(t, err)
		assert.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "no close frame: %v", err)
	}
	d3 := dialDDP(t, s) // the server still serves
	d3.connect()
}

func TestDDPRefuseUpgrade(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.RefuseUpgrade(true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, s.URL+"/websocket", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	r := botClient(t, s).get("/websocket")
	assert.Equal(t, 400, r.status)
	assert.Equal(t, `Can "Upgrade" only to "WebSocket".`, string(r.body))
	s.RefuseUpgrade(false)
	dialDDP(t, s).connect()
}

// TestDDPCloseWithStalledClient checks that Close ends a session whose
// client reads nothing while the server has frames to write.
func TestDDPCloseWithStalledClient(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	d.sub("m", streamRoomMessages, myMessages)
	text := strings.Repeat("x", 4000)
	for range 4000 { // ~17 MB: more than the socket buffers hold
		_, err := s.PostMessage(AliceUsername, GeneralRoomID, text)
		require.NoError(t, err)
	}
	waitFor(t, "the writer to stall", func() bool {
		sess := s.Sessions()
		return len(sess) == 1 && sess[0].Queued > 0
	})
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked on a stalled session")
	}
}

func TestEJSONDates(t *testing.T) {
	t.Parallel()
	in := `{"_id":"x","ts":"2024-02-15T07:17:38.547Z","msg":"2024-02-15T07:17:38.547Z","u":{"ts":"2024-02-15T07:17:38.547Z"},"attachments":[{"ts":"2024-02-15T07:17:38.547Z"}],"_updatedAt":"not a date","lr":"2024-02-15T07:17:38.548Z"}`
	want := `{"_id":"x","ts":{"$date":1707981458547},"msg":"2024-02-15T07:17:38.547Z","u":{"ts":"2024-02-15T07:17:38.547Z"},"attachments":[{"ts":"2024-02-15T07:17:38.547Z"}],"_updatedAt":"not a date","lr":{"$date":1707981458548}}`
	assert.Equal(t, want, string(ejsonDates([]byte(in))))
	assert.Equal(t, "nope{", string(ejsonDates([]byte("nope{"))), "not JSON: as it is")
}

// The stream adds nothing to the REST log.
func TestDDPNotInRequestLog(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	dialDDP(t, s).connect()
	assert.Empty(t, s.Requests())
}

// TestDDPEditIsSentAgain (§6): an edit through chat.update reaches the
// room's stream as the whole message again, with editedAt set; an update
// with the same text changes nothing and sends nothing.
func TestDDPEditIsSentAgain(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := botClient(t, s).as(AliceUserID, AliceToken)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	require.Equal(t, "ready", d.sub("r", streamRoomMessages, GeneralRoomID)["msg"])
	posted, err := s.PostMessage(AliceUsername, GeneralRoomID, "helo")
	require.NoError(t, err)
	_, first, _ := d.msgEvent()
	require.Nil(t, first["editedAt"])

	r := alice.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": posted.ID, "text": "hello"})
	require.Equal(t, 200, r.status, "%s", r.body)
	_, edited, _ := d.msgEvent()
	assert.Equal(t, posted.ID, edited["_id"])
	assert.Equal(t, "hello", edited["msg"])
	assert.NotNil(t, edited["editedAt"], "an edit carries editedAt")

	r = alice.post("/api/v1/chat.update", map[string]any{"roomId": GeneralRoomID, "msgId": posted.ID, "text": "hello"})
	require.Equal(t, 200, r.status, "%s", r.body)
	_, err = s.PostMessage(AliceUsername, GeneralRoomID, "next")
	require.NoError(t, err)
	_, next, _ := d.msgEvent()
	assert.Equal(t, "next", next["msg"], "the same text sent nothing")
}

// TestDDPLeavingDetachesRoomMessages: leaving a room silently detaches the
// user's stream-room-messages subscription to it (facts §6.1), a public
// channel's too, which anyone may read: no nosub, and no further message.
func TestDDPLeavingDetachesRoomMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	d.sub("r", streamRoomMessages, RandomRoomID)
	_, err := s.PostMessage(AliceUsername, RandomRoomID, "while a member")
	require.NoError(t, err)
	ev, msg, _ := d.msgEvent()
	assert.Equal(t, RandomRoomID, ev)
	assert.Equal(t, "while a member", msg["msg"])
	require.NoError(t, s.RemoveSubscription(BotUsername, RandomRoomID))
	_, err = s.PostMessage(AliceUsername, RandomRoomID, "after the bot left")
	require.NoError(t, err)
	d.send(map[string]any{"msg": "ping", "id": "end"})
	assert.Equal(t, map[string]any{"msg": "pong", "id": "end"}, d.next(), "nothing (not even a nosub) after leaving")
}

// TestDDPReactionResendsTheMessage: a reaction changes the message, and
// the server sends every change of a message on its room's stream, as it
// does an edit (the message whole, with its new reactions and _updatedAt).
func TestDDPReactionResendsTheMessage(t *testing.T) {
	t.Parallel()
	// A clock that moves only when told: at the server's millisecond
	// precision, a post and a reaction on the real clock may share one
	// _updatedAt.
	var mu sync.Mutex
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s := startServer(t, WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }))
	d := dialDDP(t, s)
	d.connect()
	d.login(BotToken)
	d.sub("g", streamRoomMessages, GeneralRoomID)
	posted, err := s.PostMessage(AliceUsername, GeneralRoomID, "react to me")
	require.NoError(t, err)
	_, first, _ := d.msgEvent()
	require.Equal(t, posted.ID, first["_id"])
	bot := botClient(t, s)
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	r := bot.post("/api/v1/chat.react", map[string]any{"messageId": posted.ID, "emoji": "eyes"})
	require.Equal(t, 200, r.status, "%s", r.body)
	ev, again, _ := d.msgEvent()
	assert.Equal(t, GeneralRoomID, ev)
	assert.Equal(t, posted.ID, again["_id"])
	assert.Contains(t, again["reactions"], ":eyes:")
	ejsonDate := func(t time.Time) any { return map[string]any{"$date": float64(t.UnixMilli())} }
	assert.Equal(t, ejsonDate(now.Add(-time.Second)), first["_updatedAt"], "the post's time")
	assert.Equal(t, ejsonDate(now), again["_updatedAt"], "the reaction's time")
}
