package luabind

import (
	"fmt"
	"sort"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// configTable is rc.config: the script's settings (Module.Config) as
// read-only tables. A table's keys are read through __index; assignment
// raises "rc.config.x is read-only" with the script's file:line; #,
// pairs and ipairs see the content (see installIterators).
func (b *binding) configTable(L *lua.LState) *lua.LTable {
	return b.readOnly(L, "rc.config", b.m.Config)
}

// readOnly converts a settings value (string, int64, float64, bool,
// time.Time, []any, map[string]any, or a value with a String method: a
// TOML local date or time) into Lua; tables come out read-only, named
// name in errors.
func (b *binding) configValue(L *lua.LState, name string, v any) lua.LValue {
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
		return b.readOnly(L, name, v)
	case []any:
		real := L.CreateTable(len(v), 0)
		for i, e := range v {
			real.RawSetInt(i+1, b.configValue(L, fmt.Sprintf("%s[%d]", name, i+1), e))
		}
		return b.proxy(L, name, real)
	case []map[string]any: // an array of tables ([[x]] in TOML)
		real := L.CreateTable(len(v), 0)
		for i, e := range v {
			real.RawSetInt(i+1, b.readOnly(L, fmt.Sprintf("%s[%d]", name, i+1), e))
		}
		return b.proxy(L, name, real)
	case fmt.Stringer:
		return lua.LString(v.String())
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

func (b *binding) readOnly(L *lua.LState, name string, m map[string]any) *lua.LTable {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a stable table layout, whatever the map order
	real := L.CreateTable(0, len(m))
	for _, k := range keys {
		real.RawSetString(k, b.configValue(L, qualify(name, lua.LString(k)), m[k]))
	}
	return b.proxy(L, name, real)
}

// proxy returns an empty table reading from real and refusing writes.
func (b *binding) proxy(L *lua.LState, name string, real *lua.LTable) *lua.LTable {
	mt := L.CreateTable(0, 6)
	mt.RawSetString("__index", real)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is read-only (settings come from the settings file)", qualify(name, L.Get(2)))
		return 0
	}))
	mt.RawSetString("__len", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(real.Len()))
		return 1
	}))
	mt.RawSetString("__pairs", L.NewFunction(func(L *lua.LState) int {
		L.Push(L.GetGlobal("next"))
		L.Push(real)
		L.Push(lua.LNil)
		return 3
	}))
	mt.RawSetString("__ipairs", L.NewFunction(func(L *lua.LState) int {
		L.Push(L.NewFunction(ipairsStep))
		L.Push(real)
		L.Push(lua.LNumber(0))
		return 3
	}))
	mt.RawSetString("__metatable", lua.LString("read-only"))
	p := L.NewTable()
	p.Metatable = mt
	return p
}

// ipairsStep is ipairs' iterator over a plain table.
func ipairsStep(L *lua.LState) int {
	tb := L.CheckTable(1)
	i := L.CheckInt(2) + 1
	v := tb.RawGetInt(i)
	if v == lua.LNil {
		return 0
	}
	L.Push(lua.LNumber(i))
	L.Push(v)
	return 2
}

// installIterators replaces pairs and ipairs with versions honouring a
// __pairs or __ipairs metamethod (as Lua 5.2 does), so that the read-only
// tables of rc.config iterate like plain ones.
func installIterators(L *lua.LState) {
	for _, name := range []string{"pairs", "ipairs"} {
		orig, ok := L.GetGlobal(name).(*lua.LFunction)
		if !ok {
			continue
		}
		meta := "__" + name
		L.SetGlobal(name, L.NewFunction(func(L *lua.LState) int {
			fn := orig
			if mm, ok := L.GetMetaField(L.Get(1), meta).(*lua.LFunction); ok {
				fn = mm
			}
			arg := L.Get(1)
			L.Push(fn)
			L.Push(arg)
			L.Call(1, 3)
			return 3
		}))
	}
}
