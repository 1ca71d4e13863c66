package luajson

import (
	"testing"

	"github.com/stretchr/testify/require"
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
