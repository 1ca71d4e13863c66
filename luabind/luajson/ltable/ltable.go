// Package ltable gives rclua's packages the inside of gopher-lua's tables
// (lua.LTable), to build them at their final size: LTable.RawSetString
// grows a table's key list and key index one entry at a time, which is
// most of the cost of filling many tables (decoding a response, opening a
// state's libraries).
//
// By default Of views a table through a mirror of lua.LTable's layout,
// checked against the real type by reflection at start-up (OK); on a
// mismatch, and always when built with the purego tag, Of returns nil and
// Reserve does nothing, and callers fill tables through gopher-lua's API.
package ltable

import (
	lua "github.com/yuin/gopher-lua"
)

// Layout mirrors the fields of lua.LTable (gopher-lua v1.1.2), in order.
// gopher-lua reads a table's string keys from Strdict, lists every hash
// key in Keys (the order of next and pairs) and keeps each key's index in
// Keys in K2i. It never writes to Keys in place, only appends to it.
type Layout struct {
	Metatable lua.LValue

	Array   []lua.LValue
	Dict    map[lua.LValue]lua.LValue
	Strdict map[string]lua.LValue
	Keys    []lua.LValue
	K2i     map[lua.LValue]int
}

// Reserve makes room in tb for n more string keys, so that setting them
// with RawSetString allocates nothing more (nor moves what tb holds). It
// does nothing when Of is nil.
func Reserve(tb *lua.LTable, n int) {
	m := Of(tb)
	if m == nil || n <= 0 {
		return
	}
	have := len(m.Keys)
	if cap(m.Keys)-have >= n {
		return
	}
	keys := make([]lua.LValue, have, have+n)
	copy(keys, m.Keys)
	k2i := make(map[lua.LValue]int, have+n)
	for k, i := range m.K2i {
		k2i[k] = i
	}
	strdict := make(map[string]lua.LValue, len(m.Strdict)+n)
	for k, v := range m.Strdict {
		strdict[k] = v
	}
	m.Keys, m.K2i, m.Strdict = keys, k2i, strdict
}

// New returns an empty table of L with room for n string keys in all its
// parts (L.CreateTable(0, n) sizes only the hash, and the key list and
// index then grow one key at a time).
func New(L *lua.LState, n int) *lua.LTable {
	if n <= 0 || !OK {
		return L.CreateTable(0, n)
	}
	tb := &lua.LTable{Metatable: lua.LNil}
	m := Of(tb)
	m.Strdict = make(map[string]lua.LValue, n)
	m.Keys = make([]lua.LValue, 0, n)
	m.K2i = make(map[lua.LValue]int, n)
	return tb
}

// SetString is tb.RawSetString(key, v), boxing a new key once where
// RawSetString boxes it twice (for the key index and the key list).
func SetString(tb *lua.LTable, key string, v lua.LValue) {
	m := Of(tb)
	if m == nil || v == lua.LNil || m.Strdict == nil || m.K2i == nil {
		tb.RawSetString(key, v)
		return
	}
	m.Strdict[key] = v
	if _, ok := m.K2i[lua.LString(key)]; !ok {
		k := lua.LValue(lua.LString(key))
		m.K2i[k] = len(m.Keys)
		m.Keys = append(m.Keys, k)
	}
}
