package luabind

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"
	"unsafe"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// subscriptionsGet is
//
//	rc.subscriptions.get([{updated_since = iso_string | unix_seconds}])
//	  -> {update = {sub, ...}, remove = {{_id, _deletedAt}, ...}} | nil, err
//
// Endpoint: GET subscriptions.get. The tables keep the server's fields.
func (b *binding) subscriptionsGet(L *lua.LState) int {
	const fn = "rc.subscriptions.get"
	var opts *rc.GetSubscriptionsOptions
	if tb := optTable(L, 1, fn, "options"); tb != nil {
		eachOption(L, 1, fn, tb, func(k string, v lua.LValue) {
			switch k {
			case "updated_since":
				opts = &rc.GetSubscriptionsOptions{UpdatedSince: checkTime(L, 1, fn, k, v)}
			default:
				unknownOption(L, 1, fn, k)
			}
		})
	}
	if b.m.Subscriptions == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Subscriptions.GetRaw(ctxOf(L), opts)
	if err != nil {
		return b.fail(L, err)
	}
	tb, err := b.decodeBody(L, "subscriptions.get", body)
	if err != nil {
		return b.fail(L, err)
	}
	tb.RawSetString("success", lua.LNil)
	L.Push(tb)
	return 1
}

// subscriptionsGetOne is
//
//	rc.subscriptions.get_one(room_id) -> subscription | nil | nil, err
//
// A single nil means the bot has no subscription in that room.
// Endpoint: GET subscriptions.getOne.
func (b *binding) subscriptionsGetOne(L *lua.LState) int {
	const fn = "rc.subscriptions.get_one"
	id := checkID(L, 1, fn, "room_id")
	if b.m.Subscriptions == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Subscriptions.GetOneRaw(ctxOf(L), id)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushField(L, "subscriptions.getOne", body, "subscription", true)
}

// subscriptionsRead is
//
//	rc.subscriptions.read(room_id [, {read_threads = bool}]) -> true | nil, err
//
// Endpoint: POST subscriptions.read.
func (b *binding) subscriptionsRead(L *lua.LState) int {
	const fn = "rc.subscriptions.read"
	id := checkID(L, 1, fn, "room_id")
	var opts *rc.ReadOptions
	if tb := optTable(L, 2, fn, "options"); tb != nil {
		opts = &rc.ReadOptions{}
		eachOption(L, 2, fn, tb, func(k string, v lua.LValue) {
			switch k {
			case "read_threads":
				bv, ok := v.(lua.LBool)
				if !ok {
					argError(L, 2, fn, "read_threads: boolean expected, got "+typeName(v))
				}
				opts.ReadThreads = bool(bv)
			default:
				unknownOption(L, 2, fn, k)
			}
		})
	}
	if b.m.Subscriptions == nil {
		return b.fail(L, errUnavailable)
	}
	if err := b.m.Subscriptions.Read(ctxOf(L), id, opts); err != nil {
		return b.fail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// subscriptionsUnread is
//
//	rc.subscriptions.unread(room_id) -> true | nil, err
//	rc.subscriptions.unread{first_unread_message = msg_id} -> true | nil, err
//
// Endpoint: POST subscriptions.unread.
func (b *binding) subscriptionsUnread(L *lua.LState) int {
	const fn = "rc.subscriptions.unread"
	var roomID, msgID string
	if tb, ok := L.Get(1).(*lua.LTable); ok {
		eachOption(L, 1, fn, tb, func(k string, v lua.LValue) {
			switch k {
			case "first_unread_message":
				msgID = checkIDValue(L, 1, fn, k, v)
			default:
				unknownOption(L, 1, fn, k)
			}
		})
		if msgID == "" {
			argError(L, 1, fn, "first_unread_message is required")
		}
	} else {
		roomID = checkID(L, 1, fn, "room_id")
	}
	if b.m.Subscriptions == nil {
		return b.fail(L, errUnavailable)
	}
	var err error
	if msgID != "" {
		err = b.m.Subscriptions.UnreadFromMessage(ctxOf(L), msgID)
	} else {
		err = b.m.Subscriptions.Unread(ctxOf(L), roomID)
	}
	if err != nil {
		return b.fail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// chatPostMessage is
//
//	rc.chat.post_message{channel = "#name" | "@user" | room_id, room_id = id,
//	  text = s, alias = s, emoji = s, avatar = url, attachments = {...}, tmid = id}
//	  -> message | nil, err
//
// Exactly one of channel and room_id. Endpoint: POST chat.postMessage.
func (b *binding) chatPostMessage(L *lua.LState) int {
	const fn = "rc.chat.post_message"
	tb, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, 1, fn, "table expected, got "+typeName(L.Get(1)))
	}
	msg := &rc.PostMessage{}
	eachOption(L, 1, fn, tb, func(k string, v lua.LValue) {
		switch k {
		case "channel":
			msg.Channel = checkIDValue(L, 1, fn, k, v)
		case "room_id":
			msg.RoomID = checkIDValue(L, 1, fn, k, v)
		case "text":
			msg.Text = checkString(L, 1, fn, k, v)
		case "alias":
			msg.Alias = checkString(L, 1, fn, k, v)
		case "emoji":
			msg.Emoji = checkString(L, 1, fn, k, v)
		case "avatar":
			msg.Avatar = checkString(L, 1, fn, k, v)
		case "tmid":
			msg.ThreadID = checkIDValue(L, 1, fn, k, v)
		case "attachments":
			at, ok := v.(*lua.LTable)
			if !ok {
				argError(L, 1, fn, "attachments: table expected, got "+typeName(v))
			}
			if k, _ := at.Next(lua.LNil); k == lua.LNil {
				return // {}: no attachments
			}
			raw, err := EncodeJSON(at)
			if err != nil {
				argError(L, 1, fn, "attachments: "+err.Error())
			}
			if raw[0] != '[' {
				argError(L, 1, fn, "attachments: a sequence of attachment tables expected")
			}
			msg.RawAttachments = raw
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	switch {
	case msg.Channel != "" && msg.RoomID != "":
		argError(L, 1, fn, "give channel or room_id, not both")
	case msg.Channel == "" && msg.RoomID == "":
		argError(L, 1, fn, "channel or room_id is required")
	}
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Chat.PostMessageRaw(ctxOf(L), msg)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushField(L, "chat.postMessage", body, "message", false)
}

// pushField decodes body and pushes its member key, which must be a JSON
// object. When optional (get_one), an absent or null member pushes a single
// nil; otherwise it is a malformed response: nil, err (error_type
// "decode").
func (b *binding) pushField(L *lua.LState, endpoint string, body []byte, key string, optional bool) int {
	v, err := decodeField(L, b.sd, bodyString(body), key)
	if err != nil {
		return b.fail(L, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err))
	}
	if v == lua.LNil || isNull(v) {
		if optional {
			L.Push(lua.LNil)
			return 1
		}
		return b.fail(L, fmt.Errorf("luabind: %s: %w %q", endpoint, errNoMember, key))
	}
	if tb, ok := v.(*lua.LTable); !ok || isArrayMarked(tb) {
		return b.fail(L, fmt.Errorf("luabind: %s: %w: member %q is %s", endpoint, errNotObject, key, jsonKind(v)))
	}
	L.Push(v)
	return 1
}

// jsonKind names the JSON kind a decoded value came from.
func jsonKind(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LTable:
		if isArrayMarked(v) {
			return "an array"
		}
		return "an object"
	case lua.LString:
		return "a string"
	case lua.LNumber:
		return "a number"
	case lua.LBool:
		return "a boolean"
	}
	return "null"
}

// usersInfo is
//
//	rc.users.info{username = name | user_id = id} -> user | nil, err
//
// Endpoint: GET users.info.
func (b *binding) usersInfo(L *lua.LState) int {
	const fn = "rc.users.info"
	tb, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, 1, fn, "table expected, got "+typeName(L.Get(1)))
	}
	var opts rc.UserInfoOptions
	eachOption(L, 1, fn, tb, func(k string, v lua.LValue) {
		switch k {
		case "username":
			opts.Username = checkIDValue(L, 1, fn, k, v)
		case "user_id":
			opts.UserID = checkIDValue(L, 1, fn, k, v)
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	if (opts.Username == "") == (opts.UserID == "") {
		argError(L, 1, fn, "give exactly one of username and user_id")
	}
	if b.m.Users == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Users.InfoRaw(ctxOf(L), opts)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushField(L, "users.info", body, "user", false)
}

// me is
//
//	rc.me() -> user | nil, err
//
// Endpoint: GET me.
func (b *binding) me(L *lua.LState) int {
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.API.MeRaw(ctxOf(L))
	if err != nil {
		return b.fail(L, err)
	}
	tb, err := b.decodeBody(L, "me", body)
	if err != nil {
		return b.fail(L, err)
	}
	tb.RawSetString("success", lua.LNil)
	L.Push(tb)
	return 1
}

// get is
//
//	rc.get(endpoint [, query]) -> body | nil, err
//
// endpoint is given without "/api/v1/" ("channels.info"); query values are
// strings, numbers, booleans or sequences of them. The whole decoded body
// is returned.
func (b *binding) get(L *lua.LState) int {
	const fn = "rc.get"
	endpoint := checkID(L, 1, fn, "endpoint")
	var query url.Values
	if tb := optTable(L, 2, fn, "query"); tb != nil {
		query = url.Values{}
		eachOption(L, 2, fn, tb, func(k string, v lua.LValue) {
			seq, ok := v.(*lua.LTable)
			if !ok {
				query.Add(k, queryValue(L, fn, k, v))
				return
			}
			n := 0
			for ik, iv := seq.Next(lua.LNil); ik != lua.LNil; ik, iv = seq.Next(ik) {
				n++
				if ik != lua.LNumber(n) { // Next visits the array part in order
					argError(L, 2, fn, fmt.Sprintf("query %q: a sequence of values expected, got key %s", k, keyString(ik)))
				}
				query.Add(k, queryValue(L, fn, k, iv))
			}
		})
	}
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.API.GetRaw(ctxOf(L), endpoint, query)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushBody(L, endpoint, body)
}

func queryValue(L *lua.LState, fn, key string, v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	case lua.LBool:
		if v {
			return "true"
		}
		return "false"
	}
	argError(L, 2, fn, fmt.Sprintf("query %q: string, number or boolean expected, got %s", key, typeName(v)))
	return ""
}

// post is
//
//	rc.post(endpoint [, body]) -> body | nil, err
//
// body is encoded as JSON ({} when absent); the whole decoded response
// body is returned.
func (b *binding) post(L *lua.LState) int {
	const fn = "rc.post"
	endpoint := checkID(L, 1, fn, "endpoint")
	raw := json.RawMessage("{}")
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		enc, err := EncodeJSON(v)
		if err != nil {
			argError(L, 2, fn, "body: "+err.Error())
		}
		raw = enc
	default:
		argError(L, 2, fn, "body: table expected, got "+typeName(v))
	}
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.API.PostRaw(ctxOf(L), endpoint, raw)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushBody(L, endpoint, body)
}

// pushBody decodes any JSON body and pushes it.
func (b *binding) pushBody(L *lua.LState, endpoint string, body []byte) int {
	v, err := decodeString(L, b.sd, bodyString(body))
	if err != nil {
		return b.fail(L, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err))
	}
	L.Push(v)
	return 1
}

// logAt returns
//
//	rc.log.<level>(msg [, fields]) -> nothing
//
// which logs msg with the fields of the table fields (string keys; tables
// are logged as JSON) through the Module's logger.
func (b *binding) logAt(level zerolog.Level, fn string) lua.LGFunction {
	return func(L *lua.LState) int {
		var msg string
		switch v := L.Get(1).(type) {
		case lua.LString:
			msg = string(v)
		case lua.LNumber:
			msg = v.String()
		default:
			argError(L, 1, fn, "msg: string expected, got "+typeName(v))
		}
		fields := optTable(L, 2, fn, "fields")
		if fields != nil { // checked whatever the level, so misuse shows in any setup
			for k, _ := fields.Next(lua.LNil); k != lua.LNil; k, _ = fields.Next(k) {
				if _, ok := k.(lua.LString); !ok {
					argError(L, 2, fn, fmt.Sprintf("fields: key %s is not a string", k.String()))
				}
			}
		}
		ev := b.m.Logger.WithLevel(level)
		if ev == nil {
			return 0
		}
		if fields != nil {
			for k, v := fields.Next(lua.LNil); k != lua.LNil; k, v = fields.Next(k) {
				logField(ev, string(k.(lua.LString)), v)
			}
		}
		ev.Msg(msg)
		return 0
	}
}

func logField(ev *zerolog.Event, k string, v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		ev.Str(k, string(v))
	case lua.LNumber:
		// Integral values in int64's range log as integers; the
		// conversion of anything outside it would be undefined.
		if f := float64(v); f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			ev.Int64(k, int64(f))
		} else {
			ev.Float64(k, f)
		}
	case lua.LBool:
		ev.Bool(k, bool(v))
	case *lua.LTable:
		if raw, err := EncodeJSON(v); err == nil {
			ev.RawJSON(k, raw)
		} else {
			ev.Str(k, v.String())
		}
	default:
		if isNull(v) {
			ev.RawJSON(k, []byte("null"))
		} else {
			ev.Str(k, v.String())
		}
	}
}

// print is
//
//	print(...) -> nothing
//
// which logs its arguments, converted with tostring and separated by tabs,
// at info level.
func (b *binding) print(L *lua.LState) int {
	n := L.GetTop()
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteByte('\t')
		}
		sb.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.m.Logger.Info().Msg(sb.String())
	return 0
}

// jsonEncode is
//
//	rc.json.encode(v) -> string | nil, err
func (b *binding) jsonEncode(L *lua.LState) int {
	raw, err := EncodeJSON(L.Get(1))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LString(raw))
	return 1
}

// jsonDecode is
//
//	rc.json.decode(s) -> value | nil, err
//
// JSON null decodes to rc.json.null; arrays to sequences marked as arrays.
func (b *binding) jsonDecode(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, 1, "rc.json.decode", "string expected, got "+typeName(L.Get(1)))
	}
	v, err := decodeString(L, b.sd, string(s))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(v)
	return 1
}

// jsonArray is
//
//	rc.json.array([t]) -> t
//
// which marks t (or a new empty table) to encode as a JSON array, so that
// an empty one encodes as [] rather than {}.
func (b *binding) jsonArray(L *lua.LState) int {
	const fn = "rc.json.array"
	tb := optTable(L, 1, fn, "t")
	if tb == nil {
		tb = L.CreateTable(0, 0)
	} else if mt := tb.Metatable; mt != lua.LNil && mt != b.sd.arrMeta {
		argError(L, 1, fn, "t already has a metatable")
	}
	tb.Metatable = b.sd.arrMeta
	L.Push(tb)
	return 1
}

// bodyString views a response body as a string without copying it: the
// services hand the body over to the caller (see Subscriptions), and
// decoded strings longer than maxCopiedLen share its memory.
func bodyString(body []byte) string {
	return unsafe.String(unsafe.SliceData(body), len(body))
}
