package luajson

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestDecodedTablesBehave: tables the decoder builds (through the layout
// mirror by default, through gopher-lua's API with -tags purego) behave
// like ordinary ones: duplicate keys, key order, edits, growth, encoding.
func TestDecodedTablesBehave(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		local o = decode('{"a":1,"b":2,"a":3,"c":[1,2]}')
		assert(o.a == 3 and o.b == 2 and #o.c == 2)
		local keys = {}
		for k, v in pairs(o) do keys[#keys + 1] = k end
		assert(table.concat(keys, ",") == "a,b,c", table.concat(keys, ","))
		o.d = 4; o.b = nil
		keys = {}
		for k in pairs(o) do keys[#keys + 1] = k end
		assert(table.concat(keys, ",") == "a,c,d", table.concat(keys, ","))
		table.insert(o.c, 3)
		assert(#o.c == 3 and o.c[3] == 3)
		assert(encode(o) == '{"a":3,"c":[1,2,3],"d":4}', encode(o))
		assert(next(decode('{}')) == nil)
		local e = decode('{"e":{}}').e
		e.x = 1; e[1] = 2
		assert(e.x == 1 and e[1] == 2 and encode(e) == nil)
		e[1] = nil
		assert(encode(e) == '{"x":1}', encode(e))
	`))
}

// TestSameShapeTablesStayApart: objects of one shape share their key list
// (copied on the first key added); adding, removing and re-adding keys in
// one must never show in another's pairs or lookups.
func TestSameShapeTablesStayApart(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		local list = decode('[{"a":1,"b":2},{"a":3,"b":4},{"a":5,"b":6}]')
		local x, y, z = list[1], list[2], list[3]
		local function keys(o)
			local ks = {}
			for k in pairs(o) do ks[#ks + 1] = k end
			return table.concat(ks, ",")
		end
		x.c = 7
		assert(keys(x) == "a,b,c" and keys(y) == "a,b" and keys(z) == "a,b", keys(x) .. " " .. keys(y))
		y.d = 8
		y.c = 9
		assert(keys(y) == "a,b,d,c", keys(y))
		assert(keys(x) == "a,b,c" and keys(z) == "a,b" and x.d == nil and z.c == nil)
		z.a = nil
		assert(keys(z) == "b" and keys(x) == "a,b,c" and x.a == 1 and y.a == 3)
		z.a = 10
		assert(keys(z) == "a,b" and z.a == 10, keys(z))
		-- a repeated member: fewer keys than members
		local dup = decode('[{"a":1,"a":2,"b":3},{"a":4,"a":5,"b":6}]')
		dup[1].c = 1
		dup[2].d = 2
		assert(keys(dup[1]) == "a,b,c" and keys(dup[2]) == "a,b,d", keys(dup[1]) .. " " .. keys(dup[2]))
		local again = decode('{"a":0,"b":0}')
		assert(keys(again) == "a,b", keys(again))
		assert(encode(x) == '{"a":1,"b":2,"c":7}' and encode(y) == '{"a":3,"b":4,"d":8,"c":9}', encode(y))
	`))
}

// TestShortStringsStayPut: short strings are copied and boxed in chunks
// the state reuses across decodes (and, by default, boxed in place). They
// must behave as any Lua string (equality, table keys, concatenation) and
// survive later decodes and collections unchanged.
func TestShortStringsStayPut(t *testing.T) {
	t.Parallel()
	L := newState(t)
	L.SetGlobal("gc", L.NewFunction(func(*lua.LState) int { runtime.GC(); return 0 }))
	require.NoError(t, L.DoString(`
		local function doc(tag, n)
			local parts = {}
			for i = 1, n do parts[i] = string.format('{"id":"%s-%05d-abcdefghij","t":"%s%d"}', tag, i, tag, i % 7) end
			return "[" .. table.concat(parts, ",") .. "]"
		end
		local first = decode(doc("first", 1000))
		local kept, byid = {}, {}
		for i, o in ipairs(first) do kept[i] = o.id; byid[o.id] = i end
		for round = 1, 5 do
			local other = decode(doc("r" .. round, 1000))
			assert(other[1000].id == string.format("r%d-01000-abcdefghij", round), other[1000].id)
			gc()
		end
		for i = 1, 1000 do
			local want = string.format("first-%05d-abcdefghij", i)
			assert(kept[i] == want and first[i].id == want, tostring(kept[i]) .. " ~= " .. want)
			assert(byid[want] == i and #kept[i] == #want and kept[i] .. "" == want)
			assert(first[i].t == "first" .. (i % 7))
		end
	`))
}

// TestSmallArraysGrow: arrays of one and two elements (made with their
// table in one piece by default) take appends, inserts, removals and
// holes like any sequence, and stay apart from one another.
func TestSmallArraysGrow(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		local d = decode('[[1],[2,3],[4,5,6],[]]')
		local one, two = d[1], d[2]
		for i = 2, 40 do one[i] = i end
		table.insert(two, 1, 0)
		assert(#one == 40 and one[1] == 1 and one[40] == 40, #one)
		assert(#two == 3 and two[1] == 0 and two[2] == 2 and two[3] == 3)
		table.remove(two)
		two[1] = nil
		assert(two[2] == 2 and d[3][3] == 6 and #d[4] == 0)
		assert(encode(decode('[[7],[8,9]]')) == '[[7],[8,9]]')
	`))
}
