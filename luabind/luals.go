package luabind

import (
	"fmt"
	"strings"
)

// Definitions returns the LuaLS definition file of the Lua API (a
// "---@meta" file: classes, parameters and results of every function,
// from APIDoc), for editors running the Lua language server: rclua types
// writes it, and a .luarc.json names it as a library. header is a comment
// line put after ---@meta (who wrote it); extra are entries of other
// globals' tables described the same way (the t table of test files).
func Definitions(header string, extra ...APIEntry) string {
	var b strings.Builder
	b.WriteString("---@meta\n")
	if header != "" {
		fmt.Fprintf(&b, "-- %s\n", header)
	}
	b.WriteString("-- The Lua API of rclua for Lua language servers. Generated: do not edit.\n\n")
	entries := append(APIDoc(), extra...)
	tables := map[string]bool{}
	for _, e := range entries {
		if e.Class {
			writeClass(&b, e)
		}
	}
	b.WriteString("---@class rc\nrc = {}\n")
	tables["rc"] = true
	for _, e := range entries {
		if e.Class {
			continue
		}
		class, method, isMethod := strings.Cut(e.Name, ":")
		owner := ""
		if !isMethod {
			if i := strings.LastIndexByte(e.Name, '.'); i > 0 {
				owner = e.Name[:i]
			}
		}
		for _, t := range ancestors(owner) {
			if !tables[t] {
				tables[t] = true
				fmt.Fprintf(&b, "---@class %s\n%s = {}\n", t, t) // a class of its own: hover and completion name it
			}
		}
		b.WriteString("\n")
		writeDoc(&b, e.Doc)
		if e.Type != "" {
			fmt.Fprintf(&b, "---@type %s\n%s = nil\n", e.Type, e.Name)
			continue
		}
		for _, p := range e.Params {
			name, typ, _ := strings.Cut(p, ": ") // "name?" is LuaLS's optional parameter too
			fmt.Fprintf(&b, "---@param %s %s\n", name, typ)
		}
		for _, r := range e.Returns {
			fmt.Fprintf(&b, "---@return %s\n", r)
		}
		for _, o := range e.Overloads {
			fmt.Fprintf(&b, "---@overload %s\n", o)
		}
		name := e.Name
		if isMethod {
			name = classVar(class) + ":" + method
		}
		fmt.Fprintf(&b, "function %s(%s) end\n", name, strings.Join(paramNames(e.Params), ", "))
	}
	return b.String()
}

// ancestors returns "rc", "rc.a", "rc.a.b" for "rc.a.b" (nothing for "").
func ancestors(path string) []string {
	if path == "" {
		return nil
	}
	parts := strings.Split(path, ".")
	out := make([]string, len(parts))
	for i := range parts {
		out[i] = strings.Join(parts[:i+1], ".")
	}
	return out
}

// classVar is the local a class's methods are declared on: rc.Re -> rc_Re.
func classVar(class string) string { return strings.ReplaceAll(class, ".", "_") }

func paramNames(params []string) []string {
	out := make([]string, len(params))
	for i, p := range params {
		name, _, _ := strings.Cut(p, ":")
		out[i] = strings.TrimSuffix(name, "?")
	}
	return out
}

func writeDoc(b *strings.Builder, doc string) {
	if doc != "" {
		fmt.Fprintf(b, "---%s\n", doc)
	}
}

func writeClass(b *strings.Builder, e APIEntry) {
	writeDoc(b, e.Doc)
	fmt.Fprintf(b, "---@class %s\n", e.Name)
	for _, f := range e.Fields {
		name, typ, _ := strings.Cut(f, ": ")
		fmt.Fprintf(b, "---@field %s %s\n", name, typ)
	}
	fmt.Fprintf(b, "local %s = {}\n\n", classVar(e.Name))
}
