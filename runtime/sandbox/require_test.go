package sandbox

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mapModules is a ModuleFinder over a map of module sources, counting the
// lookups of each name.
func mapModules(src map[string]string, finds map[string]int) ModuleFinder {
	return func(name string) (string, []byte, error) {
		if finds != nil {
			finds[name]++
		}
		s, ok := src[name]
		if !ok {
			return "", nil, fmt.Errorf("no lib/%s.lua: %w", name, fs.ErrNotExist)
		}
		return "lib/" + strings.ReplaceAll(name, ".", "/") + ".lua", []byte(s), nil
	}
}

func runWithModules(t *testing.T, code string, modules ModuleFinder, unsafe bool) error {
	t.Helper()
	L := New(Options{Modules: modules, Unsafe: unsafe})
	defer L.Close()
	return runChunk(context.Background(), L, "t.lua", []byte(code), 5*time.Second)
}

func TestRequireCachesPerState(t *testing.T) {
	t.Parallel()
	finds := map[string]int{}
	mods := mapModules(map[string]string{
		"counter": `runs = (runs or 0) + 1; return {n = runs, name = ...}`,
		"nothing": `runs_nothing = (runs_nothing or 0) + 1`,
	}, finds)
	code := `
local a = require("counter")
local b = require("counter")
assert(a == b, "the second require returns the cached table")
assert(runs == 1, "the module's top level ran " .. tostring(runs) .. " times")
assert(a.name == "counter", "the module gets its name as argument")
assert(require("nothing") == true and require("nothing") == true, "a module returning nil caches true")
assert(runs_nothing == 1)
`
	require.NoError(t, runWithModules(t, code, mods, false))
	assert.Equal(t, 1, finds["counter"], "the cache answers the second require without reading the module")

	// Another state runs the module again: the cache is per state.
	require.NoError(t, runWithModules(t, `assert(require("counter").n == 1)`, mods, false))
	assert.Equal(t, 2, finds["counter"])
}

func TestRequireErrors(t *testing.T) {
	t.Parallel()
	mods := mapModules(map[string]string{
		"a":      `return require("b")`,
		"b":      `return require("c")`,
		"c":      `return require("a")`,
		"self":   `return require("self")`,
		"syntax": "local x = 1\nlocal = 2\n",
		"boom":   "local x = 1\nerror('boom')\n",
		"deep":   strings.Repeat("(", MaxNesting+5) + "1" + strings.Repeat(")", MaxNesting+5),
	}, nil)
	cases := map[string]struct{ code, want string }{
		"cycle":        {`require("a")`, `require "a": require cycle: a -> b -> c -> a`},
		"self cycle":   {`require("self")`, `require cycle: self -> self`},
		"syntax":       {`require("syntax")`, `lib/syntax.lua:2: `},
		"runtime":      {`require("boom")`, `lib/boom.lua:2: boom`},
		"source limit": {`require("deep")`, `lib/deep.lua:1: `},
		"missing":      {`require("nope")`, `require "nope": no lib/nope.lua`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := runWithModules(t, c.code, mods, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	// The syntax error leads with the module's file:line.
	err := runWithModules(t, `require("syntax")`, mods, false)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "lib/syntax.lua:2:"), "%q", err)
}

// A module that failed is not cached: a later require tries again, and the
// cycle chain is clean after an error.
func TestRequireAfterFailure(t *testing.T) {
	t.Parallel()
	mods := mapModules(map[string]string{
		"flaky": `tries = (tries or 0) + 1; if tries == 1 then error("first") end; return tries`,
	}, nil)
	code := `
assert(not pcall(require, "flaky"))
assert(require("flaky") == 2, "the second require runs the module again")
`
	require.NoError(t, runWithModules(t, code, mods, false))
}

func TestRequireWithoutFinderRefusesFiles(t *testing.T) {
	t.Parallel()
	err := runWithModules(t, `require("x")`, nil, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loading modules from files is disabled")
}

func TestRequireUnsafeTriesLibFirst(t *testing.T) {
	t.Parallel()
	mods := mapModules(map[string]string{"util": `return 42`}, nil)
	require.NoError(t, runWithModules(t, `assert(require("util") == 42); assert(require("string") == string)`, mods, true))
}

// TestRequireLibraryNamesNeverLoadLib: a standard library's name is
// refused with an error naming lib/, even when lib/ has a module of that
// name, and under unsafe it is the library, never the lib/ module.
func TestRequireLibraryNamesNeverLoadLib(t *testing.T) {
	t.Parallel()
	finds := map[string]int{}
	mods := mapModules(map[string]string{"string": `return "shadow"`, "os": `return "shadow"`, "io": `return "shadow"`}, finds)
	for _, name := range []string{"string", "os", "io"} {
		err := runWithModules(t, `require("`+name+`")`, mods, false)
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "require loads modules of lib/ only", name)
	}
	require.NoError(t, runWithModules(t, `assert(require("string") == string and require("os") == os, "the libraries")
assert(type(require("io").open) == "function")`, mods, true))
	assert.Empty(t, finds, "lib/ is never asked for a library's name")
}
