package luabind

import (
	"reflect"
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

// newObjectTable returns a table holding names[i] = vals[i] (later
// duplicates win, as with RawSetString). boxed[i] is names[i] as an LValue.
func newObjectTable(L *lua.LState, names []string, boxed []lua.LValue, vals []lua.LValue) *lua.LTable {
	if !tableLayoutOK {
		tb := L.CreateTable(0, len(vals))
		for j, v := range vals {
			tb.RawSetString(names[j], v)
		}
		return tb
	}
	n := len(vals)
	tb := &lua.LTable{Metatable: lua.LNil}
	m := (*ltableLayout)(unsafe.Pointer(tb))
	m.strdict = make(map[string]lua.LValue, n)
	m.keys = make([]lua.LValue, 0, n)
	m.k2i = make(map[lua.LValue]int, n)
	for j, v := range vals {
		m.strdict[names[j]] = v
		if len(m.strdict) > len(m.keys) { // a new key, not a duplicate
			m.k2i[boxed[j]] = len(m.keys)
			m.keys = append(m.keys, boxed[j])
		}
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
