package scripttest

import (
	"context"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ctxOf is the test state's context (the test's deadline).
func ctxOf(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}

// pair is a pair of tables being compared (cycle guard).
type pair struct{ a, b *lua.LTable }

// deepEqual compares a and b: tables by their keys and values, deeply
// (a table met again in the same pairing counts as equal), anything else
// with Lua's raw equality.
func deepEqual(a, b lua.LValue, seen map[pair]bool) bool {
	ta, okA := a.(*lua.LTable)
	tb, okB := b.(*lua.LTable)
	if !okA || !okB {
		return a == b
	}
	if ta == tb {
		return true
	}
	if seen == nil {
		seen = map[pair]bool{}
	}
	if seen[pair{ta, tb}] {
		return true
	}
	seen[pair{ta, tb}] = true
	equal := true
	count := 0
	ta.ForEach(func(k, v lua.LValue) {
		count++
		if equal && !deepEqual(v, tb.RawGet(k), seen) {
			equal = false
		}
	})
	if !equal {
		return false
	}
	tb.ForEach(func(_, _ lua.LValue) { count-- })
	return count == 0
}

// maxShow caps the text of a value in an assertion's message.
const maxShow = 2000

// show renders v for an assertion's message: strings quoted, tables as
// constructors with sorted keys.
func show(v lua.LValue) string {
	var b strings.Builder
	write(&b, v, 0)
	s := b.String()
	if len(s) > maxShow {
		s = s[:maxShow] + "... (truncated)"
	}
	return s
}

func write(b *strings.Builder, v lua.LValue, depth int) {
	if b.Len() > maxShow {
		return
	}
	switch v := v.(type) {
	case lua.LString:
		fmt.Fprintf(b, "%q", string(v))
	case *lua.LTable:
		if depth > 20 {
			b.WriteString("{...}")
			return
		}
		b.WriteString("{")
		n := v.Len()
		for i, k := range sortedKeys(v) {
			if i > 0 {
				b.WriteString(", ")
			}
			if kn, ok := k.(lua.LNumber); !ok || int(kn) != i+1 || i >= n {
				if ks, ok := k.(lua.LString); ok && isName(string(ks)) {
					b.WriteString(string(ks))
				} else {
					b.WriteString("[")
					write(b, k, depth+1)
					b.WriteString("]")
				}
				b.WriteString(" = ")
			}
			write(b, v.RawGet(k), depth+1)
		}
		b.WriteString("}")
	default:
		b.WriteString(v.String())
	}
}

// isName reports whether s is a Lua identifier.
func isName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
