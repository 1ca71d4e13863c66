package luajson

import (
	"slices"

	lua "github.com/yuin/gopher-lua"
)

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
	ok.keys = slices.Clip(ok.keys) // shared by tables: see newObjectTable
	return ok
}

// newObjectTableSafe builds an object table through gopher-lua's API.
func newObjectTableSafe(L *lua.LState, ok *objectKeys, vals []lua.LValue) *lua.LTable {
	tb := L.CreateTable(0, len(vals))
	for j, v := range vals {
		tb.RawSetString(ok.names[j], v)
	}
	return tb
}

// newArrayTableSafe builds a sequence table through gopher-lua's API.
func newArrayTableSafe(L *lua.LState, vals []lua.LValue) *lua.LTable {
	tb := L.CreateTable(len(vals), 0)
	for j, v := range vals {
		tb.RawSetInt(j+1, v)
	}
	return tb
}
