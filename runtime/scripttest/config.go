package scripttest

import (
	"fmt"
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime"
)

// maxConfigDepth bounds the nesting of a t.config table.
const maxConfigDepth = 32

// tConfig is t.config(tbl): the script's section of settings (rc.config)
// for every test at the test file's top level, for the running test
// inside one (the script is then loaded again with it, as the daemon
// reloads a script whose section changed). It replaces rclua.toml's
// section whole, its secrets allow-list included.
func (r *runner) tConfig(L *lua.LState) int {
	const fn = "t.config"
	if L.GetTop() != 1 {
		fail(L, "%s: one argument expected, a table of settings: t.config{me = \"alice\"}", fn)
	}
	tb, ok := L.Get(1).(*lua.LTable)
	if !ok {
		fail(L, "%s: a table of settings expected, got %s", fn, L.Get(1).Type())
	}
	sec, err := section(tb)
	if err == nil {
		err = runtime.CheckSection(sec)
	}
	if err != nil {
		fail(L, "%s: %v", fn, err)
	}
	if r.w == nil {
		r.config = sec
		return 0
	}
	r.w.deps.Settings = sec
	if err := r.w.reload(ctxOf(L), false); err != nil {
		fail(L, "%s: the script under test did not load again: %v", fn, err)
	}
	return 0
}

// section converts a t.config table into a section of settings, with the
// Go values a TOML decoder gives (string, int64, float64, bool, []any,
// map[string]any), refusing what rclua.toml could not hold.
func section(tb *lua.LTable) (map[string]any, error) {
	v, err := settingValue(tb, "", 0, true)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// settingValue converts v, at path (for messages), into a setting. A
// table is an array (keys 1..n) or a table with string keys; top is the
// section itself, always a table.
func settingValue(v lua.LValue, path string, depth int, top bool) (any, error) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), nil
	case lua.LBool:
		return bool(v), nil
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
		return f, nil
	case *lua.LTable:
		if depth == maxConfigDepth {
			return nil, fmt.Errorf("%s: nested deeper than %d tables (a cycle?)", label(path), maxConfigDepth)
		}
		return settingTable(v, path, depth, top)
	}
	return nil, fmt.Errorf("%s: a %s is not a setting (rclua.toml holds strings, numbers, booleans, arrays and tables)", label(path), v.Type())
}

func settingTable(tb *lua.LTable, path string, depth int, top bool) (any, error) {
	var strKeys, other int
	var bad lua.LValue
	tb.ForEach(func(k, _ lua.LValue) {
		switch k := k.(type) {
		case lua.LString:
			strKeys++
		case lua.LNumber:
			if f := float64(k); f != math.Trunc(f) || f < 1 {
				bad = k
			}
			other++
		default:
			bad = k
			other++
		}
	})
	at := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	where := label(path)
	switch {
	case bad != nil && bad.Type() != lua.LTNumber:
		return nil, fmt.Errorf("%s: a %s key: a table of settings has string keys, an array 1..n", where, bad.Type())
	case top && other > 0:
		return nil, fmt.Errorf("a table of named settings expected, not an array: t.config{rooms = {\"#general\"}}")
	case strKeys > 0 && other > 0:
		return nil, fmt.Errorf("%s: mixes named keys and array items (rclua.toml holds an array or a table)", where)
	case bad != nil:
		return nil, fmt.Errorf("%s: not an array (key %s; an array has keys 1..n, without holes)", where, lua.LVAsString(bad))
	}
	if other > 0 || (!top && strKeys == 0) { // an array; an empty table is an empty array
		out := make([]any, 0, other)
		for i := 1; i <= other; i++ {
			if tb.RawGetInt(i) == lua.LNil {
				return nil, fmt.Errorf("%s: not an array (no item %d; an array has keys 1..n, without holes)", where, i)
			}
			v, err := settingValue(tb.RawGetInt(i), fmt.Sprintf("%s[%d]", where, i), depth+1, false)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	out := make(map[string]any, strKeys)
	var err error
	tb.ForEach(func(k, v lua.LValue) {
		if err == nil {
			out[string(k.(lua.LString))], err = settingValue(v, at(string(k.(lua.LString))), depth+1, false)
		}
	})
	return out, err
}

// label names a setting's place in messages: "rooms[2]", "the settings".
func label(path string) string {
	if path == "" {
		return "the settings"
	}
	return path
}
