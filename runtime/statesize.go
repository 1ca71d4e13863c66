package runtime

import (
	"context"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// Estimated sizes, in bytes, of what a Lua state holds: close enough to
// tell which of the scripts holds the heap, which is all they are for.
const (
	sizeTable    = 96   // an LTable and its maps' headers
	sizeEntry    = 40   // one key/value slot (array slots are cheaper, dict ones dearer)
	sizeString   = 16   // a string's header
	sizeFunction = 64   // an LFunction
	sizeUpvalue  = 48   // one upvalue
	sizeThread   = 4096 // a coroutine's stacks, flat
	// sizeWalkMax is the most tables, functions and threads (and big
	// strings) one measurement visits: its memory (the visited set) and
	// time are bounded; a state with more is "at least" its estimate.
	sizeWalkMax = 1 << 20
	// sizeShareMin is the smallest string counted once however often it is
	// referenced (by the address of its bytes); smaller ones are counted
	// per reference, which costs no set entry.
	sizeShareMin = 1 << 10
)

// stateSize estimates the memory L holds: everything reachable from its
// globals, its registry, the string metatable and roots (the handler and
// timer functions the host keeps outside the state). complete is false
// when the walk stopped at limit objects (sizeWalkMax in the daemon) or
// because ctx ended (the estimate is then a lower bound). Only L's owner
// may call it, between calls.
func stateSize(ctx context.Context, L *lua.LState, roots []*lua.LFunction, limit int) (bytes int64, complete bool) {
	w := sizeWalk{ctx: ctx, limit: limit, seen: map[unsafe.Pointer]struct{}{}}
	w.stack = append(w.stack, L.Get(lua.GlobalsIndex), L.Get(lua.RegistryIndex), L.GetMetatable(lua.LString("")))
	for _, fn := range roots {
		w.stack = append(w.stack, fn)
	}
	w.run()
	return w.bytes, !w.cut
}

type sizeWalk struct {
	ctx   context.Context
	limit int
	seen  map[unsafe.Pointer]struct{}
	stack []lua.LValue
	bytes int64
	cut   bool
}

// first reports whether p is visited for the first time; past
// the walk's max it reports false and marks the walk cut.
func (w *sizeWalk) first(p unsafe.Pointer) bool {
	if _, ok := w.seen[p]; ok {
		return false
	}
	if len(w.seen) >= w.limit {
		w.cut = true
		return false
	}
	w.seen[p] = struct{}{}
	return true
}

func (w *sizeWalk) run() {
	for n := 0; len(w.stack) > 0; n++ {
		if n%4096 == 0 && w.ctx.Err() != nil {
			w.cut = true
			return
		}
		v := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		w.visit(v)
	}
}

// visit counts v and queues what it references.
func (w *sizeWalk) visit(v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		w.str(v)
	case *lua.LTable:
		if !w.first(unsafe.Pointer(v)) {
			return
		}
		w.bytes += sizeTable
		if v.Metatable != nil {
			w.stack = append(w.stack, v.Metatable)
		}
		v.ForEach(func(k, val lua.LValue) {
			w.bytes += sizeEntry
			w.push(k)
			w.push(val)
		})
	case *lua.LFunction:
		if !w.first(unsafe.Pointer(v)) {
			return
		}
		w.bytes += sizeFunction + int64(len(v.Upvalues))*sizeUpvalue
		if v.Env != nil {
			w.stack = append(w.stack, v.Env)
		}
		for _, uv := range v.Upvalues {
			if uv != nil {
				w.push(uv.Value())
			}
		}
	case *lua.LUserData:
		if !w.first(unsafe.Pointer(v)) {
			return
		}
		w.bytes += sizeTable
		if v.Metatable != nil {
			w.stack = append(w.stack, v.Metatable)
		}
		if v.Env != nil {
			w.stack = append(w.stack, v.Env)
		}
	case *lua.LState:
		if !w.first(unsafe.Pointer(v)) {
			return
		}
		w.bytes += sizeThread
		for i := 1; i <= v.GetTop(); i++ {
			w.push(v.Get(i))
		}
	}
}

// push queues v if it can hold more than its own size; strings are counted
// at once.
func (w *sizeWalk) push(v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		w.str(v)
	case *lua.LTable, *lua.LFunction, *lua.LUserData, *lua.LState:
		if len(w.seen)+len(w.stack) >= w.limit {
			w.cut = true // the queue is bounded like the visited set
			return
		}
		w.stack = append(w.stack, v)
	}
}

// str counts a string: big ones once per backing array.
func (w *sizeWalk) str(s lua.LString) {
	if len(s) >= sizeShareMin && !w.first(unsafe.Pointer(unsafe.StringData(string(s)))) {
		return
	}
	w.bytes += sizeString + int64(len(s))
}
