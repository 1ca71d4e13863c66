package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// chatTable is rc.chat: the chat.* endpoints (rc.ChatService).
func (b *binding) chatTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.chat",
		field{"post_message", b.chatPostMessage},
		field{"react", b.chatReact},
		field{"update", b.chatUpdate},
		field{"delete", b.chatDelete},
	)
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
	tb := checkTable(L, 1, fn)
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
			msg.RawAttachments = checkAttachments(L, 1, fn, v)
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
	checkPostSize(L, fn, msg)
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	if err := b.allowPost(fn, 1); err != nil {
		return b.fail(L, err)
	}
	body, err := b.m.Chat.PostMessageRaw(ctxOf(L), msg)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushMember(L, "chat.postMessage", body, "message", false)
}

// checkAttachments encodes v, the attachments option of argument n: a
// sequence of attachment tables; nil for an empty one.
func checkAttachments(L *lua.LState, n int, fn string, v lua.LValue) []byte {
	at, ok := v.(*lua.LTable)
	if !ok {
		argError(L, n, fn, "attachments: table expected, got "+typeName(v))
	}
	if k, _ := at.Next(lua.LNil); k == lua.LNil {
		return nil // {}: no attachments
	}
	raw, err := luajson.Encode(ctxOf(L), at)
	if err != nil {
		argError(L, n, fn, "attachments: "+err.Error())
	}
	if raw[0] != '[' {
		argError(L, n, fn, "attachments: a sequence of attachment tables expected")
	}
	return raw
}

// chatReact is
//
//	rc.chat.react{message_id = id, emoji = name, should_react = bool} -> true | nil, err
//
// emoji with or without colons ("thumbsup", ":thumbsup:"); should_react
// true adds the bot's reaction, false removes it, absent toggles it.
// Endpoint: POST chat.react.
func (b *binding) chatReact(L *lua.LState) int {
	const fn = "rc.chat.react"
	r := &rc.Reaction{}
	eachOption(L, 1, fn, checkTable(L, 1, fn), func(k string, v lua.LValue) {
		switch k {
		case "message_id":
			r.MessageID = checkIDValue(L, 1, fn, k, v)
		case "emoji":
			r.Emoji = checkIDValue(L, 1, fn, k, v)
		case "should_react":
			bv, ok := v.(lua.LBool)
			if !ok {
				argError(L, 1, fn, "should_react: boolean expected, got "+typeName(v))
			}
			should := bool(bv)
			r.ShouldReact = &should
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	requireOptions(L, fn, "message_id", r.MessageID, "emoji", r.Emoji)
	return b.react(L, r)
}

// react sends r and pushes true, or nil, err.
func (b *binding) react(L *lua.LState, r *rc.Reaction) int {
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	if err := b.m.Chat.React(ctxOf(L), r); err != nil {
		return b.fail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// chatUpdate is
//
//	rc.chat.update{room_id = id, message_id = id, text = s} -> message | nil, err
//
// Endpoint: POST chat.update.
func (b *binding) chatUpdate(L *lua.LState) int {
	const fn = "rc.chat.update"
	u := &rc.UpdateMessage{}
	hasText := false
	eachOption(L, 1, fn, checkTable(L, 1, fn), func(k string, v lua.LValue) {
		switch k {
		case "room_id":
			u.RoomID = checkIDValue(L, 1, fn, k, v)
		case "message_id":
			u.MessageID = checkIDValue(L, 1, fn, k, v)
		case "text":
			u.Text, hasText = checkString(L, 1, fn, k, v), true
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	requireOptions(L, fn, "room_id", u.RoomID, "message_id", u.MessageID)
	if !hasText {
		argError(L, 1, fn, "text is required")
	}
	newBudget(L, fn, "the text as JSON").check(jsonLen(u.Text))
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Chat.UpdateRaw(ctxOf(L), u)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushMember(L, "chat.update", body, "message", false)
}

// chatDelete is
//
//	rc.chat.delete{room_id = id, message_id = id} -> true | nil, err
//
// Endpoint: POST chat.delete.
func (b *binding) chatDelete(L *lua.LState) int {
	const fn = "rc.chat.delete"
	var roomID, msgID string
	eachOption(L, 1, fn, checkTable(L, 1, fn), func(k string, v lua.LValue) {
		switch k {
		case "room_id":
			roomID = checkIDValue(L, 1, fn, k, v)
		case "message_id":
			msgID = checkIDValue(L, 1, fn, k, v)
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	requireOptions(L, fn, "room_id", roomID, "message_id", msgID)
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	if err := b.m.Chat.Delete(ctxOf(L), roomID, msgID); err != nil {
		return b.fail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}
