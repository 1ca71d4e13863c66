package sandbox

import (
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// Limits of every state New returns.
const (
	// MaxStringBytes caps strings the library builds on a script's behalf
	// in one Go call (string.rep, string.format, string.gsub and
	// table.concat); a bigger request raises a Lua error.
	MaxStringBytes = 16 << 20
	// CallStackSize bounds Lua call depth: deeper recursion raises
	// "stack overflow".
	CallStackSize = 200
	// registry (value stack) sizes, in slots. The initial size (4 KiB)
	// holds what an event handler uses; the grow step is large
	// because gopher-lua grows the registry by a fixed step: a small one
	// makes pushing many values (unpack of a big table) quadratic and
	// uninterruptible by the deadline.
	registrySize     = 256
	registryMaxSize  = 256 * 1024
	registryGrowStep = 16 * 1024
	// maxDateFormat caps the length of an os.date format.
	maxDateFormat = 1024
)

func stateOptions(skipLibs bool) lua.Options {
	return lua.Options{
		SkipOpenLibs:     skipLibs,
		CallStackSize:    CallStackSize,
		RegistrySize:     registrySize,
		RegistryMaxSize:  registryMaxSize,
		RegistryGrowStep: registryGrowStep,
		// A fixed call stack: gopher-lua's growing one never reports itself
		// full, so deep recursion panics with "lua callstack overflow"
		// (no file:line) instead of raising "stack overflow".
		MinimizeStackMemory: false,
	}
}

// Options configure New.
type Options struct {
	// Unsafe opens every gopher-lua library (io, os, debug, package) for
	// trusted setups. The string caps and the deadline-aware pattern
	// matching stay.
	Unsafe bool
	// Clock, when set, is what os.time, os.date and os.clock read instead
	// of the real clock (runtime/scripttest's fake clock): os.time() and
	// os.date(format) without a time give Clock's now, os.clock the
	// seconds of Clock since New, and the local zone of os.date and of
	// os.time{...} is the location of Clock's times. Nil: the real clock
	// and the process's zone. Not used with Unsafe.
	Clock func() time.Time
	// Modules finds what require loads beyond the open libraries (the
	// host's lib/ folder). Nil: require loads no file. In unsafe mode,
	// names it does not find go on to gopher-lua's own require.
	Modules ModuleFinder
	// ModuleLoaded, when set, is told the name of each module of Modules
	// whose top level ran without error (require caches it from then on),
	// once per state.
	ModuleLoaded func(name string)
}

// New returns a fresh Lua state. Unless opts.Unsafe, only an allowlist of
// libraries is open: base (without dofile, loadfile, collectgarbage), table,
// string, math, coroutine and os.time/clock/date/difftime. io, debug, the
// rest of os raise a clear error when used; require returns the open
// libraries and what opts.Modules finds (nothing else).
func New(opts Options) *lua.LState {
	if opts.Unsafe {
		L := lua.NewState(stateOptions(false))
		installStateless(L)
		installStateful(L)
		protectCalls(L)
		capResults(L)
		if opts.Modules != nil {
			orig, _ := L.GetGlobal("require").(*lua.LFunction)
			installRequire(L, opts.Modules, opts.ModuleLoaded, orig)
		}
		return L
	}
	return newSandboxed(opts, true)
}

// newSandboxed is New without Unsafe; with fromTemplate false, or without
// a template, it opens and restricts the libraries in the new state
// instead of copying them (tests compare the two).
func newSandboxed(opts Options, fromTemplate bool) *lua.LState {
	L := lua.NewState(stateOptions(true))
	if !fromTemplate || !copyLibraries(L) {
		openLibraries(L)
		restrict(L)
		scrubRegistry(L)
	}
	installStateful(L)
	if os, ok := L.GetGlobal("os").(*lua.LTable); ok && opts.Clock != nil {
		installClock(L, os, opts.Clock)
	}
	installRequire(L, opts.Modules, opts.ModuleLoaded, nil)
	return L
}

// restrict turns L, a state with the libraries open, into the sandbox's
// environment but for what holds per-state data (installStateful, the
// clock, require): the same in every state, it is built once in the
// template New copies (see libcopy.go), and so is scrubRegistry's
// _LOADED. None of the Go functions it installs holds mutable data: each
// is a plain function, or a closure over immutable values (a name, a
// library's Go function).
func restrict(L *lua.LState) {
	installStateless(L)
	protectCalls(L)
	capResults(L)

	// module is Lua 5.0's module system (deprecated since 5.2): it reads
	// the registry's _LOADED, which every lua.Open* fills with the full
	// library (os with execute and exit), and sets the caller's
	// environment to what it finds there. require is a placeholder here.
	for _, name := range []string{"dofile", "loadfile", "collectgarbage", "module", "require"} {
		L.SetGlobal(name, disabled(L, name))
	}
	L.SetGlobal("_printregs", lua.LNil)
	L.SetGlobal("newproxy", L.NewFunction(newProxy))

	// os: only the clock functions.
	full, _ := L.GetGlobal("os").(*lua.LTable)
	os := L.CreateTable(0, 4)
	for _, name := range []string{"time", "clock", "date", "difftime"} {
		if full != nil {
			os.RawSetString(name, full.RawGetString(name))
		}
	}
	os.RawSetString("date", capDate(L, zonedDate(time.Now)))
	os.RawSetString("time", L.NewFunction(osTime(time.Now)))
	L.SetMetatable(os, forbidIndex(L, "os"))
	L.SetGlobal("os", os)

	for _, lib := range []string{"io", "debug", "package"} {
		t := L.CreateTable(0, 0)
		L.SetMetatable(t, forbidIndex(L, lib))
		L.SetGlobal(lib, t)
	}
	installNumericArgs(L) // last: it wraps the replacements above too
}

// libraries are the gopher-lua libraries New opens.
func libraries() []struct {
	name string
	fn   lua.LGFunction
} {
	return []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
		{lua.OsLibName, lua.OpenOs},
	}
}

// openLibraries opens the libraries in L.
func openLibraries(L *lua.LState) {
	for _, lib := range libraries() {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
}

// scrubRegistry replaces the registry's _LOADED, where lua.Open* left the
// full libraries (the os table with execute, exit and getenv), with the
// libraries require returns: no registry entry holds a withheld table.
// Scripts cannot read the registry (debug is withheld), but gopher-lua's
// own functions do.
func scrubRegistry(L *lua.LState) {
	loaded := ltable.New(L, 6)
	for _, name := range []string{"_G", "string", "table", "math", "coroutine", "os"} {
		ltable.SetString(loaded, name, L.GetGlobal(name))
	}
	L.Get(lua.RegistryIndex).(*lua.LTable).RawSetString("_LOADED", loaded)
}

// proxy marks the userdata newproxy makes.
type proxy struct{}

// newProxy is Lua 5.1's newproxy([false | true | proxy]): an empty
// userdata, with a fresh empty metatable for true, or sharing the
// metatable of another proxy. gopher-lua's copies the metatable of any
// userdata, which would let a script fake a host object.
func newProxy(L *lua.LState) int {
	ud := L.NewUserData()
	ud.Value = proxy{}
	switch v := L.Get(1).(type) {
	case *lua.LNilType:
	case lua.LBool:
		if v {
			ud.Metatable = L.NewTable()
		}
	case *lua.LUserData:
		if _, ok := v.Value.(proxy); !ok {
			L.ArgError(1, "boolean or proxy expected")
		}
		ud.Metatable = v.Metatable
	default:
		L.ArgError(1, "boolean or proxy expected")
	}
	L.Push(ud)
	return 1
}

// disabled returns a function that raises "<name> is disabled in the sandbox".
func disabled(L *lua.LState, name string) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is disabled in the sandbox", name)
		return 0
	})
}

// forbidIndex is a metatable whose __index raises for any missing field
// and whose __newindex refuses additions.
func forbidIndex(L *lua.LState, lib string) *lua.LTable {
	mt := ltable.New(L, 3)
	ltable.SetString(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s.%s is disabled in the sandbox", lib, L.ToString(2))
		return 0
	}))
	ltable.SetString(mt, "__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("%s is read-only in the sandbox", lib)
		return 0
	}))
	ltable.SetString(mt, "__metatable", lua.LString("locked"))
	return mt
}

// capDate wraps date, os.date's Go function, to refuse absurdly long
// formats (the result is built in one Go call the deadline cannot
// interrupt).
func capDate(L *lua.LState, date lua.LGFunction) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		if s, ok := L.Get(1).(lua.LString); ok && len(s) > maxDateFormat {
			L.ArgError(1, fmt.Sprintf("os.date: format of %d bytes exceeds the limit of %d bytes", len(s), maxDateFormat))
		}
		return date(L)
	})
}

// installStateless replaces the library functions whose work or output a
// deadline or the string cap does not bound, or that panic with Go text,
// with versions that hold no per-state data: string.rep, string.format,
// string.gsub, table.concat (capped at MaxStringBytes), string.find,
// match, gmatch, gfind, gsub (package luapattern, which checks the
// deadline as it matches), string.upper and lower, table.sort,
// table.insert and rawset (see installLibrary), and load and loadstring
// (see installLoad).
func installStateless(L *lua.LState) {
	if tab, ok := L.GetGlobal("table").(*lua.LTable); ok {
		tab.RawSetString("concat", L.NewFunction(tableConcat))
	}
	installLibrary(L)
	installLoad(L)
	installNumbers(L)
	if str, ok := L.GetGlobal("string").(*lua.LTable); ok {
		installPatterns(L, str)
	}
}

// installStateful replaces the library functions whose replacements hold
// per-state data, made anew in every state: coroutine.resume, wrap and
// yield (a nesting counter and a marker table, see installCoroutines),
// and math.random and randomseed (a generator, see installRandom).
func installStateful(L *lua.LState) {
	if co, ok := L.GetGlobal("coroutine").(*lua.LTable); ok {
		installCoroutines(L, co)
	}
	if m, ok := L.GetGlobal("math").(*lua.LTable); ok {
		installRandom(L, m)
	}
}
