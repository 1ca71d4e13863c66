// Package lint is the static half of rclua check: it walks a script's
// syntax tree (gopher-lua's parser) without running it, so that mistakes
// in handlers, which the load never runs, are found before the daemon
// meets them on every event.
//
// It reports these kinds of finding, each one "file:line: message" line:
//
//   - rc-path: an rc.<...> path that does not exist, anywhere in the file
//     (handlers too), with the strict tables' message and "did you mean"
//     ("rc.subscriptions.raed does not exist (did you mean
//     rc.subscriptions.read? ...)"). Paths are followed through rc itself
//     and through locals given an rc table or function (local s =
//     rc.subscriptions; s.raed()), and through method calls on them
//     (rc.chat:nope()). A key a script assigns (rc.helpers = {}, function
//     rc.x() end) exists from there on. Not followed: a computed key
//     (rc[name]), values passed around (a parameter, a table field, a
//     function's result), methods on values (re:match, handle:stop: they
//     are not rc paths; a message's are checked below).
//   - undefined-global: a global read that no statement of the file
//     assigns (x = ..., function x() end, _G.x = ...), nor of a module it
//     requires by a constant name (CheckModules), and that is not one
//     of the sandbox's globals (taken from a real state, rc included), with
//     "did you mean" among the locals in scope and the globals: a typo of
//     a local is the commonest bug in Lua.
//   - trigger-arg: a constant first argument of rc.every or rc.cron (a
//     string or number literal) that they refuse, checked with luabind's
//     own parsers (luabind.ParseInterval, luabind.ParseCron) and reported
//     with their message.
//   - library-field: a field of a standard library table (string,
//     table, math, os, ...) that the sandbox's has not, or of a withheld
//     one (io, debug, package: "disabled in the sandbox"); a field the
//     file assigns, and a test of whether a field exists (a condition, an
//     operand of and, or, not, a comparison with nil: for rc paths too),
//     are not findings.
//   - call-arg: a literal argument of an rc function or a message's
//     method that its parameter, as luabind.APIDoc documents it, does not
//     take (its kind, an unknown key of a literal options table or a
//     literal option of a kind it does not take, a constant option its
//     parser refuses: rc.store.set's ttl, rc.subscriptions.get's
//     updated_since), or one past
//     the last (not for methods, which ignore it) (args.go).
//   - message: in a handler of rc.hear, rc.respond or rc.on("message"),
//     where the first parameter is the message (until it is assigned), a
//     method call on it that a message has not (msg:replly), and a read
//     of a field another bot's message has but Rocket.Chat's never
//     (Hubot's msg.text: the text is msg.msg), which is nil.
//   - endpoint: a constant first argument of rc.get or rc.post that they
//     refuse (luabind.CheckEndpoint: a path, a query, an endpoint that
//     would end the daemon's own session).
//   - config-write: an assignment through rc.config itself
//     (rc.config.owner = x, rc.config.rooms[1] = x): each read of rc.config
//     is a fresh copy of the settings, so the assignment changes a copy
//     that is gone at once. Through a local holding a copy
//     (local c = rc.config; c.x = c.x or 1) the local keeps the change:
//     not a finding.
//   - trigger-in-handler: a trigger registration (rc.on, rc.every,
//     rc.cron, rc.hear, rc.respond) inside a function literal given to
//     one: handlers run after the load, when registering raises.
//
// The last two read a handler passed by name as well (local function
// on_ping(msg) ... end; rc.hear("^!ping", on_ping)): a local function, or
// a global one the file defines once; not a table's field (M.on_ping),
// nor a function a call returns.
//
// A comment "-- rclua: ignore WHAT" on a line silences that line's
// findings named by WHAT: one or more kind names (rc-path,
// undefined-global, trigger-arg, config-write, trigger-in-handler,
// message, ...) or names (the global's name, or the rc
// path as reported: rc.subscriptions.raed), separated by spaces or commas;
// with no WHAT it silences every finding on the line.
package lint

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"github.com/rclua/rclua/luabind"
)

// The kinds of finding, also the names a "-- rclua: ignore" comment takes.
const (
	KindRCPath      = "rc-path"
	KindGlobal      = "undefined-global"
	KindTriggerArg  = "trigger-arg"
	KindConfigWrite = "config-write"
	KindLateTrigger = "trigger-in-handler"
	KindEndpoint    = "endpoint"
	KindLibrary     = "library-field"
	KindCallArg     = "call-arg"
	KindMessage     = "message"
)

// Kinds lists every kind of finding, in the order the help names them.
var Kinds = []string{KindRCPath, KindGlobal, KindLibrary, KindCallArg, KindMessage,
	KindTriggerArg, KindEndpoint, KindConfigWrite, KindLateTrigger}

// triggerFuncs are the rc functions that register a trigger: only the
// load (a script's top level) may call them.
var triggerFuncs = map[string]bool{"rc.on": true, "rc.every": true, "rc.cron": true, "rc.hear": true, "rc.respond": true}

// Finding is one problem found in a script.
type Finding struct {
	Line    int
	Kind    string // one of the Kind constants
	Name    string // the global's name, or the rc path ("rc.chat.x"); "" for a trigger argument
	Message string // without file and line
}

// API is what a script may use: the sandbox's globals and the rc table,
// read once from a real state (FromState) and shared by any number of
// Check calls.
type API struct {
	globals  map[string]bool
	names    []string         // the globals, sorted, for "did you mean"
	rc       *node            // nil when the state has no rc table
	libs     map[string]*node // the other global tables: string, table, os, io, ...
	minEvery time.Duration
}

// node is a value of the rc table: a table with its keys, or another value
// (a function, rc.json.null), whose fields are not followed.
type node struct {
	path     string
	children map[string]*node // nil for a value that is not a table
	keys     []string
	data     bool // rc.config or a value below it: the settings, read-only
	// disabled is set for a library table whose every other key raises
	// "<lib>.<key> is disabled in the sandbox" (os, io, debug, package).
	disabled bool
	// class is set for a value of an rc class whose methods are known
	// (rc.Message: a handler's msg, path its parameter's name); its
	// fields are the server's, not followed, but for the ones the script
	// writes (written).
	class   string
	written map[string]bool
}

// FromState reads the globals of L (a state built as scripts get it:
// sandbox.New and the rc module opened) and walks its rc table; minEvery
// is the shortest rc.every interval the daemon accepts.
func FromState(L *lua.LState, minEvery time.Duration) *API {
	a := &API{globals: map[string]bool{}, libs: map[string]*node{}, minEvery: minEvery}
	g := L.G.Global
	for k, v := g.Next(lua.LNil); k != lua.LNil; k, v = g.Next(k) {
		if s, ok := k.(lua.LString); ok {
			a.globals[string(s)] = true
			a.names = append(a.names, string(s))
			if tb, ok := v.(*lua.LTable); ok && s != "rc" && s != "_G" {
				n := walk(string(s), tb, map[*lua.LTable]bool{})
				if mt, ok := tb.Metatable.(*lua.LTable); ok {
					_, n.disabled = mt.RawGetString("__index").(*lua.LFunction)
				}
				// string.__index is metatable plumbing: not listed as a field.
				n.keys = slices.DeleteFunc(n.keys, func(k string) bool { return strings.HasPrefix(k, "__") })
				a.libs[string(s)] = n
			}
		}
	}
	sort.Strings(a.names)
	if tb, ok := g.RawGetString("rc").(*lua.LTable); ok {
		a.rc = walk("rc", tb, map[*lua.LTable]bool{})
		for _, k := range luabind.ComputedFields() { // rc.config: made at each read, data
			if _, ok := a.rc.children[k]; !ok {
				a.rc.children[k] = &node{path: "rc." + k, data: true}
				a.rc.keys = append(a.rc.keys, k)
			}
		}
		sort.Strings(a.rc.keys)
	}
	return a
}

// walk builds the node of tb, called path, with raw reads only (the
// strict tables' __index is never consulted).
func walk(path string, tb *lua.LTable, seen map[*lua.LTable]bool) *node {
	n := &node{path: path, children: map[string]*node{}}
	seen[tb] = true
	for k, v := tb.Next(lua.LNil); k != lua.LNil; k, v = tb.Next(k) {
		s, ok := k.(lua.LString)
		if !ok {
			continue
		}
		child := &node{path: path + "." + string(s)}
		if sub, ok := v.(*lua.LTable); ok && !seen[sub] {
			child = walk(child.path, sub, seen)
		}
		n.children[string(s)] = child
		n.keys = append(n.keys, string(s))
	}
	sort.Strings(n.keys)
	return n
}

// Paths returns every rc path of the API ("rc", "rc.chat",
// "rc.chat.post_message", ...), sorted.
func (a *API) Paths() []string {
	var out []string
	var visit func(n *node)
	visit = func(n *node) {
		out = append(out, n.path)
		for _, k := range n.keys {
			visit(n.children[k])
		}
	}
	if a.rc != nil {
		visit(a.rc)
	}
	return out
}

// Check parses src, the script called name, and returns its findings in
// line order, without those its ignore comments silence. A source that
// does not parse is an error (rclua check reports the compiler's).
func (a *API) Check(name string, src []byte) ([]Finding, error) {
	return a.CheckModules(name, src, nil)
}

// ModuleSource returns the source of the module that require(name) loads,
// or false when there is none (or it cannot be read).
type ModuleSource func(name string) ([]byte, bool)

// CheckModules is Check, with the globals that the modules src requires
// assign counted as defined: the modules named by a constant string
// (require("util")), and those they require in turn, their sources given
// by find. A module that does not parse defines nothing here.
func (a *API) CheckModules(name string, src []byte, find ModuleSource) ([]Finding, error) {
	stmts, err := parse.Parse(strings.NewReader(string(src)), name)
	if err != nil {
		return nil, fmt.Errorf("lint: %s: %w", name, err)
	}
	c := a.newChecker()
	c.block(stmts, newScope(nil))
	c.followNamed()
	if find != nil {
		c.addModuleGlobals(find)
	}
	for _, f := range c.libMisses {
		if c.added[f.Name] == nil {
			c.findings = append(c.findings, f)
		}
	}
	for _, r := range c.reads {
		if c.defined[r.name] {
			continue
		}
		msg := "undefined global " + r.name
		names := slices.Concat(r.locals, a.names, sortedKeys(c.defined))
		if near := luabind.Suggest(r.name, names); near != "" {
			msg += " (did you mean " + near + "?)"
		}
		c.findings = append(c.findings, Finding{Line: r.line, Kind: KindGlobal, Name: r.name, Message: msg})
	}
	ignores := ignoreComments(src)
	out := c.findings[:0]
	for _, f := range c.findings {
		if !ignores.silences(f) {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out, nil
}

// Requires returns the modules that src, the script (or module) called
// name, requires by a constant name (require("util"), anywhere in it,
// handlers included), and those they require in turn, their sources given
// by find (nil: none followed), as CheckModules reads them: a module that
// does not parse requires nothing here, and a name computed at run time
// (require(prefix .. x)) is not seen. A source that does not parse is an
// error.
func Requires(name string, src []byte, find ModuleSource) (map[string]bool, error) {
	stmts, err := parse.Parse(strings.NewReader(string(src)), name)
	if err != nil {
		return nil, fmt.Errorf("lint: %s: %w", name, err)
	}
	c := (&API{}).newChecker() // only the requires are read: no rc paths, no globals
	c.block(stmts, newScope(nil))
	return c.walkModules(find, nil), nil
}

func (a *API) newChecker() *checker {
	return &checker{api: a, defined: map[string]bool{}, added: map[string]*node{}, requires: map[string]bool{}, funcs: map[string]*function{}}
}

// addModuleGlobals counts as defined the globals assigned by the modules
// c's file requires, transitively.
func (c *checker) addModuleGlobals(find ModuleSource) {
	c.walkModules(find, func(mc *checker) {
		for g := range mc.defined {
			c.defined[g] = true
		}
		for p, n := range mc.added { // string.startswith = ...: a field of a shared library table
			if c.added[p] == nil {
				c.added[p] = n
			}
		}
	})
}

// walkModules visits the modules c's source requires by a constant name,
// and those they require in turn, each once, their sources given by find
// (nil: none followed): visit (may be nil) gets the checker of each one
// found that parses. It returns every module name met.
func (c *checker) walkModules(find ModuleSource, visit func(mc *checker)) map[string]bool {
	seen := map[string]bool{}
	queue := sortedKeys(c.requires)
	for len(queue) > 0 {
		mod := queue[0]
		queue = queue[1:]
		if seen[mod] {
			continue
		}
		seen[mod] = true
		if find == nil {
			continue
		}
		src, ok := find(mod)
		if !ok {
			continue
		}
		stmts, err := parse.Parse(strings.NewReader(string(src)), mod)
		if err != nil {
			continue
		}
		mc := c.api.newChecker()
		mc.block(stmts, newScope(nil))
		if visit != nil {
			visit(mc)
		}
		queue = append(queue, sortedKeys(mc.requires)...)
	}
	return seen
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// scope is one block's locals; a local's node is the rc value it was
// given at its declaration (nil: not an rc value, or assigned again).
type scope struct {
	parent *scope
	vars   map[string]*local
}

type local struct {
	node *node
	fn   *function // the function it was declared with, until assigned again
}

// function is a function literal and the scope it was written in: a
// handler passed by name is walked again as a handler (followNamed).
type function struct {
	expr  *ast.FunctionExpr
	scope *scope
}

// namedHandler is a trigger registration whose handler is a name (rc.hear
// ("^!ping", on_ping)), followed once the whole file is walked: a local's
// function as it was when registered, a global's as the file defines it.
type namedHandler struct {
	name    string
	fn      *function // a local's function, as it is at the registration
	trigger string
	args    []ast.Expr
}

func newScope(parent *scope) *scope { return &scope{parent: parent, vars: map[string]*local{}} }

func (s *scope) lookup(name string) *local {
	for ; s != nil; s = s.parent {
		if l, ok := s.vars[name]; ok {
			return l
		}
	}
	return nil
}

// visible lists the locals in scope, innermost first.
func (s *scope) visible() []string {
	var out []string
	for ; s != nil; s = s.parent {
		for k := range s.vars {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// globalRead is a read of a global that the sandbox does not define: a
// finding unless the file assigns it somewhere.
type globalRead struct {
	name   string
	line   int
	locals []string
}

type checker struct {
	api       *API
	libMisses []Finding        // library-field findings, unless a required module adds the field
	probing   bool             // walking a test of whether a field exists (probe)
	defined   map[string]bool  // globals the file assigns
	added     map[string]*node // rc paths the file assigns
	reads     []globalRead
	findings  []Finding
	requires  map[string]bool      // modules required by a constant name
	handler   string               // the trigger whose handler is being walked ("": none)
	funcs     map[string]*function // global functions the file defines once (nil: more than once)
	named     []namedHandler
}

func (c *checker) block(stmts []ast.Stmt, s *scope) {
	for _, st := range stmts {
		c.stmt(st, s)
	}
}

func (c *checker) stmt(st ast.Stmt, s *scope) {
	switch st := st.(type) {
	case *ast.AssignStmt:
		for _, e := range st.Rhs {
			c.expr(e, s)
		}
		for _, e := range st.Lhs {
			c.assign(e, s)
		}
		if len(st.Lhs) == 1 && len(st.Rhs) == 1 { // f = function(msg) ... end
			if fn, ok := st.Rhs[0].(*ast.FunctionExpr); ok {
				c.defineFunc(st.Lhs[0], &function{fn, s}, s)
			}
		}
	case *ast.LocalAssignStmt:
		if len(st.Names) == 1 && len(st.Exprs) == 1 {
			if fn, ok := st.Exprs[0].(*ast.FunctionExpr); ok { // local function f: f is in scope in its body
				s.vars[st.Names[0]] = &local{fn: &function{fn, s}}
				c.function(fn, s)
				return
			}
		}
		nodes := make([]*node, len(st.Exprs))
		for i, e := range st.Exprs {
			nodes[i] = c.expr(e, s)
		}
		for i, name := range st.Names {
			l := &local{}
			if i < len(nodes) {
				l.node = nodes[i]
			}
			s.vars[name] = l
		}
	case *ast.FuncCallStmt:
		c.expr(st.Expr, s)
	case *ast.DoBlockStmt:
		c.block(st.Stmts, newScope(s))
	case *ast.WhileStmt:
		c.probe(st.Condition, s)
		c.block(st.Stmts, newScope(s))
	case *ast.RepeatStmt:
		inner := newScope(s) // the condition sees the body's locals
		c.block(st.Stmts, inner)
		c.expr(st.Condition, inner)
	case *ast.IfStmt:
		c.probe(st.Condition, s)
		c.block(st.Then, newScope(s))
		c.block(st.Else, newScope(s))
	case *ast.NumberForStmt:
		c.expr(st.Init, s)
		c.expr(st.Limit, s)
		if st.Step != nil {
			c.expr(st.Step, s)
		}
		inner := newScope(s)
		inner.vars[st.Name] = &local{}
		c.block(st.Stmts, inner)
	case *ast.GenericForStmt:
		for _, e := range st.Exprs {
			c.expr(e, s)
		}
		inner := newScope(s)
		for _, name := range st.Names {
			inner.vars[name] = &local{}
		}
		c.block(st.Stmts, inner)
	case *ast.FuncDefStmt:
		if st.Name.Receiver != nil { // function a.b:m() end
			if n := c.expr(st.Name.Receiver, s); n != nil && n.children != nil {
				c.define(n, st.Name.Method)
			}
			c.function(st.Func, s, "self") // the method's implicit first parameter
			return
		}
		c.assign(st.Name.Func, s)
		c.defineFunc(st.Name.Func, &function{st.Func, s}, s)
		c.function(st.Func, s)
	case *ast.ReturnStmt:
		for _, e := range st.Exprs {
			c.expr(e, s)
		}
	}
}

// assign walks e as the target of an assignment.
func (c *checker) assign(e ast.Expr, s *scope) {
	switch e := e.(type) {
	case *ast.IdentExpr:
		if l := s.lookup(e.Value); l != nil {
			l.node, l.fn = nil, nil // no longer known to be an rc value, nor that function
			return
		}
		c.defined[e.Value] = true
	case *ast.AttrGetExpr:
		obj := c.expr(e.Object, s)
		key, isConst := e.Key.(*ast.StringExpr)
		// A write through rc.config itself changes a copy that is gone at
		// once; through a local holding a copy, the local keeps it (a
		// default filled in): only the first is a finding.
		direct := obj != nil && obj.data && rootedAtRC(e.Object, s)
		if !isConst {
			c.expr(e.Key, s)
			if direct {
				c.readOnly(obj.path+"[...]", e.Line())
			}
			return
		}
		if direct {
			c.readOnly(obj.path+"."+key.Value, e.Line())
			return
		}
		if id, ok := e.Object.(*ast.IdentExpr); ok && id.Value == "_G" && s.lookup("_G") == nil {
			c.defined[key.Value] = true
		}
		if obj != nil && obj.children != nil {
			c.define(obj, key.Value)
		}
		if obj != nil && obj.class != "" {
			obj.written[key.Value] = true // the script's own field from here on
		}
	default:
		c.expr(e, s)
	}
}

// defineFunc records that the assignment to target gives it fn: a local
// declared before, or a global (one defined twice is not followed).
func (c *checker) defineFunc(target ast.Expr, fn *function, s *scope) {
	id, ok := target.(*ast.IdentExpr)
	if !ok {
		return
	}
	if l := s.lookup(id.Value); l != nil {
		l.fn = fn
		return
	}
	if _, twice := c.funcs[id.Value]; twice {
		c.funcs[id.Value] = nil
		return
	}
	c.funcs[id.Value] = fn
}

// followNamed walks, as handlers, the functions that registrations name
// (rc.hear("^!ping", on_ping)): their bodies were walked where they are
// defined, so only what being a handler adds is kept (the message checks,
// trigger-in-handler), once however many triggers name them.
func (c *checker) followNamed() {
	seen := make(map[Finding]bool, len(c.findings))
	for _, f := range c.findings {
		seen[f] = true
	}
	reads, libMisses := len(c.reads), len(c.libMisses)
	for _, h := range c.named {
		fn := h.fn
		if h.name != "" { // a global: defined anywhere in the file
			fn = c.funcs[h.name]
		}
		if fn == nil {
			continue
		}
		mark := len(c.findings)
		c.handler = h.trigger
		c.handlerFunc(fn.expr, fn.scope, h.trigger, h.args)
		c.handler = ""
		kept := c.findings[:mark]
		for _, f := range c.findings[mark:] {
			if !seen[f] {
				seen[f] = true
				kept = append(kept, f)
			}
		}
		c.findings = kept
	}
	c.reads, c.libMisses = c.reads[:reads], c.libMisses[:libMisses]
}

// rootedAtRC reports whether e reads the global rc itself (rc.config,
// rc.config.rooms, ...), not a local.
func rootedAtRC(e ast.Expr, s *scope) bool {
	for {
		switch x := e.(type) {
		case *ast.AttrGetExpr:
			e = x.Object
		case *ast.IdentExpr:
			return x.Value == "rc" && s.lookup("rc") == nil
		default:
			return false
		}
	}
}

// define records that the file gives the rc table n a key.
func (c *checker) define(n *node, key string) {
	path := n.path + "." + key
	if _, ok := n.children[key]; !ok && c.added[path] == nil {
		c.added[path] = &node{path: path}
	}
}

// child returns n's key, or nil when neither the API nor the file has it.
func (c *checker) child(n *node, key string) *node {
	if ch, ok := n.children[key]; ok {
		return ch
	}
	return c.added[n.path+"."+key]
}

// function walks fn's body in a scope of its parameters, implicit ones
// (a method's self) first.
func (c *checker) function(fn *ast.FunctionExpr, s *scope, implicit ...string) {
	inner := newScope(s)
	for _, name := range implicit {
		inner.vars[name] = &local{}
	}
	for _, name := range fn.ParList.Names {
		inner.vars[name] = &local{}
	}
	c.block(fn.Stmts, inner)
}

// handlerFunc walks f, written in scope s, as the handler of the trigger
// registered with args.
func (c *checker) handlerFunc(f *ast.FunctionExpr, s *scope, trigger string, args []ast.Expr) {
	if first := handlerArg(trigger, args); first != nil && len(f.ParList.Names) > 0 {
		first.path = f.ParList.Names[0] // as the script calls it: m:replly
		c.handlerParams(f, s, first)
		return
	}
	c.function(f, s)
}

// handlerParams walks a handler literal whose first parameter is first.
func (c *checker) handlerParams(fn *ast.FunctionExpr, s *scope, first *node) {
	inner := newScope(s)
	for i, name := range fn.ParList.Names {
		inner.vars[name] = &local{}
		if i == 0 {
			inner.vars[name].node = first
		}
	}
	c.block(fn.Stmts, inner)
}

// messageClass is the class of the msg a message handler gets.
const messageClass = "rc.Message"

// handlerArg returns the value the first parameter of a handler of the
// trigger fn, called with args, is known to be: the message for rc.hear,
// rc.respond and rc.on("message"); nil when not known.
func handlerArg(fn string, args []ast.Expr) *node {
	switch fn {
	case "rc.hear", "rc.respond":
	case "rc.on":
		if ev, ok := args[0].(*ast.StringExpr); !ok || ev.Value != "message" {
			return nil
		}
	default:
		return nil
	}
	return &node{path: "msg", class: messageClass, written: map[string]bool{}}
}

// hubotFields are the fields of another bot's message object that a
// Rocket.Chat message has not, with what holds the same.
var hubotFields = map[string]string{
	"text":    "%[1]s.msg",
	"message": "%[1]s.msg (the text), %[1]s.u (the sender)",
	"user":    "%[1]s.u (%[1]s.u.username, %[1]s.u._id)",
	"room":    "%[1]s.rid (the room's id)",
}

// messageField reports a read of a field a message never has that
// another bot's message object has (Hubot's msg.text): it is nil.
func (c *checker) messageField(msg *node, e *ast.AttrGetExpr, key *ast.StringExpr) {
	if use, ok := hubotFields[key.Value]; ok && !msg.written[key.Value] {
		c.findings = append(c.findings, Finding{Line: lineOf(e.Key, e), Kind: KindMessage, Name: msg.path + "." + key.Value,
			Message: fmt.Sprintf("a Rocket.Chat message has no field %q (it is nil): use %s", key.Value, fmt.Sprintf(use, msg.path))})
	}
}

// method checks a method call on a value of an rc class: the method
// exists, and its literal arguments are ones it takes.
func (c *checker) method(recv *node, call *ast.FuncCallExpr) {
	name := recv.class + ":" + call.Method
	if _, ok := callSpecs[name]; ok {
		c.callArgs(name, call)
		return
	}
	methods := classMethods[recv.class]
	msg := fmt.Sprintf("%s:%s: a message has no method %s (its methods: %s)", recv.path, call.Method, call.Method, strings.Join(methods, ", "))
	if near := luabind.Suggest(call.Method, methods); near != "" {
		msg = fmt.Sprintf("%s:%s: a message has no method %s (did you mean %s:%s?)", recv.path, call.Method, call.Method, recv.path, near)
	}
	c.findings = append(c.findings, Finding{Line: call.Line(), Kind: KindMessage, Name: recv.path + ":" + call.Method, Message: msg})
}

// probe walks e where a missing field is a test of whether it exists (a
// condition, an operand of and, or, not, a comparison with nil, the
// argument of type): when e is a field read
// itself, its absence is no finding (the rest of e is walked as usual).
func (c *checker) probe(e ast.Expr, s *scope) *node {
	if _, ok := e.(*ast.AttrGetExpr); !ok || c.probing {
		return c.expr(e, s)
	}
	c.probing = true
	defer func() { c.probing = false }()
	return c.expr(e, s)
}

// expr walks e and returns the rc value it denotes, or nil.
func (c *checker) expr(e ast.Expr, s *scope) *node {
	switch e := e.(type) {
	case *ast.IdentExpr:
		if l := s.lookup(e.Value); l != nil {
			return l.node
		}
		if e.Value == "rc" && c.api.rc != nil && c.api.globals["rc"] {
			return c.api.rc
		}
		if n := c.api.libs[e.Value]; n != nil {
			return n
		}
		if !c.api.globals[e.Value] {
			c.reads = append(c.reads, globalRead{name: e.Value, line: e.Line(), locals: s.visible()})
		}
	case *ast.AttrGetExpr:
		obj := c.expr(e.Object, s)
		key, isConst := e.Key.(*ast.StringExpr)
		if !isConst {
			c.expr(e.Key, s)
			return nil
		}
		if obj != nil && obj.data {
			return &node{path: obj.path + "." + key.Value, data: true}
		}
		if obj != nil && obj.class == messageClass {
			c.messageField(obj, e, key)
			return nil
		}
		if obj == nil || obj.children == nil {
			return nil
		}
		if ch := c.child(obj, key.Value); ch != nil {
			return ch
		}
		c.missing(obj, key.Value, lineOf(e.Key, e))
	case *ast.FuncCallExpr:
		var fn *node
		if e.Receiver != nil {
			recv := c.expr(e.Receiver, s)
			switch {
			case recv != nil && recv.class != "":
				c.method(recv, e)
			case recv != nil && recv.children != nil && c.child(recv, e.Method) == nil:
				c.missing(recv, e.Method, e.Line())
			}
		} else {
			fn = c.expr(e.Func, s)
			if id, ok := e.Func.(*ast.IdentExpr); ok && id.Value == "type" && s.lookup("type") == nil && len(e.Args) == 1 {
				c.probe(e.Args[0], s) // type(table.unpack) == "function": a test of whether it exists
				return nil
			}
			if id, ok := e.Func.(*ast.IdentExpr); ok && id.Value == "require" && s.lookup("require") == nil && len(e.Args) > 0 {
				if mod, ok := e.Args[0].(*ast.StringExpr); ok {
					c.requires[mod.Value] = true
				}
			}
		}
		isTrigger := fn != nil && triggerFuncs[fn.path]
		if isTrigger && c.handler != "" {
			c.findings = append(c.findings, Finding{
				Line: e.Line(), Kind: KindLateTrigger, Name: fn.path,
				Message: fmt.Sprintf("%s in a handler of %s: triggers are registered only while the script loads (its top level); this call would raise each time the handler runs", fn.path, c.handler),
			})
		}
		for _, arg := range e.Args {
			if f, ok := arg.(*ast.FunctionExpr); ok && isTrigger && c.handler == "" {
				c.handler = fn.path
				c.handlerFunc(f, s, fn.path, e.Args)
				c.handler = ""
				continue
			}
			if id, ok := arg.(*ast.IdentExpr); ok && isTrigger && c.handler == "" {
				h := namedHandler{name: id.Value, trigger: fn.path, args: e.Args}
				if l := s.lookup(id.Value); l != nil { // a local: the function it holds now
					h.name, h.fn = "", l.fn
				}
				c.named = append(c.named, h)
			}
			c.expr(arg, s)
		}
		if fn != nil && len(e.Args) > 0 {
			c.triggerArg(fn.path, e.Args[0])
		}
		if fn != nil && e.Receiver == nil {
			c.callArgs(fn.path, e)
		}
	case *ast.TableExpr:
		for _, f := range e.Fields {
			if f.Key != nil {
				c.expr(f.Key, s)
			}
			c.expr(f.Value, s)
		}
	case *ast.LogicalOpExpr:
		c.probe(e.Lhs, s)
		c.probe(e.Rhs, s)
	case *ast.RelationalOpExpr:
		_, lnil := e.Lhs.(*ast.NilExpr)
		_, rnil := e.Rhs.(*ast.NilExpr)
		if lnil || rnil { // x == nil, x ~= nil: a test of whether x exists
			c.probe(e.Lhs, s)
			c.probe(e.Rhs, s)
			break
		}
		c.expr(e.Lhs, s)
		c.expr(e.Rhs, s)
	case *ast.StringConcatOpExpr:
		c.expr(e.Lhs, s)
		c.expr(e.Rhs, s)
	case *ast.ArithmeticOpExpr:
		c.expr(e.Lhs, s)
		c.expr(e.Rhs, s)
	case *ast.UnaryMinusOpExpr:
		c.expr(e.Expr, s)
	case *ast.UnaryNotOpExpr:
		c.probe(e.Expr, s)
	case *ast.UnaryLenOpExpr:
		c.expr(e.Expr, s)
	case *ast.FunctionExpr:
		c.function(e, s)
	}
	return nil
}

func lineOf(e ast.Expr, fallback ast.Expr) int {
	if l := e.Line(); l > 0 {
		return l
	}
	return fallback.Line()
}

// readOnly reports an assignment into rc.config, which would change only
// a copy of the settings.
func (c *checker) readOnly(path string, line int) {
	c.findings = append(c.findings, Finding{
		Line: line, Kind: KindConfigWrite, Name: path,
		Message: path + " is read-only (each read of rc.config is a fresh copy of the settings: change the settings file)",
	})
}

func (c *checker) missing(n *node, key string, line int) {
	if c.probing {
		return // if string.x then ..., local f = table.unpack or unpack: a test, not a use
	}
	if n.path != "rc" && !strings.HasPrefix(n.path, "rc.") {
		msg := n.path + "." + key + " is disabled in the sandbox"
		if !n.disabled {
			msg = luabind.MissingKeyMessage(n.path, n.keys, key)
		}
		// Reported once the modules required are read: one may add it
		// (function string.startswith in lib/util.lua).
		c.libMisses = append(c.libMisses, Finding{Line: line, Kind: KindLibrary, Name: n.path + "." + key, Message: msg})
		return
	}
	keys := slices.Clone(n.keys)
	for path := range c.added {
		if strings.HasPrefix(path, n.path+".") && !strings.Contains(path[len(n.path)+1:], ".") {
			keys = append(keys, path[len(n.path)+1:])
		}
	}
	c.findings = append(c.findings, Finding{
		Line: line, Kind: KindRCPath, Name: n.path + "." + key,
		Message: luabind.MissingKeyMessage(n.path, keys, key),
	})
}

// triggerArg checks the first argument of a call of rc.every or rc.cron
// (trigger-arg), or rc.get or rc.post (endpoint), when it is a constant.
func (c *checker) triggerArg(fn string, arg ast.Expr) {
	v, ok := constant(arg)
	if !ok {
		return
	}
	var err error
	kind := KindTriggerArg
	switch fn {
	case "rc.get", "rc.post":
		if name, isString := v.(lua.LString); isString {
			kind, err = KindEndpoint, luabind.CheckEndpoint(string(name))
		}
	case "rc.every":
		_, err = luabind.ParseInterval(v, c.api.minEvery)
	case "rc.cron":
		if spec, isString := v.(lua.LString); isString {
			_, err = luabind.ParseCron(string(spec))
		}
	default:
		return
	}
	if err != nil {
		c.findings = append(c.findings, Finding{
			Line: arg.Line(), Kind: kind,
			Message: fmt.Sprintf("bad argument #1 to %s (%v)", fn, err),
		})
	}
}

// constant returns the value of a string or number literal (a negated
// number too).
func constant(e ast.Expr) (lua.LValue, bool) {
	switch e := e.(type) {
	case *ast.StringExpr:
		return lua.LString(e.Value), true
	case *ast.NumberExpr:
		if f, err := strconv.ParseFloat(e.Value, 64); err == nil {
			return lua.LNumber(f), true
		}
		if i, err := strconv.ParseInt(e.Value, 0, 64); err == nil {
			return lua.LNumber(i), true
		}
	case *ast.UnaryMinusOpExpr:
		if n, ok := constant(e.Expr); ok {
			if f, isNum := n.(lua.LNumber); isNum {
				return -f, true
			}
		}
	}
	return nil, false
}

// ignoreRE matches an ignore comment; group 1 is what it silences.
var ignoreRE = regexp.MustCompile(`--\s*rclua:\s*ignore\b([^\n]*)`)

// ignores maps a line to what its comment silences (an empty list: all).
type ignores map[int][]string

// ignoreComments finds the ignore comments of src, by line. It reads the
// text, not the tokens: such a comment inside a long string counts too.
func ignoreComments(src []byte) ignores {
	out := ignores{}
	for i, line := range strings.Split(string(src), "\n") {
		if m := ignoreRE.FindStringSubmatch(line); m != nil {
			out[i+1] = strings.FieldsFunc(m[1], func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\r' })
		}
	}
	return out
}

func (ig ignores) silences(f Finding) bool {
	what, ok := ig[f.Line]
	if !ok {
		return false
	}
	return len(what) == 0 || slices.Contains(what, f.Kind) || (f.Name != "" && slices.Contains(what, f.Name))
}
