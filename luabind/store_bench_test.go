package luabind

import (
	"testing"

	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/store"
)

// benchStore measures one rc.store call from Lua: call(i) runs b.N times
// in a sandboxed state on a bbolt store (durable: every write commits with
// fsync) or, for comparison, on the in-memory one.
//
//	go test -run='^$' -bench=Store -benchmem -count=5 ./luabind/
func benchStore(b *testing.B, src string) {
	for _, c := range []struct {
		name string
		open func() *store.DB
	}{
		{"bolt", func() *store.DB {
			db, err := store.Open(b.TempDir(), store.Options{})
			require.NoError(b, err)
			return db
		}},
		{"memory", func() *store.DB { return store.OpenMemory(store.Options{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			db := c.open()
			defer db.Close()
			L := storeState(b, db, "bench")
			mustLua(b, L, `for i = 0, 999 do assert(rc.store.set("k" .. i, {count = i, seen = "2024-05-01T10:00:00.000Z"})) end
`+src)
			call := L.GetGlobal("call")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := L.CallByParam(lua.P{Fn: call, NRet: 0, Protect: true}, lua.LNumber(i%1000)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStoreGet(b *testing.B) {
	benchStore(b, `local get, keys = rc.store.get, {}
for i = 0, 999 do keys[i] = "k" .. i end
function call(i) if get(keys[i]) == nil then error("missing") end end`)
}

func BenchmarkStoreSet(b *testing.B) {
	benchStore(b, `local set, keys, v = rc.store.set, {}, {count = 1, seen = "2024-05-01T10:00:00.000Z"}
for i = 0, 999 do keys[i] = "k" .. i end
function call(i) assert(set(keys[i], v)) end`)
}

func BenchmarkStoreIncr(b *testing.B) {
	benchStore(b, `local incr, keys = rc.store.incr, {}
for i = 0, 999 do keys[i] = "n" .. i end
function call(i) assert(incr(keys[i])) end`)
}
