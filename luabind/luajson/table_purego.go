//go:build purego

package luajson

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// This file is the safe counterpart of table_unsafe.go, selected by the
// purego build tag: tables are filled through gopher-lua's API, and every
// decoded string is a copy.

// zeroCopy reports that long decoded strings are views into the input
// (DecodeBytes) rather than copies: never in this build.
const zeroCopy = false

// tableLayoutOK reports whether the decoder builds tables through a mirror
// of lua.LTable's layout: never in this build.
const tableLayoutOK = false

// newObjectTable returns a table holding ok.names[j] = vals[j] (later
// duplicates win).
func newObjectTable(L *lua.LState, ok *objectKeys, vals []lua.LValue, _ bool) *lua.LTable {
	if len(vals) == 0 {
		return L.CreateTable(0, 0)
	}
	return newObjectTableSafe(L, ok, vals)
}

// newArrayTable returns a sequence table holding a copy of vals.
func newArrayTable(L *lua.LState, vals []lua.LValue) *lua.LTable {
	return newArrayTableSafe(L, vals)
}

// viewBytes returns b as a string: a copy in this build.
func viewBytes(b []byte) string { return string(b) }

// boxShort boxes a copy of s.
func (d *decoder) boxShort(s string) lua.LValue { return lua.LString(strings.Clone(s)) }
