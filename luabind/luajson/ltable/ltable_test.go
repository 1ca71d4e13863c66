package ltable

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestReserve: a table with reserved room keeps what it held, in order,
// takes new keys without growing its parts (when the mirror is in use), and
// behaves as any table afterwards (pairs, deletion, growth past the room).
func TestReserve(t *testing.T) { // not parallel: it counts allocations
	L := lua.NewState()
	defer L.Close()
	tb := L.CreateTable(0, 0)
	tb.RawSetString("a", lua.LNumber(1))
	tb.RawSetString("b", lua.LNumber(2))
	Reserve(tb, 20)
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("k%02d", i)
	}
	vals := make([]lua.LValue, len(names))
	for i := range vals {
		vals[i] = lua.LNumber(i)
	}
	fill := func() {
		for i, n := range names {
			tb.RawSetString(n, vals[i])
		}
	}
	// One P while measuring: no other goroutine of the process (the test
	// framework's, a finalizer) allocates between the two reads.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fill()
	runtime.ReadMemStats(&after)
	if OK {
		// gopher-lua boxes each new key (twice, 16 bytes each): nothing
		// else, where growing the parts would take kilobytes.
		assert.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(len(names)*2*16), "setting reserved keys allocates")
	}
	L.SetGlobal("t", tb)
	require.NoError(t, L.DoString(`
		local ks = {}
		for k in pairs(t) do ks[#ks + 1] = k end
		assert(#ks == 22 and ks[1] == "a" and ks[2] == "b" and ks[3] == "k00" and ks[22] == "k19", table.concat(ks, ","))
		assert(t.a == 1 and t.k19 == 19)
		t.k05 = nil
		t.extra, t.more = 1, 2
		local n = 0
		for k, v in pairs(t) do n = n + 1; assert(k ~= "k05") end
		assert(n == 23, n)
	`))
}

// TestReserveEmpty: a fresh table with reserved room (no key list yet),
// or made by New, fills and iterates like one without.
func TestReserveEmpty(t *testing.T) {
	t.Parallel()
	L := lua.NewState()
	defer L.Close()
	tb := L.CreateTable(0, 0)
	Reserve(tb, 3)
	Reserve(tb, 0)
	L.SetGlobal("n", New(L, 2))
	L.SetGlobal("z", New(L, 0))
	L.SetGlobal("t", tb)
	require.NoError(t, L.DoString(`
		assert(next(t) == nil)
		t.x = 1; t.y = 2
		local ks = {}
		for k in pairs(t) do ks[#ks + 1] = k end
		assert(table.concat(ks, ",") == "x,y", table.concat(ks, ","))
		assert(next(n) == nil and next(z) == nil)
		n.p = 1; n.q = 2; n.r = 3; z.s = 4
		ks = {}
		for k in pairs(n) do ks[#ks + 1] = k end
		assert(table.concat(ks, ",") == "p,q,r" and z.s == 4, table.concat(ks, ","))
	`))
}

// TestSetString: SetString fills a table as RawSetString does (key order,
// replaced and deleted keys, tables without parts yet), boxing each new
// key once.
func TestSetString(t *testing.T) { // not parallel: it counts allocations
	L := lua.NewState()
	defer L.Close()
	one := lua.LValue(lua.LNumber(1))
	// AllocsPerRun warms up first and averages: a single MemStats reading
	// caught a lazy first-time allocation under -race (15 for 12).
	mallocs := func(set func(*lua.LTable, string, lua.LValue)) uint64 {
		return uint64(testing.AllocsPerRun(20, func() {
			tb := New(L, 3)
			set(tb, "a", one)
			set(tb, "b", one)
			set(tb, "c", one)
		}))
	}
	raw := mallocs((*lua.LTable).RawSetString)
	set := mallocs(SetString)
	if OK {
		assert.Equal(t, raw-3, set, "one box per key fewer than RawSetString")
	}
	tb := New(L, 3)
	for _, k := range []string{"a", "b", "c"} {
		SetString(tb, k, one)
	}
	SetString(tb, "a", lua.LNumber(2))
	tb.RawSetString("b", lua.LNil)
	SetString(tb, "b", lua.LNumber(3))
	SetString(tb, "d", lua.LNumber(4))
	SetString(tb, "e", lua.LNil)
	bare := L.CreateTable(0, 0)
	SetString(bare, "x", one)
	L.SetGlobal("t", tb)
	L.SetGlobal("bare", bare)
	require.NoError(t, L.DoString(`
		local ks = {}
		for k, v in pairs(t) do ks[#ks + 1] = k .. "=" .. v end
		assert(table.concat(ks, ",") == "a=2,b=3,c=1,d=4", table.concat(ks, ","))
		assert(bare.x == 1 and next(bare) == "x")
	`))
}
