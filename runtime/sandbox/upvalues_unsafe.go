//go:build !purego

package sandbox

import (
	"reflect"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// This file reaches the fields of lua.LState and lua.Upvalue that
// unwind.go needs; the purego build tag selects upvalues_purego.go, which
// leaves gopher-lua's behaviour alone.

// stateFields are the indexes of those fields, found by name and checked
// by type once; ok is false when one is missing or of another type.
var stateFields = func() (f struct {
	ok                              bool
	reg, top, uvcache, hasErrorFunc int
	uvIndex, uvNext                 int
}) {
	ls := reflect.TypeFor[lua.LState]()
	uv := reflect.TypeFor[lua.Upvalue]()
	uvPtr := reflect.TypeFor[*lua.Upvalue]()
	field := func(t reflect.Type, name string, ok func(reflect.Type) bool) (int, bool) {
		sf, found := t.FieldByName(name)
		if !found || len(sf.Index) != 1 || !ok(sf.Type) {
			return 0, false
		}
		return sf.Index[0], true
	}
	kind := func(k reflect.Kind) func(reflect.Type) bool {
		return func(t reflect.Type) bool { return t.Kind() == k }
	}
	is := func(want reflect.Type) func(reflect.Type) bool {
		return func(t reflect.Type) bool { return t == want }
	}
	var oks [6]bool
	f.reg, oks[0] = field(ls, "reg", func(t reflect.Type) bool { return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct })
	if oks[0] {
		f.top, oks[1] = field(ls.Field(f.reg).Type.Elem(), "top", kind(reflect.Int))
	}
	f.uvcache, oks[2] = field(ls, "uvcache", is(uvPtr))
	f.hasErrorFunc, oks[3] = field(ls, "hasErrorFunc", kind(reflect.Bool))
	f.uvIndex, oks[4] = field(uv, "index", kind(reflect.Int))
	f.uvNext, oks[5] = field(uv, "next", is(uvPtr))
	f.ok = oks == [6]bool{true, true, true, true, true, true}
	return f
}()

// unwindOK reports whether the fields were found (see unwind.go).
var unwindOK = stateFields.ok

// registryTop is L's register stack top, an absolute index (as
// lua.Upvalue's).
func registryTop(L *lua.LState) int {
	return int(reflect.ValueOf(L).Elem().Field(stateFields.reg).Elem().Field(stateFields.top).Int())
}

// hasErrorFunc reads L's flag of a protected call with an error handler.
func hasErrorFunc(L *lua.LState) bool {
	return reflect.ValueOf(L).Elem().Field(stateFields.hasErrorFunc).Bool()
}

// setHasErrorFunc sets it.
func setHasErrorFunc(L *lua.LState, b bool) {
	*(*bool)(unsafe.Pointer(reflect.ValueOf(L).Elem().Field(stateFields.hasErrorFunc).UnsafeAddr())) = b
}

// closeUpvaluesFrom closes L's open upvalues of registers at or above idx
// and drops them from its list (kept in register order), as gopher-lua
// does when a function returns.
func closeUpvaluesFrom(L *lua.LState, idx int) {
	link := (**lua.Upvalue)(unsafe.Pointer(reflect.ValueOf(L).Elem().Field(stateFields.uvcache).UnsafeAddr()))
	for *link != nil && upvalueIndex(*link) < idx {
		link = nextLink(*link)
	}
	for uv := *link; uv != nil; uv = *nextLink(uv) {
		uv.Close()
	}
	*link = nil
}

func upvalueIndex(uv *lua.Upvalue) int {
	return int(reflect.ValueOf(uv).Elem().Field(stateFields.uvIndex).Int())
}

func nextLink(uv *lua.Upvalue) **lua.Upvalue {
	return (**lua.Upvalue)(unsafe.Pointer(reflect.ValueOf(uv).Elem().Field(stateFields.uvNext).UnsafeAddr()))
}
