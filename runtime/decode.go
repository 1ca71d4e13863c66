package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// decodeJSON is the fallback JSON -> Lua conversion used when no bindings
// decoder is wired (tests of the core): objects and arrays become tables,
// null becomes nil.
func decodeJSON(L *lua.LState, data []byte) (lua.LValue, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return lua.LNil, fmt.Errorf("decode json: %w", err)
	}
	return toLua(L, v), nil
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case map[string]any:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.CreateTable(len(x), 0)
		for _, e := range x {
			t.Append(toLua(L, e))
		}
		return t
	case string:
		return lua.LString(x)
	case json.Number:
		f, _ := x.Float64()
		return lua.LNumber(f)
	case bool:
		return lua.LBool(x)
	default:
		return lua.LNil
	}
}
