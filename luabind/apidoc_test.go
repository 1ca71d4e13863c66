package luabind

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// boundNames walks the rc table of a real state and the method tables of
// its messages, rc.re objects and handles: every function and value bound,
// by the names APIDoc uses ("rc.chat.react", "rc.Re:match", "print").
func boundNames(t *testing.T) map[string]string {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	h := &recordingHost{}
	newFake().module().Open(L, h)
	out := map[string]string{} // name -> "function" or the value's type
	var walk func(prefix string, tb *lua.LTable)
	walk = func(prefix string, tb *lua.LTable) {
		tb.ForEach(func(k, v lua.LValue) {
			name := prefix + k.String()
			if sub, ok := v.(*lua.LTable); ok {
				if mt, ok := sub.Metatable.(*lua.LTable); ok && mt.RawGetString("__index").Type() == lua.LTTable {
					out[name] = "table" // data behind a proxy, not a namespace
					return
				}
				walk(name+".", sub)
				return
			}
			out[name] = v.Type().String()
		})
	}
	rcT := L.GetGlobal("rc").(*lua.LTable)
	walk("rc.", rcT)
	for _, k := range ComputedFields() { // made at each read (rc.config)
		out["rc."+k] = L.GetField(rcT, k).Type().String()
	}
	require.Equal(t, lua.LTFunction, L.GetGlobal("print").Type())
	out["print"] = "function"
	require.Equal(t, lua.LTFunction, L.GetGlobal("require").Type()) // the sandbox's lib/ loader in a script's state
	out["require"] = "function"

	methods := func(class string, v lua.LValue) {
		var mt *lua.LTable
		switch v := v.(type) {
		case *lua.LUserData:
			mt, _ = v.Metatable.(*lua.LTable)
		case *lua.LTable:
			mt, _ = v.Metatable.(*lua.LTable)
		}
		require.NotNil(t, mt, "%s has a metatable", class)
		idx, ok := mt.RawGetString("__index").(*lua.LTable)
		require.True(t, ok, "%s's methods are an __index table", class)
		idx.ForEach(func(k, v lua.LValue) { out[class+":"+k.String()] = v.Type().String() })
	}
	require.NoError(t, L.DoString(`re_obj = rc.re.compile("x"); handle_obj = rc.every("5m", function() end)`))
	methods("rc.Re", L.GetGlobal("re_obj"))
	methods("rc.Handle", L.GetGlobal("handle_obj"))
	args, err := EventArgs(L, "message", "created", []byte(`{"_id":"m","rid":"r","msg":"x"}`))
	require.NoError(t, err)
	methods("rc.Message", args[0])
	return out
}

// TestAPIDocMatchesBindings: every function bound is described, and
// nothing described is not bound (functions as functions, values with
// their type); classes named in types exist.
func TestAPIDocMatchesBindings(t *testing.T) {
	t.Parallel()
	bound := boundNames(t)
	described := map[string]APIEntry{}
	classes := map[string]bool{}
	for _, e := range APIDoc() {
		require.NotContains(t, described, e.Name, "described twice")
		described[e.Name] = e
		if e.Class {
			classes[e.Name] = true
		}
	}
	var missing []string
	for name, typ := range bound {
		e, ok := described[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if typ == "function" {
			assert.Empty(t, e.Type, "%s is a function", name)
		} else {
			assert.NotEmpty(t, e.Type, "%s is a %s value, not a function", name, typ)
		}
		assert.NotEmpty(t, e.Doc, "%s has a line of doc", name)
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "bound but not in APIDoc (luabind/apidoc.go)")
	for name, e := range described {
		if e.Class {
			continue
		}
		assert.Contains(t, bound, name, "APIDoc describes %s, which is not bound", name)
		if class, _, ok := strings.Cut(name, ":"); ok {
			assert.True(t, classes[class], "%s's class is described", name)
		}
	}
}

// TestAPIDocIsTheReference: the reference block of this package's doc
// (which the README copies) is the Ref lines of APIDoc, in order.
func TestAPIDocIsTheReference(t *testing.T) {
	t.Parallel()
	var refs []string
	for _, e := range APIDoc() {
		if e.Ref != "" {
			refs = append(refs, e.Ref)
		}
	}
	block, err := luabindAPIBlock()
	require.NoError(t, err)
	assert.Equal(t, normalizeSpace(strings.Join(refs, "\n")), normalizeSpace(block),
		"luabind's doc block and APIDoc's Ref lines differ; the block should read:\n%s", strings.Join(refs, "\n"))
}

// TestDefinitions: the LuaLS file has every described function with its
// parameters and results, every class, and compiles as Lua.
func TestDefinitions(t *testing.T) {
	t.Parallel()
	defs := Definitions("written by a test")
	assert.True(t, strings.HasPrefix(defs, "---@meta\n-- written by a test\n"))
	for _, want := range []string{
		"---@class rc.Subscription\n", "---@class rc.Message\n", "---@class rc.Error\n", "---@class rc.Handle\n", "---@class rc.Re\n",
		"---@field userMentions? integer\n",
		"---@param room_id string\n---@return rc.Subscription|nil sub\n---@return rc.Error|nil err\nfunction rc.subscriptions.get_one(room_id) end\n",
		"---@param opts? {read_threads?: boolean}\n",
		"function rc_Message:reply(reply) end\n",
		"function rc_Handle:stop() end\n",
		"---@type userdata\nrc.json.null = nil\n",
		"---@class rc.subscriptions\nrc.subscriptions = {}\n", "---@class rc.store\nrc.store = {}\n", "---@class rc\nrc = {}\n",
		"function print(...) end\n",
		// rc.on's handler is typed by event: msg:reply completes in rc.on("message", ...).
		"---@overload fun(event: \"message\", fn: fun(msg: rc.Message, action: \"created\"|\"updated\")): rc.Handle\nfunction rc.on(event, fn) end\n",
	} {
		assert.Contains(t, defs, want)
	}
	for _, e := range APIDoc() {
		if !e.Class && e.Type == "" {
			name := e.Name
			if class, method, ok := strings.Cut(name, ":"); ok {
				name = strings.ReplaceAll(class, ".", "_") + ":" + method
			}
			assert.Contains(t, defs, "function "+name+"(", "%s is declared", e.Name)
		}
	}
	L := lua.NewState()
	defer L.Close()
	require.NoError(t, L.DoString(defs), "the definition file is valid Lua")
}
