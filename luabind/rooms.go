package luabind

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// roomsTable is rc.rooms: the rooms.* endpoints (rc.RoomsService).
func (b *binding) roomsTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.rooms", field{"info", b.roomsInfo})
}

// roomsInfo is
//
//	rc.rooms.info{room_id = id | room_name = name} -> room | nil, err
//
// room_name is a channel's or private group's name, with or without its
// "#". Endpoint: GET rooms.info.
func (b *binding) roomsInfo(L *lua.LState) int {
	const fn = "rc.rooms.info"
	var opts rc.RoomInfoOptions
	eachOption(L, 1, fn, checkTable(L, 1, fn), func(k string, v lua.LValue) {
		switch k {
		case "room_id":
			opts.RoomID = checkIDValue(L, 1, fn, k, v)
		case "room_name":
			opts.RoomName = strings.TrimPrefix(checkIDValue(L, 1, fn, k, v), "#")
			if opts.RoomName == "" {
				argError(L, 1, fn, "room_name must not be empty")
			}
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	if (opts.RoomID == "") == (opts.RoomName == "") {
		argError(L, 1, fn, "give exactly one of room_id and room_name")
	}
	if b.m.Rooms == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Rooms.InfoRaw(ctxOf(L), opts)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushMember(L, "rooms.info", body, "room", false)
}
