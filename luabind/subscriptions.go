package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// subscriptionsTable is rc.subscriptions: the subscriptions.* endpoints
// (rc.SubscriptionsService).
func (b *binding) subscriptionsTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.subscriptions",
		field{"get", b.subscriptionsGet},
		field{"get_one", b.subscriptionsGetOne},
		field{"read", b.subscriptionsRead},
		field{"unread", b.subscriptionsUnread},
	)
}

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
	return b.pushObject(L, "subscriptions.get", body)
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
	return b.pushMember(L, "subscriptions.getOne", body, "subscription", true)
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
