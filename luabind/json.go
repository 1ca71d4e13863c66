package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// jsonTable is rc.json: luajson's conversion, its null and its array mark.
func (b *binding) jsonTable(L *lua.LState) *lua.LTable {
	tb := namespace(L, "rc.json",
		field{"encode", b.jsonEncode},
		field{"decode", b.jsonDecode},
		field{"array", b.jsonArray},
	)
	tb.RawSetString("null", luajson.Null(L))
	return tb
}

// jsonEncode is
//
//	rc.json.encode(v) -> string | nil, err
func (b *binding) jsonEncode(L *lua.LState) int {
	raw, err := luajson.Encode(ctxOf(L), L.Get(1))
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
	v, err := luajson.Decode(L, string(s))
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
	}
	if err := luajson.MarkArray(L, tb); err != nil {
		argError(L, 1, fn, "t already has a metatable")
	}
	L.Push(tb)
	return 1
}
