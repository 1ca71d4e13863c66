//go:build !purego

package ltable

import (
	"reflect"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// OK reports whether Layout matches lua.LTable field for field (names up
// to case, types, offsets). Computed once; never written again.
var OK = func() bool {
	a, b := reflect.TypeFor[lua.LTable](), reflect.TypeFor[Layout]()
	if a.Size() != b.Size() || a.NumField() != b.NumField() {
		return false
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if !strings.EqualFold(fa.Name, fb.Name) || fa.Type != fb.Type || fa.Offset != fb.Offset {
			return false
		}
	}
	return true
}()

// Of returns tb's fields, or nil when the mirror does not match (OK).
// What the caller writes there must keep tb a valid table: Keys holding
// every key of Strdict and Dict exactly once, K2i indexing Keys.
func Of(tb *lua.LTable) *Layout {
	if !OK {
		return nil
	}
	return (*Layout)(unsafe.Pointer(tb))
}
