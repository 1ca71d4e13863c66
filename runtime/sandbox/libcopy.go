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
// (installStateful, the clock, require). The template keeps, for each
// table, the list of its entries as the copier makes them (a table of
// the copy, a function, a value), so that a copy is one pass over slices.

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
	if strMeta == nil || loaded == nil {
		return nil, false
	}
	// A registry of its own size: lua.NewState's is sized for 32 keys
	// (2 KiB for the life of the state), a sandbox's holds two or three.
	registry := L.NewTable()
	registry.RawSetString("_LOADED", loaded)
	b := templateBuilder{t: &template{}, tables: map[*lua.LTable]int{}, funcs: map[*lua.LFunction]int{}}
	_, ok1 := b.table(L.G.Global)
	strMetaAt, ok2 := b.table(strMeta)
	registryAt, ok3 := b.table(registry)
	if !ok1 || !ok2 || !ok3 {
		return nil, false
	}
	b.t.strMeta, b.t.registry = strMetaAt, registryAt
	return b.t, true
})

// template is what libraryTemplate keeps of its state: its tables, and
// for each how the copier makes its copy.
type template struct {
	tables   []*lua.LTable // the globals first
	plans    []tablePlan   // by position in tables
	strMeta  int           // position of the string metatable
	registry int           // position of the registry (its _LOADED only)
	funcs    int           // distinct functions without upvalues
}

// tablePlan is how to copy one template table.
type tablePlan struct {
	meta   int     // position of the metatable, -1 for none
	array  []entry // the array part
	fields []entry // the string keys present, in key order
	keys   []lua.LValue
	k2i    map[lua.LValue]int
}

// entry is one value of a template table as its copy holds it: the copy
// of table table, of function fn (its upvalues ups), or value itself.
type entry struct {
	key   string
	table int // position of a table, or -1
	fn    int // number of a function, or -1
	gofn  lua.LGFunction
	ups   []entry // a closure's upvalues: functions
	value lua.LValue
}

// templateBuilder builds a template from a state's tables.
type templateBuilder struct {
	t      *template
	tables map[*lua.LTable]int    // position of each table added
	funcs  map[*lua.LFunction]int // number of each function without upvalues
}

// table adds tb and the tables it holds (values and metatables) and
// returns its position. Copies share the key lists (gopher-lua only
// appends to them, which then moves: their capacity is clipped to their
// length); false if a table holds what the copier does not copy.
func (b *templateBuilder) table(tb *lua.LTable) (int, bool) {
	if at, ok := b.tables[tb]; ok {
		return at, true
	}
	at := len(b.t.tables)
	b.tables[tb] = at
	b.t.tables = append(b.t.tables, tb)
	b.t.plans = append(b.t.plans, tablePlan{})
	m := ltable.Of(tb)
	if len(m.Dict) > 0 {
		return 0, false
	}
	m.Keys = slices.Clip(m.Keys)
	p := tablePlan{meta: -1, keys: m.Keys, k2i: m.K2i}
	switch mt := m.Metatable.(type) {
	case *lua.LTable:
		var ok bool
		if p.meta, ok = b.table(mt); !ok {
			return 0, false
		}
	case *lua.LNilType:
	default:
		return 0, false
	}
	for _, v := range m.Array {
		e, ok := b.entry(v)
		if !ok {
			return 0, false
		}
		p.array = append(p.array, e)
	}
	for _, k := range m.Keys {
		ks, ok := k.(lua.LString)
		if !ok {
			return 0, false
		}
		v, present := m.Strdict[string(ks)]
		if !present { // set to nil: the key stays in the list
			continue
		}
		e, ok := b.entry(v)
		if !ok {
			return 0, false
		}
		e.key = string(ks)
		p.fields = append(p.fields, e)
	}
	if len(p.fields) != len(m.Strdict) {
		return 0, false
	}
	b.t.plans[at] = p
	return at, true
}

// entry returns how the copier makes v.
func (b *templateBuilder) entry(v lua.LValue) (entry, bool) {
	e := entry{table: -1, fn: -1}
	switch v := v.(type) {
	case *lua.LTable:
		at, ok := b.table(v)
		e.table = at
		return e, ok
	case *lua.LFunction:
		if !v.IsG {
			return e, false
		}
		e.gofn = v.GFunction
		if len(v.Upvalues) == 0 {
			n, ok := b.funcs[v]
			if !ok {
				n = b.t.funcs
				b.funcs[v] = n
				b.t.funcs++
			}
			e.fn = n
			return e, true
		}
		for _, uv := range v.Upvalues {
			up, ok := uv.Value().(*lua.LFunction)
			if !ok || len(up.Upvalues) > 0 {
				return e, false
			}
			ue, ok := b.entry(up)
			if !ok {
				return e, false
			}
			e.ups = append(e.ups, ue)
		}
		return e, true
	case lua.LString, lua.LNumber, lua.LBool, *lua.LNilType:
		e.value = v
		return e, true
	}
	return e, false
}

// copyLibraries fills L, a fresh state without libraries, with copies of
// the template's globals, string metatable and registry; false (L
// untouched) when there is no template. The copies of the tables and of
// the functions are each allocated at once.
func copyLibraries(L *lua.LState) bool {
	t, ok := libraryTemplate()
	if !ok {
		return false
	}
	c := copier{L: L, copies: make([]*lua.LTable, len(t.tables)), funcs: make([]lua.LFunction, t.funcs)}
	c.copies[0] = L.G.Global
	tables := make([]lua.LTable, len(t.tables)-1)
	for i := range tables {
		tables[i].Metatable = lua.LNil
		c.copies[i+1] = &tables[i]
	}
	for i := range t.plans {
		c.fill(c.copies[i], &t.plans[i])
	}
	L.SetMetatable(lua.LString(""), c.copies[t.strMeta])
	L.Replace(lua.RegistryIndex, c.copies[t.registry])
	return true
}

// copier copies the template's values into L.
type copier struct {
	L      *lua.LState
	copies []*lua.LTable   // the copy of each template table, by position
	funcs  []lua.LFunction // the copy of each function, by number, made on first use
}

// value returns the copy e describes.
func (c *copier) value(e *entry) lua.LValue {
	switch {
	case e.table >= 0:
		return c.copies[e.table]
	case e.fn >= 0:
		f := &c.funcs[e.fn]
		if f.GFunction == nil {
			*f = lua.LFunction{IsG: true, Env: c.L.Env, GFunction: e.gofn}
		}
		return f
	case e.gofn != nil:
		ups := make([]lua.LValue, len(e.ups))
		for i := range e.ups {
			ups[i] = c.value(&e.ups[i])
		}
		return c.L.NewClosure(e.gofn, ups...)
	}
	return e.value
}

// fill gives dst, an empty table, the copy p describes: its metatable,
// its entries in the template's key order.
func (c *copier) fill(dst *lua.LTable, p *tablePlan) {
	d := ltable.Of(dst)
	if p.meta >= 0 {
		d.Metatable = c.copies[p.meta]
	}
	if len(p.array) > 0 {
		d.Array = make([]lua.LValue, len(p.array))
		for i := range p.array {
			d.Array[i] = c.value(&p.array[i])
		}
	}
	if len(p.keys) == 0 {
		return // gopher-lua makes the hash parts on the first key
	}
	// A map of its own size, also for the globals: the empty one
	// lua.NewState made them is sized for 64 keys, twice the memory for
	// the whole life of the state.
	d.Strdict = make(map[string]lua.LValue, len(p.fields))
	for i := range p.fields {
		d.Strdict[p.fields[i].key] = c.value(&p.fields[i])
	}
	d.Keys, d.K2i = p.keys, maps.Clone(p.k2i)
}
