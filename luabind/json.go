package luabind

import (
	"context"
	"errors"
	"strings"

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
//
// err is an error table (jsonError).
func (b *binding) jsonEncode(L *lua.LState) int {
	raw, err := luajson.Encode(ctxOf(L), L.Get(1))
	if err != nil {
		L.Push(lua.LNil)
		L.Push(b.errorTable(L, &jsonError{fn: "rc.json.encode", err: err}))
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
		L.Push(b.errorTable(L, &jsonError{fn: "rc.json.decode", err: err}))
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

// jsonError is the error of rc.json.encode and rc.json.decode, which
// becomes the same err table as every rc function's: status 0,
// error_type "json" ("canceled" or "timeout" when the call's context
// ended the conversion), message "rc.json.encode: f: cannot encode a
// function" (luajson's message, its "json: " prefix replaced by fn).
type jsonError struct {
	fn  string // "rc.json.encode"
	err error  // luajson's
}

func (e *jsonError) Error() string {
	return e.fn + ": " + strings.TrimPrefix(e.err.Error(), "json: ")
}

func (e *jsonError) Unwrap() error { return e.err }

// ErrorType is err.error_type (errorTable).
func (e *jsonError) ErrorType() string {
	switch {
	case errors.Is(e.err, context.Canceled):
		return "canceled"
	case errors.Is(e.err, context.DeadlineExceeded):
		return "timeout"
	}
	return "json"
}
