package luabind

import (
	"context"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// reBenchMessage is a chat message of ordinary length.
const reBenchMessage = "@bot deploy api-server to staging please, ticket OPS-1234 (cc @alice @bob) thanks!"

// benchRE returns L with re = rc.re.compile(expr) and a handler's kind
// of context set, and re's method name.
func benchRE(b *testing.B, expr, method string) (*lua.LState, lua.LValue, lua.LValue) {
	L := benchState(b)
	b.Cleanup(L.Close)
	L.SetGlobal("expr", lua.LString(expr))
	if err := L.DoString(`re = rc.re.compile(expr)`); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	L.SetContext(ctx)
	re := L.GetGlobal("re")
	return L, re, L.GetField(re, method)
}

// BenchmarkREMatchMessage is re:match on a chat message, as a handler
// calls it.
func BenchmarkREMatchMessage(b *testing.B) {
	L, re, fn := benchRE(b, `(?i)\bdeploy\s+([\w-]+)\s+to\s+(\w+)`, "match")
	s := lua.LString(reBenchMessage)
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 2, Protect: true}, re, s); err != nil {
			b.Fatal(err)
		}
		L.Pop(2)
	}
}

// BenchmarkREGsubMessage is re:gsub of every word of a chat message.
func BenchmarkREGsubMessage(b *testing.B) {
	L, re, fn := benchRE(b, `\w+`, "gsub")
	s, repl := lua.LString(reBenchMessage), lua.LString("<%0>")
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 2, Protect: true}, re, s, repl); err != nil {
			b.Fatal(err)
		}
		L.Pop(2)
	}
}

// BenchmarkREHearMatch is an rc.re pattern's matcher on a message, as
// rc.hear runs it.
func BenchmarkREHearMatch(b *testing.B) {
	L, re, _ := benchRE(b, `(?i)\bdeploy\s+([\w-]+)\s+to\s+(\w+)`, "match")
	r := regexOf(re)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.match(L, reBenchMessage); !ok {
			b.Fatal("no match")
		}
	}
}
