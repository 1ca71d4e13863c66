package sandbox

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// describe returns what L holds, by path from the globals, the string
// metatable and the registry: each table's keys, metatable and
// values, each function's Go code, upvalues and whether its environment is
// L's globals; a value reached again is described by its first path.
func describe(L *lua.LState) map[string]string {
	out := map[string]string{}
	first := map[lua.LValue]string{}
	var walk func(path string, v lua.LValue)
	walk = func(path string, v lua.LValue) {
		if p, ok := first[v]; ok {
			out[path] = "same as " + p
			return
		}
		switch x := v.(type) {
		case *lua.LTable:
			first[v] = path
			var keys []string
			x.ForEach(func(k, _ lua.LValue) { keys = append(keys, k.String()) })
			slices.Sort(keys)
			out[path] = fmt.Sprintf("table %v", keys)
			for _, k := range keys {
				walk(path+"."+k, x.RawGetString(k))
			}
			walk(path+".<metatable>", x.Metatable)
		case *lua.LFunction:
			first[v] = path
			out[path] = fmt.Sprintf("function IsG=%v code=%#x upvalues=%d own env=%v",
				x.IsG, reflect.ValueOf(x.GFunction).Pointer(), len(x.Upvalues), x.Env == L.G.Global)
			for i, uv := range x.Upvalues {
				walk(fmt.Sprintf("%s.<upvalue %d>", path, i+1), uv.Value())
			}
		default:
			out[path] = fmt.Sprintf("%s %s", v.Type(), v.String())
		}
	}
	walk("_G", L.G.Global)
	walk("<string metatable>", L.GetMetatable(lua.LString("")))
	walk("<registry>", L.Get(lua.RegistryIndex))
	return out
}

// TestCopyMatchesRestrict: a state copied from the template holds exactly
// what a state whose libraries are opened and restricted in place holds
// (the purego build's route): the same tables, keys, metatables and
// aliases, the same Go functions in the same places, each function with
// its own state's environment.
func TestCopyMatchesRestrict(t *testing.T) {
	t.Parallel()
	if _, ok := libraryTemplate(); !ok {
		t.Skip("no template in this build: every state is opened in place")
	}
	copied, opened := newSandboxed(Options{}, true), newSandboxed(Options{}, false)
	defer copied.Close()
	defer opened.Close()
	want, got := describe(opened), describe(copied)
	require.Greater(t, len(want), 120, "the description covers the libraries")
	assert.Equal(t, want, got)
	for path, d := range got {
		if strings.HasPrefix(d, "function") {
			assert.Contains(t, d, "own env=true", path)
		}
	}
}

// objects returns every table, function, userdata and thread reachable
// from roots: table keys and values, metatables, function environments
// and upvalues, userdata metatables, environments and Go-held Lua values,
// a thread's environment.
func objects(roots ...lua.LValue) map[lua.LValue]bool {
	seen := map[lua.LValue]bool{}
	var visit func(v lua.LValue)
	visit = func(v lua.LValue) {
		switch v.(type) {
		case *lua.LTable, *lua.LFunction, *lua.LUserData, *lua.LState:
			if seen[v] {
				return
			}
			seen[v] = true
		}
		switch x := v.(type) {
		case *lua.LTable:
			x.ForEach(func(k, v lua.LValue) { visit(k); visit(v) })
			visit(x.Metatable)
		case *lua.LFunction:
			visit(x.Env)
			for _, uv := range x.Upvalues {
				if uv != nil {
					visit(uv.Value())
				}
			}
		case *lua.LUserData:
			visit(x.Metatable)
			visit(x.Env)
			if lv, ok := x.Value.(lua.LValue); ok {
				visit(lv)
			}
		case *lua.LState:
			visit(x.Env)
		}
	}
	for _, r := range roots {
		if r != nil {
			visit(r)
		}
	}
	return seen
}

// stateObjects is objects of everything L holds.
func stateObjects(L *lua.LState) map[lua.LValue]bool {
	return objects(L.G.Global, L.Get(lua.RegistryIndex), L.Env, L.GetMetatable(lua.LString("")))
}

// TestStatesShareNoObject: no table, function or userdata of a state is
// another state's or the template's, by any route (metatables, upvalues,
// environments, the registry), and every function's environment is its
// own state's globals.
func TestStatesShareNoObject(t *testing.T) {
	t.Parallel()
	a, b := New(Options{}), New(Options{Clock: time.Now})
	defer a.Close()
	defer b.Close()
	// Make the lazily made parts too (Call's handler in the registry).
	for _, L := range []*lua.LState{a, b} {
		fn, err := Compile(L, "t.lua", []byte(`local ok = pcall(error, "x"); return ok`))
		require.NoError(t, err)
		L.Push(fn)
		require.Nil(t, Call(L, 0, 0))
	}
	inA, inB := stateObjects(a), stateObjects(b)
	require.Greater(t, len(inA), 100, "the walk reaches the libraries")
	var template map[lua.LValue]bool
	if tp, ok := libraryTemplate(); ok {
		template = objects(lua.LValue(tp.tables[0]), tp.tables[tp.strMeta], tp.tables[tp.registry])
		require.Greater(t, len(template), 100, "the walk reaches the template's libraries")
	}
	for v := range inA {
		assert.False(t, inB[v], "a's %s %p is b's too", v.Type(), v)
		assert.False(t, template[v], "a's %s %p is the template's", v.Type(), v)
		if fn, ok := v.(*lua.LFunction); ok {
			assert.Same(t, a.G.Global, fn.Env, "environment of a function of a")
		}
	}
}

// TestTemplatedPartsArePerState: what a script changes in the parts New
// copies from the template (the stubs of io, debug and package, the os
// subset, the replaced functions) changes in its state only, also while
// other states are made and run at the same time (run with -race: a write
// to anything shared, a key list appended to in place, is reported).
func TestTemplatedPartsArePerState(t *testing.T) {
	t.Parallel()
	const mutate = `
rawset(io, "open", function() return "opened" end)
rawset(debug, "getinfo", 1)
rawset(package, "loaded", {})
rawset(os, "execute", 2)
rawset(os, "time", nil)
string.format = nil
string.extra = 1
extra_global = 1
table.extra, math.extra, coroutine.extra = 1, 1, 1
pcall = nil
unpack = 3
newproxy = 4
getmetatable("").__index = {}
assert(io.open() == "opened" and os.execute == 2 and rawget(os, "time") == nil)
`
	const fresh = `
assert(rawget(io, "open") == nil and rawget(debug, "getinfo") == nil and rawget(package, "loaded") == nil)
assert(not pcall(function() return io.open end), "io.open raises")
assert(rawget(os, "execute") == nil and type(os.time) == "function")
assert(type(string.format) == "function" and string.extra == nil)
assert(table.extra == nil and math.extra == nil and coroutine.extra == nil and extra_global == nil)
assert(type(pcall) == "function" and type(unpack) == "function" and type(newproxy) == "function")
assert(("x"):upper() == "X")
`
	var wg sync.WaitGroup
	scripts := map[string]string{"fresh.lua": fresh, "mutate.lua": mutate, "fresh-again.lua": fresh}
	errs := make(chan error, 16*len(scripts))
	for range 8 {
		wg.Go(func() {
			for name, code := range scripts {
				L := New(Options{})
				errs <- runChunk(context.Background(), L, name, []byte(code), 5*time.Second)
				// Call adds its handler to the registry (a new key).
				L.Push(L.NewFunction(func(*lua.LState) int { return 0 }))
				if f := Call(L, 0, 0); f != nil {
					errs <- fmt.Errorf("%s: Call: %v", name, f.Value)
				}
				L.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	// And within one state's lifetime, another's change never shows.
	a, b := New(Options{}), New(Options{})
	defer a.Close()
	defer b.Close()
	require.NoError(t, runChunk(context.Background(), a, "a.lua", []byte(mutate), 5*time.Second))
	require.NoError(t, runChunk(context.Background(), b, "b.lua", []byte(fresh), 5*time.Second))
}

// TestRandomSequencesAreIndependent: each state's math.random draws from a generator
// of its own: one state's randomseed (or draws) do not move another's
// sequence, also when states draw at the same time (run with -race).
func TestRandomSequencesAreIndependent(t *testing.T) {
	t.Parallel()
	draws := func(L *lua.LState, code string) []float64 {
		t.Helper()
		require.NoError(t, L.DoString(code))
		tb, ok := L.Get(-1).(*lua.LTable)
		require.True(t, ok, "%s returns a table", code)
		L.Pop(1)
		var out []float64
		for i := 1; i <= tb.Len(); i++ {
			out = append(out, float64(tb.RawGetInt(i).(lua.LNumber)))
		}
		return out
	}
	solo := New(Options{})
	defer solo.Close()
	want := draws(solo, `math.randomseed(42); return {math.random(), math.random(1, 1e9)}`)

	a, b := New(Options{}), New(Options{})
	defer a.Close()
	defer b.Close()
	first := draws(a, `math.randomseed(42); return {math.random()}`)
	draws(b, `math.randomseed(7); return {math.random(), math.random()}`)
	second := draws(a, `return {math.random(1, 1e9)}`)
	assert.Equal(t, want, append(first, second...), "a's sequence after b seeded and drew")

	var wg sync.WaitGroup
	results := make([][]float64, 4)
	for i := range results {
		wg.Go(func() {
			L := New(Options{})
			defer L.Close()
			if err := L.DoString(`math.randomseed(42); local t = {} for i = 1, 2000 do t[i] = math.random() end return {t[1], t[2000]}`); err != nil {
				return
			}
			tb := L.Get(-1).(*lua.LTable)
			results[i] = []float64{float64(tb.RawGetInt(1).(lua.LNumber)), float64(tb.RawGetInt(2).(lua.LNumber))}
		})
	}
	wg.Wait()
	for i, r := range results {
		require.Len(t, r, 2, "state %d drew", i)
		assert.Equal(t, want[0], r[0], "state %d's first draw", i)
		assert.Equal(t, results[0], r, "state %d's sequence", i)
	}
}

// TestTemplateIsUsed: whenever tables can be copied, New copies the
// template (the speed of New depends on it), and the copy allocates its
// functions at once: fewer allocations than functions.
func TestTemplateIsUsed(t *testing.T) { // not parallel: it counts allocations
	tp, ok := libraryTemplate()
	require.Equal(t, ltable.OK, ok)
	if !ok {
		return
	}
	require.Greater(t, tp.funcs, 80)
	bare := testing.AllocsPerRun(20, func() { lua.NewState(stateOptions(true)) })
	copied := testing.AllocsPerRun(20, func() { copyLibraries(lua.NewState(stateOptions(true))) })
	assert.Less(t, copied-bare, float64(tp.funcs), "allocations of a copy")
}

// TestTemplateClosuresAreReviewed: every state gets a copy of the
// template's functions with the same Go function, so a Go closure there
// that captured something mutable (a table, a counter, a generator) would
// be shared by every script, and the walks of the tests above, which
// follow only what Lua sees, would not notice. Each closure of the
// template is listed here with what it captures, reviewed as immutable; a
// new one fails until it is reviewed and listed.
func TestTemplateClosuresAreReviewed(t *testing.T) {
	t.Parallel()
	// By the function the closure is written in: the name Go gives a
	// closure also names the functions it was inlined into, and its
	// number changes with inlining, both varying by build.
	reviewed := map[string]string{
		"capResults":         "unpack's and string.byte's Go functions",
		"capDate":            "os.date's Go function",
		"forbidIndex":        "the library's name",
		"disabled":           "the function's name",
		"installLibrary":     "setmetatable's Go function",
		"installLoad":        "nothing",
		"osTime":             "the clock function (time.Now)",
		"wrapArgs":           "the wrapped Go function and a converter of numericArgs' or stringArgs' positions (never written)",
		"installNumericArgs": "the positions of an entry of numericArgs or stringArgs (never written)",
		"installNumbers":     "tonumber's Go function; an operator's event, name and Go function",
	}
	tp, ok := libraryTemplate()
	if !ok {
		t.Skip("no template (purego or a layout mismatch): each state opens its own libraries")
	}
	closure := regexp.MustCompile(`([^.]+)\.(func|gowrap)\d+(\.\d+)*$|-fm$`)
	var found []string
	var visit func(e entry)
	visit = func(e entry) {
		if e.gofn != nil {
			full := runtime.FuncForPC(reflect.ValueOf(e.gofn).Pointer()).Name()
			if m := closure.FindStringSubmatch(full); m != nil || strings.Contains(full, ".func") {
				name := full
				if m != nil && m[1] != "" {
					name = m[1]
				}
				found = append(found, name)
				if _, ok := reviewed[name]; !ok {
					t.Errorf("%s (at %q) is a Go closure in the template: check that what it captures is immutable, then list it here", name, e.key)
				}
			}
		}
		for _, u := range e.ups {
			visit(u)
		}
	}
	for _, p := range tp.plans {
		for _, e := range slices.Concat(p.array, p.fields) {
			visit(e)
		}
	}
	assert.NotEmpty(t, found, "the walk finds the template's closures")
}
