package runtime

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox"
)

// sizeOf runs code in a fresh sandbox and measures the state, with the
// global function "root" (if any) as a root held outside the state and
// then removed from the globals.
func sizeOf(t *testing.T, code string, max int) (int64, bool) {
	t.Helper()
	L := sandbox.New(sandbox.Options{})
	defer L.Close()
	require.NoError(t, L.DoString(code))
	var roots []*lua.LFunction
	if fn, ok := L.GetGlobal("root").(*lua.LFunction); ok {
		roots = append(roots, fn)
		L.SetGlobal("root", lua.LNil)
	}
	return stateSize(context.Background(), L, roots, max)
}

func TestStateSize(t *testing.T) {
	t.Parallel()
	base, ok := sizeOf(t, "", sizeWalkMax)
	require.True(t, ok)

	t.Run("a big table counts", func(t *testing.T) {
		n, ok := sizeOf(t, "big = {} for i = 1, 10000 do big[i] = {i} end", sizeWalkMax)
		assert.True(t, ok)
		assert.Greater(t, n-base, int64(10000*sizeTable))
	})
	t.Run("a big string counts once however often it is referenced", func(t *testing.T) {
		one, _ := sizeOf(t, "s = string.rep('x', 1e6)", sizeWalkMax)
		many, _ := sizeOf(t, "s = string.rep('x', 1e6) t = {} for i = 1, 100 do t[i] = s end", sizeWalkMax)
		assert.Greater(t, one-base, int64(1e6))
		assert.Less(t, many-one, int64(1e5), "100 references, not 100 copies")
	})
	t.Run("a cycle ends", func(t *testing.T) {
		n, ok := sizeOf(t, "a = {} b = {a = a} a.b = b a.self = a setmetatable(a, {__index = b})", sizeWalkMax)
		assert.True(t, ok)
		assert.Less(t, n-base, int64(10*sizeTable))
	})
	t.Run("a shared sub-table counts once", func(t *testing.T) {
		n, ok := sizeOf(t, "local t = {} for i = 1, 40 do t = {t, t} end dag = t", sizeWalkMax)
		assert.True(t, ok)
		assert.Less(t, n-base, int64(41*(sizeTable+2*sizeEntry)+sizeEntry))
	})
	t.Run("what a handler's upvalues hold counts", func(t *testing.T) {
		n, ok := sizeOf(t, "local seen = {} for i = 1, 10000 do seen[i] = {} end function root() return seen end", sizeWalkMax)
		assert.True(t, ok)
		assert.Greater(t, n-base, int64(10000*sizeTable))
	})
	t.Run("what a coroutine holds counts", func(t *testing.T) {
		n, _ := sizeOf(t, "co = coroutine.create(function(x) coroutine.yield() end) coroutine.resume(co, string.rep('y', 1e6))", sizeWalkMax)
		assert.Greater(t, n-base, int64(1e6), "the string on its stack")
	})
	t.Run("the walk is bounded", func(t *testing.T) {
		n, ok := sizeOf(t, "big = {} for i = 1, 10000 do big[i] = {i} end", 1000)
		assert.False(t, ok, "cut at its max")
		assert.Greater(t, n, int64(0))
	})
	t.Run("the walk stops with its context", func(t *testing.T) {
		L := sandbox.New(sandbox.Options{})
		defer L.Close()
		require.NoError(t, L.DoString("big = {} for i = 1, 10000 do big[i] = {i} end"))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, ok := stateSize(ctx, L, nil, sizeWalkMax)
		assert.False(t, ok)
	})
}

// BenchmarkStateSize measures a state holding 100,000 small tables: the
// cost of one measurement per script when the heap stays over the limit.
func BenchmarkStateSize(b *testing.B) {
	L := sandbox.New(sandbox.Options{})
	defer L.Close()
	if err := L.DoString("big = {} for i = 1, 100000 do big[i] = {i, tostring(i)} end"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		stateSize(context.Background(), L, nil, sizeWalkMax)
	}
}
