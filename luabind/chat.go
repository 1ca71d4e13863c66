package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// chatTable is rc.chat: the chat.* endpoints (rc.ChatService).
func (b *binding) chatTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.chat", field{"post_message", b.chatPostMessage})
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
			at, ok := v.(*lua.LTable)
			if !ok {
				argError(L, 1, fn, "attachments: table expected, got "+typeName(v))
			}
			if k, _ := at.Next(lua.LNil); k == lua.LNil {
				return // {}: no attachments
			}
			raw, err := luajson.Encode(ctxOf(L), at)
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
	return b.pushMember(L, "chat.postMessage", body, "message", false)
}
