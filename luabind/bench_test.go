package luabind

import (
	"context"
	"testing"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
	"github.com/rclua/rclua/rc"
)

// benchSubs answers from memory, for the binding's own cost.
type benchSubs struct {
	Subscriptions
	one  []byte
	many []byte
}

func (s *benchSubs) GetOneRaw(ctx context.Context, roomID string) ([]byte, error) { return s.one, nil }
func (s *benchSubs) GetRaw(ctx context.Context, opts *rc.GetSubscriptionsOptions) ([]byte, error) {
	return s.many, nil
}

func benchState(b *testing.B) *lua.LState {
	L := lua.NewState()
	m := &Module{Subscriptions: &benchSubs{one: []byte(fixture.GetOneBody), many: fixture.SubscriptionsBody(5000)}, Logger: zerolog.Nop()}
	m.Open(L, nil)
	return L
}

// BenchmarkGetOneFromLua is one rc.subscriptions.get_one call from Lua
// against an in-process fake: the binding alone.
func BenchmarkGetOneFromLua(b *testing.B) {
	L := benchState(b)
	defer L.Close()
	fn := L.GetField(L.GetField(L.GetGlobal("rc"), "subscriptions"), "get_one")
	arg := lua.LString("5of4weEXaH7yncxz9")
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, arg); err != nil {
			b.Fatal(err)
		}
		if L.Get(-1).Type() != lua.LTTable {
			b.Fatal("no table")
		}
		L.Pop(1)
	}
}

// BenchmarkGetFromLua is rc.subscriptions.get() of 5,000 subscriptions
// from Lua against an in-process fake (conversion and binding).
func BenchmarkGetFromLua(b *testing.B) {
	L := benchState(b)
	defer L.Close()
	fn := L.GetField(L.GetField(L.GetGlobal("rc"), "subscriptions"), "get")
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}); err != nil {
			b.Fatal(err)
		}
		L.Pop(1)
	}
}

// BenchmarkGetOneLookupFromLua is rc.subscriptions.get_one(id) as a script
// writes it: the two table lookups (which hit, so the strict tables'
// __index is never consulted) and the call.
func BenchmarkGetOneLookupFromLua(b *testing.B) {
	L := benchState(b)
	defer L.Close()
	if err := L.DoString(`function bench_get_one(id) return rc.subscriptions.get_one(id) end`); err != nil {
		b.Fatal(err)
	}
	fn := L.GetGlobal("bench_get_one")
	arg := lua.LString("5of4weEXaH7yncxz9")
	b.ReportAllocs()
	for b.Loop() {
		if err := L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}, arg); err != nil {
			b.Fatal(err)
		}
		if L.Get(-1).Type() != lua.LTTable {
			b.Fatal("no table")
		}
		L.Pop(1)
	}
}
