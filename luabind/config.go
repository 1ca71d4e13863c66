package luabind

import (
	"fmt"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// ComputedFields lists the keys of rc whose value is made afresh at
// each read rather than stored in the table: "config". They are keys of
// rc as far as its "does not exist" messages and rclua check go.
func ComputedFields() []string { return []string{"config"} }

// configCopy is the value of rc.config: a fresh copy of the script's
// settings (Module.Config) at each read, as plain tables, so that every
// read works on it (next, #, table.concat, unpack, rc.json.encode,
// rc.store.set) and nothing the script does to one copy reaches the
// settings or the next read.
func (b *binding) configCopy(L *lua.LState) lua.LValue {
	return configTable(L, b.m.Config)
}

// configValue converts a settings value (string, int64, float64, bool,
// time.Time, []any, map[string]any, or a value with a String method: a
// TOML local date or time) into Lua.
func configValue(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case time.Time:
		return lua.LString(v.Format(time.RFC3339Nano))
	case map[string]any:
		return configTable(L, v)
	case []any:
		tb := L.CreateTable(len(v), 0)
		for i, e := range v {
			tb.RawSetInt(i+1, configValue(L, e))
		}
		return tb
	case []map[string]any: // an array of tables ([[x]] in TOML)
		tb := L.CreateTable(len(v), 0)
		for i, e := range v {
			tb.RawSetInt(i+1, configTable(L, e))
		}
		return tb
	case fmt.Stringer:
		return lua.LString(v.String())
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

func configTable(L *lua.LState, m map[string]any) *lua.LTable {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable table layout, whatever the map order
	tb := L.CreateTable(0, len(m))
	for _, k := range keys {
		tb.RawSetString(k, configValue(L, m[k]))
	}
	return tb
}
