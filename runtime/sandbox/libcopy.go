package sandbox

import (
	"maps"
	"slices"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// Opening gopher-lua's libraries in a state fills their tables one key at
// a time (two boxes per key, key lists grown step by step): most of the
// cost of a fresh state. New instead copies them from a template state
// opened once per process: every table gets its own parts, every function
// is made anew in the new state (same Go function, the new state's
// environment, its upvalues copied), and only immutable values (the boxed
// keys, strings and numbers) are shared.

// libraryTemplate returns the globals and string metatable of a state with
// the libraries opened, kept read-only for the process's lifetime; ok is
// false when tables cannot be copied (see package ltable) or the template
// holds a value copyLibraries does not handle, and New then opens the
// libraries in each state.
var libraryTemplate = sync.OnceValues(func() (template, bool) {
	if !ltable.OK {
		return template{}, false
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	openLibraries(L)
	t := template{globals: L.G.Global}
	t.strMeta, _ = L.GetMetatable(lua.LString("")).(*lua.LTable)
	if t.strMeta == nil || !clipKeys(t.globals, map[*lua.LTable]bool{}) {
		return template{}, false
	}
	return t, true
})

// template is what libraryTemplate keeps of its state.
type template struct {
	globals *lua.LTable
	strMeta *lua.LTable
}

// clipKeys gives the key lists of tb and the tables it holds a capacity
// equal to their length, so that copies may share them (gopher-lua only
// appends to a key list, which then moves); false if a table holds what
// copyValue does not copy.
func clipKeys(tb *lua.LTable, seen map[*lua.LTable]bool) bool {
	if seen[tb] {
		return true
	}
	seen[tb] = true
	m := ltable.Of(tb)
	if len(m.Dict) > 0 || m.Metatable != lua.LNil {
		return false
	}
	m.Keys = slices.Clip(m.Keys)
	for _, v := range slices.Concat(m.Array, slices.Collect(maps.Values(m.Strdict))) {
		switch v := v.(type) {
		case *lua.LTable:
			if !clipKeys(v, seen) {
				return false
			}
		case *lua.LFunction:
			if !v.IsG {
				return false
			}
			for _, uv := range v.Upvalues {
				if f, ok := uv.Value().(*lua.LFunction); !ok || !f.IsG || len(f.Upvalues) > 0 {
					return false
				}
			}
		case lua.LString, lua.LNumber, lua.LBool, *lua.LNilType:
		default:
			return false
		}
	}
	return true
}

// copyLibraries fills L, a state without libraries, with copies of the
// template's globals and string metatable; false (L untouched) when there
// is no template.
func copyLibraries(L *lua.LState) bool {
	t, ok := libraryTemplate()
	if !ok {
		return false
	}
	c := copier{L: L, tables: make(map[*lua.LTable]*lua.LTable, 8)}
	c.tables[t.globals] = L.G.Global
	c.fill(L.G.Global, t.globals)
	L.SetMetatable(lua.LString(""), c.value(t.strMeta))
	return true
}

// copier copies template values into L, each table once.
type copier struct {
	L      *lua.LState
	tables map[*lua.LTable]*lua.LTable // template table -> its copy
}

func (c *copier) value(v lua.LValue) lua.LValue {
	switch v := v.(type) {
	case *lua.LTable:
		if cp, ok := c.tables[v]; ok {
			return cp
		}
		cp := &lua.LTable{Metatable: lua.LNil}
		c.tables[v] = cp
		c.fill(cp, v)
		return cp
	case *lua.LFunction:
		if len(v.Upvalues) == 0 {
			return c.L.NewFunction(v.GFunction)
		}
		ups := make([]lua.LValue, len(v.Upvalues))
		for i, uv := range v.Upvalues {
			ups[i] = c.value(uv.Value())
		}
		return c.L.NewClosure(v.GFunction, ups...)
	default: // immutable: strings, numbers, booleans, nil
		return v
	}
}

// fill gives dst, an empty table, copies of src's entries, in src's key
// order.
func (c *copier) fill(dst, src *lua.LTable) {
	d, s := ltable.Of(dst), ltable.Of(src)
	if len(s.Array) > 0 {
		d.Array = make([]lua.LValue, len(s.Array))
		for i, v := range s.Array {
			d.Array[i] = c.value(v)
		}
	}
	d.Strdict = make(map[string]lua.LValue, len(s.Strdict))
	for k, v := range s.Strdict {
		d.Strdict[k] = c.value(v)
	}
	d.Keys, d.K2i = s.Keys, maps.Clone(s.K2i)
}
