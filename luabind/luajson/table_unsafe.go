//go:build !purego

package luajson

import (
	"maps"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// This file holds the decoder's uses of package unsafe; the purego build
// tag selects table_purego.go instead, the same behaviour in safe code.

// zeroCopy reports that long decoded strings are views into the input
// (DecodeBytes) rather than copies.
const zeroCopy = true

// tableLayoutOK reports whether the decoder builds tables through
// ltable's mirror of lua.LTable's layout (otherwise it falls back to
// RawSetString: correct, slower; TestTableLayout fails to flag it).
var tableLayoutOK = ltable.OK

// newObjectTable returns a table holding ok.names[j] = vals[j] (later
// duplicates win, as with RawSetString). When shared, ok is a cached
// template: the table gets a copy of its key index, and shares its key
// list, whose capacity is its length (see newObjectKeys), so that the
// append by which gopher-lua adds a key to one table copies the list and
// leaves the others alone (gopher-lua never writes to the list in place).
// Otherwise the table takes both.
func newObjectTable(L *lua.LState, ok *objectKeys, vals []lua.LValue, shared bool) *lua.LTable {
	if len(vals) == 0 {
		return L.CreateTable(0, 0)
	}
	if !tableLayoutOK {
		return newObjectTableSafe(L, ok, vals)
	}
	tb := &lua.LTable{Metatable: lua.LNil}
	m := ltable.Of(tb)
	m.Strdict = make(map[string]lua.LValue, len(ok.keys))
	for j, v := range vals {
		m.Strdict[ok.names[j]] = v
	}
	if shared {
		m.Keys, m.K2i = ok.keys, maps.Clone(ok.k2i)
	} else {
		m.Keys, m.K2i = ok.keys, ok.k2i
	}
	return tb
}

// newArrayTable returns a sequence table holding a copy of vals.
func newArrayTable(L *lua.LState, vals []lua.LValue) *lua.LTable {
	if !tableLayoutOK {
		return newArrayTableSafe(L, vals)
	}
	var tb *lua.LTable
	var arr []lua.LValue
	switch len(vals) {
	case 0:
		return &lua.LTable{Metatable: lua.LNil}
	case 1: // the most common arrays ("roles":["owner"], md paragraphs) in one allocation
		a := &smallArray[[1]lua.LValue]{}
		tb, arr = &a.tb, a.vals[:]
	case 2:
		a := &smallArray[[2]lua.LValue]{}
		tb, arr = &a.tb, a.vals[:]
	default:
		tb, arr = &lua.LTable{}, make([]lua.LValue, len(vals))
	}
	tb.Metatable = lua.LNil
	copy(arr, vals)
	ltable.Of(tb).Array = arr
	return tb
}

// smallArray is a table and the backing array of its array part, made in
// one allocation. The table grows as any other (append moves its array
// part out); the object stays alive as long as the table does.
type smallArray[A any] struct {
	tb   lua.LTable
	vals A
}

// viewBytes views b as a string without copying it: DecodeBytes' caller
// hands b over, and decoded strings longer than maxCopiedLen share its
// memory.
func viewBytes(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// boxShort copies s (at most maxCopiedLen bytes) into the state's string
// arena, carved from chunks of strArenaSize bytes, and boxes the copy as a
// lua.LValue in a slot of the state's box chunk (strBoxChunk slots): one
// allocation per hundred-odd short strings rather than two each. A chunk
// stays alive while any string in it does: an arena chunk of 4 KiB, a box
// chunk of 2 KiB and the arena chunks its other strings use, never the
// input (long strings, which may view the input, are boxed one by one).
func (d *decoder) boxShort(s string) lua.LValue {
	a := d.sd.strArena
	if len(s) > cap(a)-len(a) {
		a = make([]byte, 0, strArenaSize)
	}
	start := len(a)
	a = append(a, s...)
	d.sd.strArena = a
	if !boxLayoutOK {
		return lua.LString(unsafe.String(&a[start], len(s)))
	}
	b := d.sd.strBoxes
	if len(b) == cap(b) {
		b = make([]lua.LString, 0, strBoxChunk)
	}
	b = append(b, lua.LString(unsafe.String(&a[start], len(s))))
	d.sd.strBoxes = b
	return boxAt(&b[len(b)-1])
}

// ifaceWords mirrors the two words of a non-empty interface value: its
// method table and a pointer to its boxed value.
type ifaceWords struct {
	tab  unsafe.Pointer
	data unsafe.Pointer
}

// stringTab is the method table of an lua.LString in an lua.LValue.
// Computed once; never written again.
var stringTab = func() unsafe.Pointer {
	var v lua.LValue = lua.LString("x")
	return (*ifaceWords)(unsafe.Pointer(&v)).tab
}()

// boxAt returns the lua.LValue boxing *p, pointing at p rather than at a
// fresh copy: *p must never change afterwards.
func boxAt(p *lua.LString) lua.LValue {
	var v lua.LValue
	w := (*ifaceWords)(unsafe.Pointer(&v))
	w.tab, w.data = stringTab, unsafe.Pointer(p)
	return v
}

// boxLayoutOK reports whether boxAt makes values equal to Go's own boxes
// (checked once when the package loads); otherwise boxShort boxes as Go
// does.
var boxLayoutOK = func() bool {
	if unsafe.Sizeof(lua.LValue(nil)) != unsafe.Sizeof(ifaceWords{}) {
		return false
	}
	s := lua.LString("a box")
	v := boxAt(&s)
	got, ok := v.(lua.LString)
	return ok && got == s && v == lua.LValue(lua.LString("a box")) && v.Type() == lua.LTString && v.String() == "a box"
}()
