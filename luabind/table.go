package luabind

import (
	"maps"
	"reflect"
	"slices"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// ltableLayout mirrors the fields of lua.LTable (gopher-lua v1.1.2). The
// decoder uses it to build a table's hash part at its final size in one
// step: LTable.RawSetString grows the key list and key index one entry at
// a time, which is most of the cost of converting a large response. The
// mirror is used only when tableLayoutOK, checked against lua.LTable by
// reflection when the package loads; otherwise the decoder falls back to
// RawSetString (correct, slower), and TestTableLayout fails to flag it.
type ltableLayout struct {
	Metatable lua.LValue

	array   []lua.LValue
	dict    map[lua.LValue]lua.LValue
	strdict map[string]lua.LValue
	keys    []lua.LValue
	k2i     map[lua.LValue]int
}

// tableLayoutOK reports whether ltableLayout matches lua.LTable field for
// field (names, types, offsets). Computed once; never written again.
var tableLayoutOK = func() bool {
	a, b := reflect.TypeFor[lua.LTable](), reflect.TypeFor[ltableLayout]()
	if a.Size() != b.Size() || a.NumField() != b.NumField() {
		return false
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Offset != fb.Offset {
			return false
		}
	}
	return true
}()

// objectKeys is the key list of an object as lua.LTable keeps it: the
// member names (interned; duplicates included), the distinct keys boxed in
// first-occurrence order, and each key's index in that list.
type objectKeys struct {
	names []string
	keys  []lua.LValue
	k2i   map[lua.LValue]int
}

// newObjectKeys returns the key list of an object whose members are
// names, interned with intern.
func newObjectKeys(names []string, intern func(string) (string, lua.LValue)) *objectKeys {
	ok := &objectKeys{
		names: make([]string, len(names)),
		keys:  make([]lua.LValue, 0, len(names)),
		k2i:   make(map[lua.LValue]int, len(names)),
	}
	for j, name := range names {
		k, bk := intern(name)
		ok.names[j] = k
		if _, dup := ok.k2i[bk]; !dup {
			ok.k2i[bk] = len(ok.keys)
			ok.keys = append(ok.keys, bk)
		}
	}
	return ok
}

// newObjectTable returns a table holding ok.names[j] = vals[j] (later
// duplicates win, as with RawSetString). When shared, ok is a cached
// template and the table gets copies of its key list and index; otherwise
// the table takes them.
func newObjectTable(L *lua.LState, ok *objectKeys, vals []lua.LValue, shared bool) *lua.LTable {
	if len(vals) == 0 {
		return L.CreateTable(0, 0)
	}
	if !tableLayoutOK {
		tb := L.CreateTable(0, len(vals))
		for j, v := range vals {
			tb.RawSetString(ok.names[j], v)
		}
		return tb
	}
	tb := &lua.LTable{Metatable: lua.LNil}
	m := (*ltableLayout)(unsafe.Pointer(tb))
	m.strdict = make(map[string]lua.LValue, len(ok.keys))
	for j, v := range vals {
		m.strdict[ok.names[j]] = v
	}
	if shared {
		m.keys, m.k2i = slices.Clone(ok.keys), maps.Clone(ok.k2i)
	} else {
		m.keys, m.k2i = ok.keys, ok.k2i
	}
	return tb
}

// newArrayTable returns a sequence table holding a copy of vals.
func newArrayTable(L *lua.LState, vals []lua.LValue) *lua.LTable {
	if !tableLayoutOK {
		tb := L.CreateTable(len(vals), 0)
		for j, v := range vals {
			tb.RawSetInt(j+1, v)
		}
		return tb
	}
	tb := &lua.LTable{Metatable: lua.LNil}
	m := (*ltableLayout)(unsafe.Pointer(tb))
	m.array = make([]lua.LValue, len(vals))
	copy(m.array, vals)
	return tb
}

// ifaceWords is the memory layout of a non-empty interface value.
type ifaceWords struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// lstringTab is the interface table of lua.LString as a lua.LValue.
var lstringTab = func() unsafe.Pointer {
	var v lua.LValue = lua.LString("x")
	return (*ifaceWords)(unsafe.Pointer(&v)).tab
}()

// slabBoxOK reports whether boxing strings from a slab gives values that
// are ordinary lua.LString values to the rest of the program; checked once
// when the package loads, never written again.
var slabBoxOK = func() bool {
	var slab []lua.LString
	v := slabBox(&slab, "rclua")
	s, ok := v.(lua.LString)
	return ok && s == "rclua" && v == lua.LValue(lua.LString("rclua")) && v.Type() == lua.LTString
}()

// slabSize is how many string headers one slab holds.
const slabSize = 128

// slabBox returns s as a lua.LValue whose string header lives in *slab
// (refilled when empty) rather than in an allocation of its own: boxing is
// one allocation per slabSize strings instead of one per string. A slab
// stays alive while any of its strings does (2 KiB).
func slabBox(slab *[]lua.LString, s string) lua.LValue {
	if len(*slab) == 0 {
		*slab = make([]lua.LString, slabSize)
	}
	p := &(*slab)[0]
	*p = lua.LString(s)
	*slab = (*slab)[1:]
	var v lua.LValue
	w := (*ifaceWords)(unsafe.Pointer(&v))
	w.tab = lstringTab
	w.data = unsafe.Pointer(p)
	return v
}
