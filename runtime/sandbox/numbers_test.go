package sandbox

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestStringsAsNumbers: arithmetic on strings and tonumber read them as
// Lua 5.1 does (testdata/numbers.lua, checked with lua5.1): "010" + 0 is
// 10 (gopher-lua: 8, octal), tonumber("1e2") is 100 (gopher-lua: nil),
// "0b11" + 0 raises (gopher-lua: 3); a table's metamethod still runs
// beside a string; an error names the script's line.
func TestStringsAsNumbers(t *testing.T) {
	t.Parallel()
	L := runAllOK(t, "numbers.lua")

	fn, err := Compile(L, "e.lua", []byte("local s = 'abc'\nreturn s + 1"))
	require.NoError(t, err)
	L.Push(fn)
	f := Call(L, 0, 1)
	require.NotNil(t, f)
	assert.Equal(t, "e.lua:2: cannot perform add operation between string and number", lua.LVAsString(f.Value))
}

// TestLibraryAsLua51: error's levels, table.remove out of range and
// math.huge as Lua 5.1's (testdata/library51.lua, checked with lua5.1):
// gopher-lua's error(msg, 2) named the line of error itself, table.remove
// at 0 or -1 removed the last element, and math.huge was the largest
// finite number.
func TestLibraryAsLua51(t *testing.T) {
	t.Parallel()
	runAllOK(t, "library51.lua")
}

// TestNumberText: a number with a fraction reads as Lua 5.1 writes it
// (%.14g) through .., tostring, string.format's %s, table.concat and
// load's chunks (testdata/numbertext.lua, checked with lua5.1), where
// gopher-lua wrote 33.333333333333336 and 0.30000000000000004; a whole
// number keeps every digit.
func TestNumberText(t *testing.T) {
	t.Parallel()
	runAllOK(t, "numbertext.lua")
	for n, want := range map[float64]string{9007199254740992: "9007199254740992", 1e15: "1000000000000000", -3: "-3",
		0.1: "0.1", 2.5e-7: "2.5e-07", 1e300: "1e+300", 1.5e15: "1500000000000000"} {
		assert.Equal(t, want, NumberText(lua.LNumber(n)), "%v", n)
	}
}

// BenchmarkDigestConcat builds a 5,000-line digest with .., a number on
// each line: the cost of each chain's call of (concat) (concatFunction),
// against the same lines built with string.format.
//
//	go test -run='^$' -bench=Digest -benchmem -count=5 ./runtime/sandbox/
func BenchmarkDigestConcat(b *testing.B) {
	benchDigest(b, `local lines = {}
for i = 1, 5000 do lines[i] = "room " .. i .. ": " .. (i / 3) .. " unread" end
return #table.concat(lines, "\n")`)
}

// BenchmarkDigestFormat is BenchmarkDigestConcat's lines built with
// string.format.
func BenchmarkDigestFormat(b *testing.B) {
	benchDigest(b, `local lines = {}
for i = 1, 5000 do lines[i] = string.format("room %d: %s unread", i, i / 3) end
return #table.concat(lines, "\n")`)
}

func benchDigest(b *testing.B, src string) {
	L := New(Options{})
	defer L.Close()
	fn, err := Compile(L, "digest.lua", []byte(src))
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		L.Push(fn)
		if f := Call(L, 0, 1); f != nil {
			b.Fatal(f.Value)
		}
		if n, ok := L.Get(-1).(lua.LNumber); !ok || int(n) < 5000*len("room 1: 0.3 unread\n") {
			b.Fatal(L.Get(-1))
		}
		L.Pop(1)
	}
}
