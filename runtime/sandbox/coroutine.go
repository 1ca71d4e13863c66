package sandbox

import (
	"runtime"

	lua "github.com/yuin/gopher-lua"
)

// MaxCoroutineDepth bounds coroutines resumed inside each other: each has
// a call stack of its own, so without it recursion through
// coroutine.wrap(f)() grows the Go stack and memory until the process
// dies.
const MaxCoroutineDepth = 200

// installCoroutines replaces coroutine.resume, coroutine.wrap and
// coroutine.yield so that
//   - a coroutine runs under the context of whoever resumes it: gopher-lua
//     gives a coroutine the context current when it was created, so one
//     created at load (or in an earlier handler) would fail with "context
//     canceled" forever after, and one created without a context would
//     escape every deadline;
//   - at most MaxCoroutineDepth coroutines run inside each other;
//   - a coroutine whose yield left it without a frame (see emptied)
//     ends on its next resume as in Lua 5.1;
//   - a yield that would cross a Go call (pcall, a metamethod, a library
//     function calling back, see yieldCrossesGo) raises Lua 5.1's error
//     instead of corrupting the coroutine (gopher-lua then dereferences
//     nil on the next resume).
func installCoroutines(L *lua.LState, co *lua.LTable) {
	resume, ok1 := co.RawGetString("resume").(*lua.LFunction)
	create, ok2 := co.RawGetString("create").(*lua.LFunction)
	yield, ok3 := co.RawGetString("yield").(*lua.LFunction)
	if !ok1 || !ok2 || !ok3 {
		return
	}
	depth := 0 // coroutines running inside each other; one goroutine runs them all
	// emptied is the environment given to a coroutine whose last yield
	// left it without a frame: a Go function as its body, or a yield in
	// tail position (return coroutine.yield(x)) at its base. gopher-lua
	// then takes it for not started and dereferences nil on the next
	// resume. Such a coroutine never runs Lua code again, so its
	// environment is free to mark it.
	emptied := L.CreateTable(0, 0)
	run := func(L *lua.LState, th *lua.LState) int {
		if th.Env == emptied {
			// As in Lua 5.1: the yield returns the arguments of this
			// resume as the coroutine's results, and the coroutine ends.
			th.Dead = true
			th.Env = L.Env
			L.Insert(lua.LTrue, 2)
			return L.GetTop() - 1
		}
		for p := L; p != nil; p = p.Parent {
			if p == th { // running, or resuming the one that runs: as Lua 5.1
				L.Push(lua.LFalse)
				L.Push(lua.LString("cannot resume non-suspended coroutine"))
				return 2
			}
		}
		if depth >= MaxCoroutineDepth {
			L.RaiseError("stack overflow (more than %d coroutines resumed inside each other)", MaxCoroutineDepth)
		}
		if ctx := L.Context(); ctx != nil && th.Context() != ctx {
			th.SetContext(ctx)
		}
		depth++
		defer func() { depth-- }()
		n := resume.GFunction(L)
		if _, ok := th.GetStack(0); !ok && !th.Dead {
			th.Env = emptied
		}
		return n
	}
	co.RawSetString("resume", L.NewFunction(func(L *lua.LState) int {
		return run(L, L.CheckThread(1))
	}))
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		L.CheckFunction(1)
		create.GFunction(L)
		th := L.Get(-1)
		L.Push(L.NewClosure(func(L *lua.LState) int {
			th := L.CheckThread(lua.UpvalueIndex(1))
			L.Insert(th, 1)
			n := run(L, th)
			if n == 0 || !lua.LVAsBool(L.Get(-n)) {
				L.Error(L.Get(-1), 0)
			}
			return n - 1
		}, th))
		return 1
	}))
	co.RawSetString("yield", L.NewFunction(func(L *lua.LState) int {
		if L.Parent != nil && yieldCrossesGo() {
			L.RaiseError("attempt to yield across metamethod/C-call boundary")
		}
		return yield.GFunction(L)
	}))
}

// gopherLua is gopher-lua's package path as runtime.Frame names it.
const gopherLua = "github.com/yuin/gopher-lua"

// yieldCrossesGo reports whether the running coroutine's yield would
// cross a Go call: whether more than one VM loop runs between here and the
// coroutine's start. gopher-lua runs a coroutine in one VM loop
// (threadRun); every Go function calling back into Lua (pcall, xpcall, a
// metamethod, table.sort's comparator, gsub's function, tostring's
// __tostring) does it through LState.Call, which starts another. A yield
// there unwinds only the inner loop, and the Go caller then runs on in a
// suspended coroutine.
func yieldCrossesGo() bool {
	pcs := make([]uintptr, 128)
	for {
		n := runtime.Callers(2, pcs)
		if n == len(pcs) {
			pcs = make([]uintptr, 2*len(pcs))
			continue
		}
		loops := 0
		frames := runtime.CallersFrames(pcs[:n])
		for {
			f, more := frames.Next()
			switch f.Function {
			case gopherLua + ".mainLoop", gopherLua + ".mainLoopWithContext":
				if loops++; loops > 1 {
					return true
				}
			case gopherLua + ".threadRun":
				return false
			}
			if !more {
				return false
			}
		}
	}
}
