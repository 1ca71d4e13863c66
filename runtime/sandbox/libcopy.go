package sandbox

import (
	"maps"
	"slices"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// Opening gopher-lua's libraries in a state fills their tables one key at
// a time (two boxes per key, key lists grown step by step), and restrict
// then builds the same replacements and stubs in every state: most of the
// cost of a fresh state. New instead copies them from a template state,
// opened and restricted once per process: every table gets its own parts
// (its metatable copied too), every function is made anew in the new
// state (same Go function, the new state's environment, its upvalues
// copied), and only immutable values (the boxed keys, strings and
// numbers, the key lists, which gopher-lua only appends to) are shared.
// What holds per-state data is made in each state after the copy
// (installStateful, the clock, require).

// libraryTemplate returns the template, kept read-only for the process's
// lifetime; ok is false when tables cannot be copied (see package ltable)
// or the template holds a value the copier does not handle, and New then
// opens and restricts the libraries in each state.
var libraryTemplate = sync.OnceValues(func() (*template, bool) {
	if !ltable.OK {
		return nil, false
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	openLibraries(L)
	restrict(L)
	scrubRegistry(L)
	strMeta, _ := L.GetMetatable(lua.LString("")).(*lua.LTable)
	loaded, _ := L.Get(lua.RegistryIndex).(*lua.LTable).RawGetString("_LOADED").(*lua.LTable)
	t := &template{index: map[*lua.LTable]int{}}
	if strMeta == nil || loaded == nil || !t.add(L.G.Global) || !t.add(strMeta) || !t.add(loaded) {
		return nil, false
	}
	t.strMeta, t.loaded = t.index[strMeta], t.index[loaded]
	t.seen = nil
	return t, true
})

// template is what libraryTemplate keeps of its state: its tables in the
// order the copier fills them, and what the copier needs to know of the
// functions they hold.
type template struct {
	tables  []*lua.LTable       // the globals first
	index   map[*lua.LTable]int // position of each table in tables
	strMeta int                 // position of the string metatable
	loaded  int                 // position of the registry's _LOADED
	funcs   int                 // function values, each copied (closures' upvalues too)
	// aliases are the fields holding a function another field holds
	// (string.gfind is string.gmatch): their copies are made the same.
	aliases []alias
	seen    map[*lua.LFunction]field // while adding: where each function was found
}

// field is a string key of one of the template's tables.
type field struct {
	table int
	key   string
}

// alias is a field holding the function first found in another.
type alias struct{ at, of field }

// add adds tb and the tables it holds (values and metatables) to t and
// gives their key lists a capacity equal to their length, so that copies
// may share them (gopher-lua only appends to a key list, which then
// moves); false if a table holds what the copier does not copy.
func (t *template) add(tb *lua.LTable) bool {
	if _, ok := t.index[tb]; ok {
		return true
	}
	at := len(t.tables)
	t.index[tb] = at
	t.tables = append(t.tables, tb)
	m := ltable.Of(tb)
	if len(m.Dict) > 0 {
		return false
	}
	m.Keys = slices.Clip(m.Keys)
	switch mt := m.Metatable.(type) {
	case *lua.LTable:
		if !t.add(mt) {
			return false
		}
	case *lua.LNilType:
	default:
		return false
	}
	for _, v := range m.Array {
		if !t.addValue(v, field{table: -1}) {
			return false
		}
	}
	for k, v := range m.Strdict {
		if !t.addValue(v, field{at, k}) {
			return false
		}
	}
	return true
}

// addValue adds v, found at f (table -1: not a field), to t.
func (t *template) addValue(v lua.LValue, f field) bool {
	switch v := v.(type) {
	case *lua.LTable:
		return t.add(v)
	case *lua.LFunction:
		if !v.IsG {
			return false
		}
		if !t.addFunction(v, f) {
			return false
		}
		for _, uv := range v.Upvalues {
			up, ok := uv.Value().(*lua.LFunction)
			if !ok || !up.IsG || len(up.Upvalues) > 0 || !t.addFunction(up, field{table: -1}) {
				return false
			}
		}
		return true
	case lua.LString, lua.LNumber, lua.LBool, *lua.LNilType:
		return true
	}
	return false
}

// addFunction counts fn, found at f; false if fn was found before and
// either place is not a field.
func (t *template) addFunction(fn *lua.LFunction, f field) bool {
	t.funcs++
	if t.seen == nil {
		t.seen = map[*lua.LFunction]field{}
	}
	first, ok := t.seen[fn]
	if !ok {
		t.seen[fn] = f
		return true
	}
	if first.table < 0 || f.table < 0 {
		return false
	}
	t.aliases = append(t.aliases, alias{at: f, of: first})
	return true
}

// copyLibraries fills L, a state without libraries, with copies of the
// template's globals, string metatable and registry's _LOADED; false (L untouched) when there
// is no template. The copies of the tables and of the functions are each
// allocated at once.
func copyLibraries(L *lua.LState) bool {
	t, ok := libraryTemplate()
	if !ok {
		return false
	}
	c := copier{L: L, t: t, copies: make([]*lua.LTable, len(t.tables)), funcs: make([]lua.LFunction, t.funcs)}
	c.copies[0] = L.G.Global
	tables := make([]lua.LTable, len(t.tables)-1)
	for i := range tables {
		tables[i].Metatable = lua.LNil
		c.copies[i+1] = &tables[i]
	}
	for i, src := range t.tables {
		c.fill(c.copies[i], src)
	}
	for _, a := range t.aliases {
		ltable.Of(c.copies[a.at.table]).Strdict[a.at.key] = c.copies[a.of.table].RawGetString(a.of.key)
	}
	L.SetMetatable(lua.LString(""), c.copies[t.strMeta])
	L.Get(lua.RegistryIndex).(*lua.LTable).RawSetString("_LOADED", c.copies[t.loaded])
	return true
}

// copier copies the template's values into L.
type copier struct {
	L      *lua.LState
	t      *template
	copies []*lua.LTable   // the copy of each template table, by position
	funcs  []lua.LFunction // room for the functions still to copy
}

func (c *copier) value(v lua.LValue) lua.LValue {
	switch v := v.(type) {
	case *lua.LTable:
		return c.copies[c.t.index[v]]
	case *lua.LFunction:
		if len(v.Upvalues) == 0 {
			return c.function(v.GFunction)
		}
		ups := make([]lua.LValue, len(v.Upvalues))
		for i, uv := range v.Upvalues {
			ups[i] = c.function(uv.Value().(*lua.LFunction).GFunction)
		}
		return c.L.NewClosure(v.GFunction, ups...)
	default: // immutable: strings, numbers, booleans, nil
		return v
	}
}

// function returns a new function of L without upvalues (what
// L.NewFunction(fn) returns), from the room made for them.
func (c *copier) function(fn lua.LGFunction) *lua.LFunction {
	var f *lua.LFunction
	if len(c.funcs) > 0 {
		f, c.funcs = &c.funcs[0], c.funcs[1:]
	} else {
		f = new(lua.LFunction)
	}
	*f = lua.LFunction{IsG: true, Env: c.L.Env, GFunction: fn}
	return f
}

// fill gives dst, an empty table, copies of src's metatable and entries,
// in src's key order.
func (c *copier) fill(dst, src *lua.LTable) {
	d, s := ltable.Of(dst), ltable.Of(src)
	if s.Metatable != lua.LNil {
		d.Metatable = c.value(s.Metatable)
	}
	if len(s.Array) > 0 {
		d.Array = make([]lua.LValue, len(s.Array))
		for i, v := range s.Array {
			d.Array[i] = c.value(v)
		}
	}
	if len(s.Keys) == 0 {
		return // gopher-lua makes the hash parts on the first key
	}
	if d.Strdict == nil || len(d.Strdict) > 0 {
		d.Strdict = make(map[string]lua.LValue, len(s.Strdict))
	} // else: the globals' empty map lua.NewState made, sized for them
	for k, v := range s.Strdict {
		d.Strdict[k] = c.value(v)
	}
	d.Keys, d.K2i = s.Keys, maps.Clone(s.K2i)
}
