package sandbox

import lua "github.com/yuin/gopher-lua"

// gopher-lua v1.1.2 gets two things wrong when a protected call with an
// error handler fails (yuin/gopher-lua#448), and every protected call here
// has one (Call, pcall, xpcall):
//
//   - The upvalues of the frames the error unwinds stay open: a closure
//     made in a failing function (saved = function() return x end, then
//     error) keeps pointing at a register slot that later code reuses,
//     and reads whatever lands there. Lua closes them as the frames go.
//   - A protected call that returns clears the state's "has an error
//     handler" flag instead of restoring it, so an error after a pcall
//     that returned, inside another protected call, takes the path for
//     calls without a handler, which closes the upvalues of every frame,
//     the live ones below too: an assignment to a local of the main
//     chunk after a failed pcall no longer reached the closures that
//     share it.
//
// calls keeps, per state, the base of each protected call in progress
// (the register of the function called, as PCall computes it): the error
// handler closes the upvalues above the innermost one while the unwound
// frames' registers still hold their values (PCall clears them after the
// handler returns), and each call restores the flag as it was. The state's
// layout is reached through package reflect and unsafe (upvalues_unsafe.go);
// with the purego build tag, or should gopher-lua's layout change
// (unwindOK false), both bugs remain.
type calls struct {
	handler *lua.LFunction // Call's error handler (failureHandler)
	keep    *lua.LFunction // PCall's (keepError)
	bases   []int
}

// pcall is L.PCall(nargs, nret, h) recorded as a protected call in
// progress: h must call c.unwind first.
func (c *calls) pcall(L *lua.LState, nargs, nret int, h *lua.LFunction) error {
	had := c.enter(L, nargs)
	defer c.leave(L, had)
	return L.PCall(nargs, nret, h)
}

// callsKey is the registry field holding a state's calls. Coroutines of
// the state share it (they share the registry): they run one at a time,
// and a protected call cannot yield, so the calls in progress nest.
const callsKey = "rclua.sandbox.calls"

// callsOf returns L's calls, made on first use.
func callsOf(L *lua.LState) *calls {
	reg := L.G.Registry
	if ud, ok := reg.RawGetString(callsKey).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*calls); ok {
			return c
		}
	}
	c := &calls{}
	ud := L.NewUserData()
	ud.Value = c
	reg.RawSetString(callsKey, ud)
	return c
}

// enter records a protected call of the function below the nargs
// arguments on L's stack; leave, with what enter returned, ends it.
func (c *calls) enter(L *lua.LState, nargs int) (hadHandler bool) {
	if !unwindOK {
		return false
	}
	c.bases = append(c.bases, registryTop(L)-nargs-1)
	return hasErrorFunc(L)
}

// leave ends the innermost protected call, restoring the flag enter read.
func (c *calls) leave(L *lua.LState, hadHandler bool) {
	if !unwindOK {
		return
	}
	c.bases = c.bases[:len(c.bases)-1]
	setHasErrorFunc(L, hadHandler)
}

// unwind closes the upvalues of the frames the innermost protected call's
// error unwinds: those of registers above its function's. It runs in the
// error handler.
func (c *calls) unwind(L *lua.LState) {
	if n := len(c.bases); unwindOK && n > 0 {
		closeUpvaluesFrom(L, c.bases[n-1]+1)
	}
}
