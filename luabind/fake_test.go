package luabind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
	"github.com/rclua/rclua/rc"
)

// call is what the fake received in one call.
type call struct {
	Method    string
	Ctx       context.Context
	RoomID    string
	MessageID string
	GetOpts   *rc.GetSubscriptionsOptions
	ReadOpts  *rc.ReadOptions
	Post      *rc.PostMessage
	Info      rc.UserInfoOptions
	Reaction  *rc.Reaction
	Update    *rc.UpdateMessage
	RoomInfo  rc.RoomInfoOptions
	Endpoint  string
	Query     url.Values
	Body      any
}

// fake implements Subscriptions, Chat, Users and API from memory. The room
// id "NOSUB" has no subscription; failNext makes the next call fail.
type fake struct {
	mu       sync.Mutex
	calls    []call
	failNext string
	started  chan struct{} // closed when a "slow" call is in flight
}

func newFake() *fake { return &fake{started: make(chan struct{})} }

func (f *fake) record(c call) error {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	kind := f.failNext
	f.failNext = ""
	f.mu.Unlock()
	return f.failure(c.Ctx, kind, c.Method)
}

func (f *fake) last() call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return call{}
	}
	return f.calls[len(f.calls)-1]
}

// failure returns the error of a failure kind.
func (f *fake) failure(ctx context.Context, kind, endpoint string) error {
	switch kind {
	case "":
		return nil
	case "rate_limit":
		return &rc.Error{Endpoint: endpoint, Status: 429, RetryAfter: 41500 * time.Millisecond,
			Message: "Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}
	case "rate_limit_reset":
		return &rc.Error{Endpoint: endpoint, Status: 429, Reset: time.Now().Add(10 * time.Second), Message: "Too many requests"}
	case "server":
		return &rc.Error{Endpoint: endpoint, Status: 400, Message: "There are no messages to mark unread [error-no-message-for-unread]",
			Type: "error-no-message-for-unread", Details: map[string]any{"method": "unreadMessages", "action": "Unread_messages"}}
	case "unauthorized":
		return &rc.Error{Endpoint: endpoint, Status: 401, Message: "You must be logged in to do this."}
	case "transport":
		return fmt.Errorf("rc: %s: %w", endpoint, io.ErrUnexpectedEOF)
	case "too_large": // the client's own refusal of a body over rc.MaxRequestBody
		return fmt.Errorf("rc: %s: request body of %d bytes: %w", endpoint, rc.MaxRequestBody+1, rc.ErrRequestTooLarge)
	case "canceled":
		return fmt.Errorf("rc: %s: %w", endpoint, context.Canceled)
	case "slow":
		close(f.started)
		<-ctx.Done()
		return fmt.Errorf("rc: %s: %w", endpoint, ctx.Err())
	case "bad_json":
		return bodyFault(`{"success":true,"x":[1,2`)
	case "no_member": // no "subscription", "message", "user" or "room"
		return bodyFault(`{"success":true}`)
	case "null_member":
		return bodyFault(`{"subscription":null,"message":null,"user":null,"room":null,"success":true}`)
	case "array_member":
		return bodyFault(`{"subscription":[],"message":[],"user":[],"room":[],"success":true}`)
	case "bomb": // every member 5,000 one-member objects: 40 KB of JSON, 3 MB of tables
		bomb := "[" + strings.Repeat(`{"a":0},`, 4999) + `{"a":0}]`
		return bodyFault(`{"update":` + bomb + `,"subscription":` + bomb + `,"message":` + bomb + `,"user":` + bomb + `,"room":` + bomb + `,"success":true}`)
	case "big": // 300 real subscriptions: 190 KB of JSON, 2 MB of tables
		return bodyFault(fixture.SubscriptionsBody(300))
	case "details_bomb": // a server error whose details hold the bomb
		items := make([]any, 5000)
		for i := range items {
			items[i] = map[string]any{"a": 0}
		}
		return &rc.Error{Endpoint: endpoint, Status: 400, Message: "Bad request", Details: map[string]any{"list": items}}
	}
	return fmt.Errorf("fake: unknown failure %q", kind)
}

// bodyFault makes the *Raw methods answer it as the body instead of their
// usual one (malformed or unexpected responses).
type bodyFault string

func (b bodyFault) Error() string { return "fake: body fault" }

func (f *fake) body(err error, body string) ([]byte, error) {
	var bf bodyFault
	if errors.As(err, &bf) {
		return []byte(bf), nil
	}
	if err != nil {
		return nil, err
	}
	return []byte(body), nil
}

const fakeGetBody = `{"update":[` +
	`{"_id":"5ALsG3QhpJfdMpyc8","rid":"GENERAL","t":"c","name":"general","ts":"2024-02-15T07:17:38.547Z","ls":"2024-05-30T16:47:36.993Z","u":{"_id":"EoyAmF4mxx5HxJHJB","username":"bot"},"open":true,"alert":true,"unread":4,"userMentions":1,"groupMentions":0,"tunread":["jC9chsFddTvsbFQG7"],"fname":null,"_updatedAt":"2024-07-02T18:07:35.267Z","newField":{"x":[]}},` +
	`{"_id":"pD7kKbTk2Dz4fQ9xS","rid":"EoyAmF4mxx5HxJHJBhw5DThnhQmxDWnavu","t":"d","name":"alice","fname":"Alice Doe","ts":"2024-03-01T10:00:00.000Z","ls":"2024-07-01T09:00:00.000Z","u":{"_id":"EoyAmF4mxx5HxJHJB","username":"bot"},"open":true,"alert":false,"unread":0,"userMentions":0,"groupMentions":0,"_updatedAt":"2024-07-01T09:00:00.001Z"}` +
	`],"remove":[{"_id":"Rd8qisB7G4tF4Fibu","_deletedAt":"2024-07-02T12:00:01.123Z"}],"success":true}`

func (f *fake) GetRaw(ctx context.Context, opts *rc.GetSubscriptionsOptions) ([]byte, error) {
	return f.body(f.record(call{Method: "subscriptions.get", Ctx: ctx, GetOpts: opts}), fakeGetBody)
}

func (f *fake) GetOneRaw(ctx context.Context, roomID string) ([]byte, error) {
	err := f.record(call{Method: "subscriptions.getOne", Ctx: ctx, RoomID: roomID})
	if roomID == "NOSUB" {
		return f.body(err, `{"subscription":null,"success":true}`)
	}
	return f.body(err, `{"subscription":{"_id":"sub-`+roomID+`","rid":"`+roomID+`","t":"c","name":"general","open":true,`+
		`"alert":true,"unread":3,"userMentions":1,"groupMentions":0,"u":{"_id":"BOT","username":"bot"},`+
		`"roles":["owner"],"ls":"2024-05-30T16:47:36.993Z","_updatedAt":"2024-07-02T18:07:35.267Z"},"success":true}`)
}

func (f *fake) Read(ctx context.Context, roomID string, opts *rc.ReadOptions) error {
	return f.record(call{Method: "subscriptions.read", Ctx: ctx, RoomID: roomID, ReadOpts: opts})
}

func (f *fake) Unread(ctx context.Context, roomID string) error {
	return f.record(call{Method: "subscriptions.unread", Ctx: ctx, RoomID: roomID})
}

func (f *fake) UnreadFromMessage(ctx context.Context, messageID string) error {
	return f.record(call{Method: "subscriptions.unread", Ctx: ctx, MessageID: messageID})
}

func (f *fake) PostMessageRaw(ctx context.Context, m *rc.PostMessage) ([]byte, error) {
	err := f.record(call{Method: "chat.postMessage", Ctx: ctx, Post: m})
	room := m.RoomID
	if room == "" {
		room = "GENERAL"
	}
	return f.body(err, `{"ts":1720000000000,"channel":"general","message":{"_id":"MSG1","rid":"`+room+`","msg":`+
		fmt.Sprintf("%q", m.Text)+`,"ts":"2024-07-03T09:46:40.000Z","u":{"_id":"BOT","username":"bot"},"mentions":[],"channels":[],"_updatedAt":"2024-07-03T09:46:40.000Z"},"success":true}`)
}

func (f *fake) React(ctx context.Context, r *rc.Reaction) error {
	err := f.record(call{Method: "chat.react", Ctx: ctx, Reaction: r, MessageID: r.MessageID})
	_, err = f.body(err, "")
	return err
}

func (f *fake) UpdateRaw(ctx context.Context, u *rc.UpdateMessage) ([]byte, error) {
	err := f.record(call{Method: "chat.update", Ctx: ctx, Update: u, RoomID: u.RoomID, MessageID: u.MessageID})
	return f.body(err, `{"message":{"_id":"`+u.MessageID+`","rid":"`+u.RoomID+`","msg":`+fmt.Sprintf("%q", u.Text)+
		`,"editedAt":"2024-07-03T09:47:00.000Z","editedBy":{"_id":"BOT","username":"bot"},"u":{"_id":"BOT","username":"bot"}},"success":true}`)
}

func (f *fake) Delete(ctx context.Context, roomID, messageID string) error {
	err := f.record(call{Method: "chat.delete", Ctx: ctx, RoomID: roomID, MessageID: messageID})
	_, err = f.body(err, "")
	return err
}

func (f *fake) InfoRaw(ctx context.Context, opts rc.UserInfoOptions) ([]byte, error) {
	err := f.record(call{Method: "users.info", Ctx: ctx, Info: opts})
	name := opts.Username
	if name == "" {
		name = "user-" + opts.UserID
	}
	return f.body(err, `{"user":{"_id":"U1","username":"`+name+`","name":"Alice","status":"online","active":true,"roles":["user"],"utcOffset":0},"success":true}`)
}

func (f *fake) MeRaw(ctx context.Context) ([]byte, error) {
	err := f.record(call{Method: "me", Ctx: ctx})
	return f.body(err, `{"_id":"BOT","username":"rclua.bot","name":"rclua bot","status":"online","active":true,"roles":["user","bot"],"emails":[{"address":"bot@example.com","verified":true}],"success":true}`)
}

func (f *fake) GetRaw2(ctx context.Context, endpoint string, query url.Values) ([]byte, error) {
	err := f.record(call{Method: "get", Ctx: ctx, Endpoint: endpoint, Query: query})
	return f.body(err, `{"echo":{"endpoint":"`+endpoint+`","query":"`+query.Encode()+`"},"success":true}`)
}

func (f *fake) PostRaw(ctx context.Context, endpoint string, body any) ([]byte, error) {
	err := f.record(call{Method: "post", Ctx: ctx, Endpoint: endpoint, Body: body})
	return f.body(err, `{"ok":1,"success":true}`)
}

// fakeAPI adapts fake to API (GetRaw's name is taken by Subscriptions).
type fakeAPI struct{ *fake }

// fakeRooms adapts fake to Rooms (InfoRaw's name is taken by Users).
type fakeRooms struct{ *fake }

func (r fakeRooms) InfoRaw(ctx context.Context, opts rc.RoomInfoOptions) ([]byte, error) {
	err := r.record(call{Method: "rooms.info", Ctx: ctx, RoomInfo: opts, RoomID: opts.RoomID})
	id := opts.RoomID
	if id == "" {
		id = "ROOM-" + opts.RoomName
	}
	return r.body(err, `{"room":{"_id":"`+id+`","t":"c","name":"general","fname":"general","msgs":3,"usersCount":2},"success":true}`)
}

func (a fakeAPI) GetRaw(ctx context.Context, endpoint string, query url.Values) ([]byte, error) {
	return a.fake.GetRaw2(ctx, endpoint, query)
}

// module returns a Module whose services are all f.
func (f *fake) module() *Module {
	return &Module{Subscriptions: f, Chat: f, Users: f, Rooms: fakeRooms{f}, API: fakeAPI{f}}
}

// luaTable exposes the fake to Lua as the global "fake":
// fake.fail_next(kind), fake.last() -> call table, fake.count() -> n.
// The call table's has_ctx is true when the call got the calling state's
// own context (L.Context()), not merely some context.
func (f *fake) luaTable(L *lua.LState) *lua.LTable {
	tb := L.NewTable()
	tb.RawSetString("fail_next", L.NewFunction(func(L *lua.LState) int {
		f.mu.Lock()
		f.failNext = L.CheckString(1)
		f.mu.Unlock()
		return 0
	}))
	tb.RawSetString("count", L.NewFunction(func(L *lua.LState) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		L.Push(lua.LNumber(len(f.calls)))
		return 1
	}))
	tb.RawSetString("last", L.NewFunction(func(L *lua.LState) int {
		c := f.last()
		t := L.NewTable()
		t.RawSetString("method", lua.LString(c.Method))
		t.RawSetString("has_ctx", lua.LBool(c.Ctx != nil && c.Ctx == L.Context()))
		set := func(k, v string) {
			if v != "" {
				t.RawSetString(k, lua.LString(v))
			}
		}
		set("room_id", c.RoomID)
		set("message_id", c.MessageID)
		set("endpoint", c.Endpoint)
		if c.GetOpts != nil {
			t.RawSetString("updated_since", lua.LString(c.GetOpts.UpdatedSince.UTC().Format(time.RFC3339Nano)))
		}
		if c.ReadOpts != nil {
			t.RawSetString("read_threads", lua.LBool(c.ReadOpts.ReadThreads))
		}
		if c.Post != nil {
			p := L.NewTable()
			for k, v := range map[string]string{"room_id": c.Post.RoomID, "channel": c.Post.Channel, "text": c.Post.Text,
				"alias": c.Post.Alias, "emoji": c.Post.Emoji, "avatar": c.Post.Avatar, "tmid": c.Post.ThreadID,
				"attachments": string(c.Post.RawAttachments)} {
				if v != "" {
					p.RawSetString(k, lua.LString(v))
				}
			}
			t.RawSetString("post", p)
		}
		if c.Reaction != nil {
			t.RawSetString("emoji", lua.LString(c.Reaction.Emoji))
			if c.Reaction.ShouldReact != nil {
				t.RawSetString("should_react", lua.LBool(*c.Reaction.ShouldReact))
			}
		}
		if c.Update != nil {
			t.RawSetString("text", lua.LString(c.Update.Text))
		}
		set("room_name", c.RoomInfo.RoomName)
		set("username", c.Info.Username)
		set("user_id", c.Info.UserID)
		if c.Query != nil {
			set("query", c.Query.Encode())
		}
		if c.Body != nil {
			if raw, ok := c.Body.([]byte); ok {
				set("body", string(raw))
			} else if raw, ok := c.Body.(interface{ MarshalJSON() ([]byte, error) }); ok {
				b, _ := raw.MarshalJSON()
				set("body", string(b))
			}
		}
		L.Push(t)
		return 1
	}))
	return tb
}
