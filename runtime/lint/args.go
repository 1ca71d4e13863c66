package lint

import (
	"fmt"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"

	"github.com/rclua/rclua/luabind"
)

// param is what a parameter of an rc function takes, read from its
// APIDoc type: the kinds of value a literal argument may be, and the keys
// of an options table when its type is one table shape.
type param struct {
	name     string
	optional bool
	any      bool             // a class, any: not checked
	kinds    map[string]bool  // string, number, boolean, table, function, nil
	names    []string         // the classes it takes (rc.Re), for the message
	keys     []string         // the shape's keys; nil: not checked
	fields   map[string]param // with keys: what each key takes
}

// callSpecs are the parameters of every function of the rc table and of
// every method of rc.Message (not variadic ones), by name ("rc.me",
// "rc.Message:reply"). Built once; never written again.
var callSpecs = func() map[string][]param {
	out := map[string][]param{}
	for _, e := range luabind.APIDoc() {
		if e.Class || e.Type != "" || !strings.HasPrefix(e.Name, "rc.") {
			continue
		}
		if class, _, isMethod := strings.Cut(e.Name, ":"); isMethod && class != messageClass {
			continue
		}
		var ps []param
		variadic := false
		for _, p := range e.Params {
			name, typ, _ := strings.Cut(p, ": ")
			if name == "..." {
				variadic = true
				break
			}
			ps = append(ps, parseParam(name, typ))
		}
		if !variadic {
			out[e.Name] = ps
		}
	}
	return out
}()

// classMethods are the methods of the classes whose values the check
// follows (messageClass), sorted. Built once; never written again.
var classMethods = func() map[string][]string {
	out := map[string][]string{}
	for _, e := range luabind.APIDoc() {
		if class, method, ok := strings.Cut(e.Name, ":"); ok && class == messageClass {
			out[class] = append(out[class], method)
		}
	}
	for _, ms := range out {
		slices.Sort(ms)
	}
	return out
}()

// parseParam reads a LuaLS type of APIDoc ("string|number",
// "{channel?: string, text?: string}", "fun(): any", "rc.Re").
func parseParam(name, typ string) param {
	p := param{name: strings.TrimSuffix(name, "?"), optional: strings.HasSuffix(name, "?"), kinds: map[string]bool{}}
	shapes := 0
	for _, alt := range splitTop(typ, '|') {
		alt = strings.TrimSpace(alt)
		switch {
		case strings.HasPrefix(alt, "fun("):
			p.kinds["function"] = true
		case alt == "any":
			p.any = true
		case strings.Contains(alt, ".") && !strings.HasPrefix(alt, "{"):
			p.kinds["table"] = true // a class (rc.Re): an object no literal is, a table at most
			p.names = append(p.names, alt)
			shapes = 2
		case alt == "string" || strings.HasPrefix(alt, `"`):
			p.kinds["string"] = true
		case alt == "number" || alt == "integer":
			p.kinds["number"] = true
		case alt == "boolean" || alt == "true" || alt == "false":
			p.kinds["boolean"] = true
		case alt == "nil":
			p.kinds["nil"] = true
		case strings.HasPrefix(alt, "{") && strings.HasSuffix(alt, "}"):
			p.kinds["table"] = true
			shapes++
			p.fields = map[string]param{}
			for _, f := range splitTop(alt[1:len(alt)-1], ',') {
				key, ftyp, _ := strings.Cut(strings.TrimSpace(f), ":")
				key = strings.TrimSpace(key)
				fp := parseParam(key, strings.TrimSpace(ftyp))
				// ["$date"]: a key that is no Lua name, as LuaLS writes it
				fp.name = strings.TrimSuffix(strings.TrimPrefix(fp.name, `["`), `"]`)
				p.keys = append(p.keys, fp.name)
				p.fields[fp.name] = fp
			}
		default: // table, table<...>, T[], (a|b)[]
			p.kinds["table"] = true
			shapes = 2 // any keys
		}
	}
	if shapes != 1 {
		p.keys, p.fields = nil, nil
	}
	return p
}

// mismatch returns what p expects when a literal of kind is no value of
// it ("string|number expected, got boolean"), "" when it is or kind is
// not a literal's.
func (p param) mismatch(kind string) string {
	if p.any || kind == "" || p.kinds[kind] || kind == "nil" && p.optional {
		return ""
	}
	kinds := make([]string, 0, len(p.kinds))
	for k := range p.kinds {
		if k != "table" || len(p.names) == 0 || p.keys != nil {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	return fmt.Sprintf("%s: %s expected, got %s", p.name, strings.Join(append(kinds, p.names...), "|"), kind)
}

// splitTop splits s at sep outside braces, parentheses and angle brackets.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '(', '<':
			depth++
		case '}', ')', '>':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// literalKind is the kind of value a literal expression is ("" for one
// that is not a literal).
func literalKind(e ast.Expr) string {
	switch e.(type) {
	case *ast.StringExpr:
		return "string"
	case *ast.NumberExpr, *ast.UnaryMinusOpExpr:
		return "number"
	case *ast.TrueExpr, *ast.FalseExpr:
		return "boolean"
	case *ast.NilExpr:
		return "nil"
	case *ast.TableExpr:
		return "table"
	case *ast.FunctionExpr:
		return "function"
	}
	return ""
}

// callArgs checks the literal arguments of a call of the rc function fn
// against its documented parameters: their number, the kind of each, and
// the keys of an options table given as a literal.
func (c *checker) callArgs(fn string, call *ast.FuncCallExpr) {
	ps, ok := callSpecs[fn]
	if !ok {
		return
	}
	// As the function words its error: a method goes by its call's name
	// and numbers its arguments after self, as Lua does (msg:reply's
	// options are argument #1).
	name, method := fn, false
	if _, m, isMethod := strings.Cut(fn, ":"); isMethod {
		name, method = "msg:"+m, true
	}
	bad := func(line, n int, msg string) {
		c.findings = append(c.findings, Finding{Line: line, Kind: KindCallArg, Name: fn,
			Message: fmt.Sprintf("bad argument #%d to %s (%s)", n, name, msg)})
	}
	args := call.Args
	if n := len(args); !method && n > len(ps) && (!multiValued(args[n-1]) || n-1 > len(ps)) { // methods ignore extra arguments
		bad(args[len(ps)].Line(), len(ps)+1, luabind.ExtraArgMessage(fn, len(ps)))
	}
	for i, arg := range args {
		if i >= len(ps) {
			break
		}
		if msg := ps[i].mismatch(literalKind(arg)); msg != "" {
			bad(arg.Line(), i+1, msg)
		}
	}
	for i, arg := range args {
		tb, isTable := arg.(*ast.TableExpr)
		if i >= len(ps) || !isTable || ps[i].keys == nil {
			continue
		}
		for _, f := range tb.Fields {
			key, isString := f.Key.(*ast.StringExpr)
			if _, isNil := f.Value.(*ast.NilExpr); isNil || !isString || slices.Contains(ps[i].keys, key.Value) {
				continue // a nil field is not in the table
			}
			msg := fmt.Sprintf("unknown option %q (known: %s)", key.Value, strings.Join(ps[i].keys, ", "))
			if near := luabind.Suggest(key.Value, ps[i].keys); near != "" {
				msg = fmt.Sprintf("unknown option %q (did you mean %s?)", key.Value, near)
			}
			bad(lineOf(f.Key, arg), i+1, msg)
		}
		for _, f := range tb.Fields {
			key, isString := f.Key.(*ast.StringExpr)
			if !isString {
				continue
			}
			if _, isNil := f.Value.(*ast.NilExpr); isNil {
				continue // not in the table: a required one is the function's to report
			}
			if fp, known := ps[i].fields[key.Value]; known {
				if msg := fp.mismatch(literalKind(f.Value)); msg != "" {
					bad(lineOf(f.Value, arg), i+1, msg)
					continue
				}
			}
			check := optionChecks[fn][key.Value]
			if v, isConst := constant(f.Value); check != nil && isConst {
				if err := check(v); err != nil {
					bad(lineOf(f.Value, arg), i+1, err.Error())
				}
			}
		}
	}
}

// optionChecks check constant values of options with the parsers the
// functions use, by function and option. Read-only.
var optionChecks = map[string]map[string]func(lua.LValue) error{
	"rc.store.set": {"ttl": func(v lua.LValue) error { _, err := luabind.ParseTTL(v); return err }},
	"rc.subscriptions.get": {"updated_since": func(v lua.LValue) error {
		_, err := luabind.ParseOptionTime("updated_since", v)
		return err
	}},
}

// multiValued reports whether e may give several values (a call, ...).
func multiValued(e ast.Expr) bool {
	switch e.(type) {
	case *ast.FuncCallExpr, *ast.Comma3Expr:
		return true
	}
	return false
}
