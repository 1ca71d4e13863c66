package luabind

import (
	"errors"
	"fmt"
	goruntime "runtime"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// Malformed responses: errorTable reports them as error_type "decode".
var (
	errNotObject = errors.New("response is not a JSON object")
	errNoMember  = errors.New("response lacks the member")
)

// fail returns nil, err to Lua.
func (b *binding) fail(L *lua.LState, err error) int {
	L.Push(lua.LNil)
	L.Push(b.errorTable(L, err))
	return 2
}

// pushObject decodes a response body that must be a JSON object, drops its
// "success" key and pushes it.
func (b *binding) pushObject(L *lua.LState, endpoint string, body []byte) int {
	v, err := decodeResponse(L, endpoint, body)
	if err != nil {
		return b.fail(L, err)
	}
	tb, ok := v.(*lua.LTable)
	if !ok || luajson.IsArray(tb) {
		return b.fail(L, fmt.Errorf("luabind: %s: %w", endpoint, errNotObject))
	}
	tb.RawSetString("success", lua.LNil)
	L.Push(tb)
	return 1
}

// pushMember decodes body and pushes its member key, which must be a JSON
// object. When optional (get_one), an absent or null member pushes a single
// nil; otherwise it is a malformed response: nil, err (error_type
// "decode").
func (b *binding) pushMember(L *lua.LState, endpoint string, body []byte, key string, optional bool) int {
	v, err := luajson.DecodeMember(L, body, key)
	if errors.Is(err, luajson.ErrNotObject) {
		err = errNotObject
	}
	if err != nil {
		return b.fail(L, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err))
	}
	if v == lua.LNil || luajson.IsNull(v) {
		if optional {
			L.Push(lua.LNil)
			return 1
		}
		return b.fail(L, fmt.Errorf("luabind: %s: %w %q", endpoint, errNoMember, key))
	}
	if tb, ok := v.(*lua.LTable); !ok || luajson.IsArray(tb) {
		return b.fail(L, fmt.Errorf("luabind: %s: %w: member %q is %s", endpoint, errNotObject, key, jsonKind(v)))
	}
	L.Push(v)
	return 1
}

// pushBody decodes any JSON body and pushes it.
func (b *binding) pushBody(L *lua.LState, endpoint string, body []byte) int {
	v, err := decodeResponse(L, endpoint, body)
	if err != nil {
		return b.fail(L, err)
	}
	L.Push(v)
	return 1
}

// decodeResponse decodes a response body of endpoint, handed over by the
// client, wrapping a failure with the endpoint.
func decodeResponse(L *lua.LState, endpoint string, body []byte) (lua.LValue, error) {
	collectBeforeLargeDecode(len(body))
	v, err := luajson.DecodeBytes(L, body)
	if err != nil {
		return lua.LNil, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err)
	}
	return v, nil
}

// jsonKind names the JSON kind a decoded value came from.
func jsonKind(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LTable:
		if luajson.IsArray(v) {
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

// largeBody is the size from which a response body is decoded only after
// a GC. A decoded response takes about 7 times its body, so a script
// calling rc.subscriptions.get() of thousands of rooms in a loop (or
// every minute) would otherwise keep its dead previous results until the
// pacer's next cycle: the heap peaked about 9 bodies over the live one
// instead of 1 (BenchmarkGetLoopHeap/local), for a loop of such calls
// about 15% slower. Responses this large are rare: a get of about 1,500
// subscriptions, a long history.
const largeBody = 1 << 20

// collectBeforeLargeDecode runs a GC first if a body of n bytes is large.
func collectBeforeLargeDecode(n int) {
	if n >= largeBody {
		goruntime.GC()
	}
}
