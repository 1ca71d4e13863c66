package runtime

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime/sandbox"
)

// TestItem4TracebacksBounded: an endless tail call stopped at its deadline
// used to build a traceback of one line per call (gigabytes); every route
// that takes one is bounded now: the host's own call, pcall and xpcall in
// the script (whose handler runs after the deadline), and a coroutine.
func TestItem4TracebacksBounded(t *testing.T) {
	t.Parallel()
	for name, code := range map[string]string{
		"host call":   "local function f() return f() end\nf()",
		"pcall":       "local function f() return f() end\nlocal ok, err = pcall(f)\nerror(err, 0)",
		"xpcall":      "local function f() return f() end\nlocal ok, err = xpcall(f, function(e) return 'handled: ' .. tostring(e) end)\nerror(err, 0)",
		"coroutine":   "local function f() return f() end\nlocal co = coroutine.wrap(function() f() end)\nco()",
		"mutual tail": "local g\nlocal function f() return g() end\ng = function() return f() end\nf()",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := runSnippet(t, code, 200*time.Millisecond, false)
			require.Error(t, err)
			se, ok := err.(*scriptError)
			require.True(t, ok, "scriptError, got %T", err)
			assert.Contains(t, se.Msg, "t.lua:", "position: %q", se.Msg)
			assert.Contains(t, se.Msg, "stopped", "the deadline is named: %q", se.Msg)
			assert.LessOrEqual(t, len(se.Traceback), sandbox.TracebackBytes)
			assert.LessOrEqual(t, strings.Count(se.Traceback, "\n"), sandbox.TracebackFrames+2, se.Traceback)
		})
	}
}

// TestItem4DeepRecursionTraceback: a real deep stack keeps its innermost
// frames and its main chunk, within the bounds.
func TestItem4DeepRecursionTraceback(t *testing.T) {
	t.Parallel()
	err := runSnippet(t, "local function f(n) if n == 0 then error('bottom') end return 1 + f(n - 1) end\nf(150)", time.Second, false)
	require.Error(t, err)
	se := err.(*scriptError)
	assert.Equal(t, "t.lua:1: bottom", se.Msg)
	lines := strings.Split(se.Traceback, "\n")
	require.NotEmpty(t, lines)
	assert.Equal(t, "stack traceback:", lines[0])
	assert.Contains(t, se.Traceback, "\t...")
	assert.Contains(t, lines[len(lines)-1], "t.lua:2: in main chunk")
	assert.LessOrEqual(t, len(lines), sandbox.TracebackFrames+2)
}

// TestItem13ErrorValuesCarryPosition: whatever a script raises, the
// message names the file and line.
func TestItem13ErrorValuesCarryPosition(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, code, want string
	}{
		{"string", "error('boom')", "t.lua:1: boom"},
		{"level 0", "\nerror('boom', 0)", "t.lua:2: boom"},
		{"a positioned value gets no second position", "error('elsewhere.lua:7: up', 0)", "elsewhere.lua:7: up"},
		{"nil", "error(nil)", "t.lua:1: error object is nil"},
		{"no value", "error()", "t.lua:1: error object is nil"},
		{"number", "error(42)", "t.lua:1: 42"},
		{"table", "error({})", "t.lua:1: error object is a table value"},
		{"table of fields", `error({message = "disk full", code = 3, fatal = true, details = {}})`,
			`t.lua:1: error object is a table value: {message = "disk full", code = 3, fatal = true, details = <table>}`},
		{"table of many fields", `local e = {} for i = 1, 20 do e["k" .. i] = i end error(e)`,
			`t.lua:1: error object is a table value: {k1 = 1, k2 = 2, k3 = 3, k4 = 4, k5 = 5, k6 = 6, k7 = 7, k8 = 8, ...}`},
		{"array and odd keys", `error({"first", [true] = 1, [print] = 2})`,
			`t.lua:1: error object is a table value: {[1] = "first", [true] = 1, [<function>] = 2}`},
		{"a long field is clipped", `error({message = string.rep("é", 300)})`,
			`t.lua:1: error object is a table value: {message = "` + strings.Repeat("é", 100) + `..."}`},
		{"no metamethod runs", `error(setmetatable({a = 1}, {__index = function() error("ran") end, __pairs = function() error("ran") end}))`,
			`t.lua:1: error object is a table value: {a = 1}`},
		{"boolean", "error(true)", "t.lua:1: error object is a boolean value"},
		{"function", "error(print)", "t.lua:1: error object is a function value"},
		{"__tostring", "error(setmetatable({}, {__tostring = function() return 'custom' end}))", "t.lua:1: custom"},
		{"__tostring fails", "error(setmetatable({}, {__tostring = function() error('inner') end}))",
			"t.lua:1: error object is a table value (its __tostring failed: t.lua:1: inner)"},
		{"__tostring not a string", "error(setmetatable({}, {__tostring = function() return {} end}))",
			"t.lua:1: error object is a table value (its __tostring returned no string)"},
		{"__tostring loops", "error(setmetatable({}, {__tostring = function() while true do end end}))",
			"t.lua:1: error object is a table value (its __tostring did not finish before the deadline)"},
		{"in a handler of a nested function", "local t = {}\nfunction t.go() error({}) end\nt.go()", "t.lua:2: error object is a table value"},
		{"runtime error", "local x = nil\nreturn x.y", "t.lua:2: attempt to index a non-table object(nil) with key 'y'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := runSnippet(t, tc.code, 200*time.Millisecond, false)
			require.Error(t, err)
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// TestItem13HugeErrorTextTruncated: an error value of megabytes does not
// become a log line of megabytes.
func TestItem13HugeErrorTextTruncated(t *testing.T) {
	t.Parallel()
	err := runSnippet(t, "error(string.rep('x', 1000000))", time.Second, false)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 5<<10)
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:1: xxx"), err.Error()[:20])
	assert.True(t, strings.HasSuffix(err.Error(), "(truncated)"))
}
