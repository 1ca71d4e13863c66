package luajson

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
)

// newState returns a state with the libraries and two test globals,
// decode(s) and encode(v), calling Decode and Encode (nil, err on errors).
func newState(t testing.TB) *lua.LState {
	t.Helper()
	L := lua.NewState()
	t.Cleanup(L.Close)
	L.SetGlobal("decode", L.NewFunction(func(L *lua.LState) int {
		v, err := Decode(L, L.CheckString(1))
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		L.Push(v)
		return 1
	}))
	L.SetGlobal("encode", L.NewFunction(func(L *lua.LState) int {
		b, err := Encode(ctxOf(L), L.Get(1))
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString(err.Error()))
			return 2
		}
		L.Push(lua.LString(b))
		return 1
	}))
	return L
}

func TestDecodeValues(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	v, err := DecodeBytes(L, []byte(`{"s":"x\u00e9","n":12,"f":-1.25,"t":true,"z":null,"a":[null,{}]}`))
	require.NoError(t, err)
	tb := v.(*lua.LTable)
	assert.Equal(t, lua.LString("xé"), tb.RawGetString("s"))
	assert.Equal(t, lua.LNumber(12), tb.RawGetString("n"))
	assert.Equal(t, lua.LNumber(-1.25), tb.RawGetString("f"))
	assert.Equal(t, lua.LTrue, tb.RawGetString("t"))
	assert.Same(t, Null(L), tb.RawGetString("z"), "null is the state's sentinel")
	a := tb.RawGetString("a").(*lua.LTable)
	assert.Equal(t, 2, a.Len())
	assert.True(t, IsArray(a), "decoded arrays carry the array mark")
	assert.Same(t, Null(L), a.RawGetInt(1))
	assert.Equal(t, "12", tb.RawGetString("n").String(), "integral numbers print without .0")
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	_, err := DecodeBytes(L, []byte(`{"a":[1,2,}`))
	var se *SyntaxError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 10, se.Offset)
	assert.Equal(t, "json: invalid character '}' looking for a value at offset 10", err.Error())

	big := make([]byte, MaxDecodeSize+1)
	_, err = DecodeBytes(L, big)
	assert.ErrorIs(t, err, ErrTooLarge)

	_, err = DecodeBytes(L, []byte(strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1)))
	assert.ErrorContains(t, err, "nesting deeper than 200")
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		bad_key = {list = {{ok = 1}, {[true] = 1}}}
		mixed = {1, x = 2}
	`))
	_, err := Encode(context.Background(), L.GetGlobal("bad_key"))
	var ee *EncodeError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "list[2]", ee.Path)
	assert.Equal(t, "json: list[2]: key true (a boolean) is not a string or array index", err.Error())
	_, err = Encode(context.Background(), L.GetGlobal("mixed"))
	assert.EqualError(t, err, `json: table mixes array items and string key "x"`)
}

// TestSubscriptionsConversion checks the 5,000-subscription body converts
// to the same data encoding/json reads.
func TestSubscriptionsConversion(t *testing.T) {
	t.Parallel()
	body := fixture.SubscriptionsBody(5000)
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	v, err := DecodeBytes(L, body)
	require.NoError(t, err)
	out, err := Encode(context.Background(), v)
	require.NoError(t, err)
	var want, got any
	require.NoError(t, json.Unmarshal(body, &want))
	require.NoError(t, json.Unmarshal(out, &got))
	assert.Equal(t, want, got)
	assert.Equal(t, 5000, v.(*lua.LTable).RawGetString("update").(*lua.LTable).Len())
}

// TestKeyCacheFollowsUse: a full key cache is emptied and refilled rather
// than frozen, so a script that once decoded many distinct keys (objects
// keyed by ids) does not lose interning for good; long keys are not kept.
func TestKeyCacheFollowsUse(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	var sb strings.Builder
	sb.WriteString("{")
	for i := range maxInternedKeys + 10 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"id%d":%d`, i, i)
	}
	sb.WriteString("}")
	_, err := DecodeBytes(L, []byte(sb.String()))
	require.NoError(t, err)
	long := strings.Repeat("k", maxInternedKeyLen+1)
	_, err = DecodeBytes(L, []byte(`{"fresh":1,"`+long+`":2}`))
	require.NoError(t, err)
	sd := dataOf(L)
	_, fresh := sd.keys["fresh"]
	assert.True(t, fresh, "a new key is interned after the cache filled up")
	_, kept := sd.keys[long]
	assert.False(t, kept, "long keys are not kept")
	assert.LessOrEqual(t, len(sd.keys), maxInternedKeys)
}

// TestSameShapeTablesAreIndependent: objects with the same keys are built
// from one cached key list; changing one table's keys must not show in
// another's, nor in tables decoded later.
func TestSameShapeTablesAreIndependent(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		local list = decode('[{"a":1,"b":2},{"a":3,"b":4},{"a":5,"b":6}]')
		local o1, o2, o3 = list[1], list[2], list[3]
		o1.c = 1
		o2.d = 2; o2.c = 3
		o3.b = nil; o3.e = 4
		local function keys(o)
			local ks = {}
			for k in pairs(o) do ks[#ks + 1] = k end
			return table.concat(ks, ",")
		end
		assert(keys(o1) == "a,b,c", "o1: " .. keys(o1))
		assert(keys(o2) == "a,b,d,c", "o2: " .. keys(o2))
		assert(keys(o3) == "a,e", "o3: " .. keys(o3))
		local again = decode('{"a":7,"b":8}')
		assert(keys(again) == "a,b", "a new table of the cached shape: " .. keys(again))
	`))
}

// inBody reports whether s's bytes lie inside body.
func inBody(s string, body []byte) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	return p >= start && p < start+uintptr(len(body))
}

// TestShortStringsAreCopied: ids (17 bytes), times and other values of up
// to 32 bytes are copied out of the input, so a script that keeps one does
// not keep the whole response alive; only longer text is a view into it.
func TestShortStringsAreCopied(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	long := strings.Repeat("x", maxCopiedLen+1)
	body := []byte(`{"_id":"5ALsG3QhpJfdMpyc8","ts":"2024-07-02T18:07:35.267Z","max":"` +
		strings.Repeat("m", maxCopiedLen) + `","short":"c","long":"` + long + `"}`)
	v, err := DecodeBytes(L, body)
	require.NoError(t, err)
	tb := v.(*lua.LTable)
	for _, k := range []string{"_id", "ts", "max", "short"} {
		s := string(tb.RawGetString(k).(lua.LString))
		assert.False(t, inBody(s, body), "%s (%d bytes) is a view into the input", k, len(s))
	}
	assert.Equal(t, zeroCopy, inBody(string(tb.RawGetString("long").(lua.LString)), body),
		"long text is a view (no copy), except in the purego build")

	// With the value cache full, short values are still copied.
	sd := dataOf(L)
	for i := len(sd.vals); i < maxInternedValues; i++ {
		sd.vals[fmt.Sprint("filler", i)] = lua.LString("x")
	}
	body2 := []byte(`["tiny","5ALsG3QhpJfdMpyc9"]`)
	v, err = DecodeBytes(L, body2)
	require.NoError(t, err)
	arr := v.(*lua.LTable)
	assert.Equal(t, lua.LString("tiny"), arr.RawGetInt(1))
	for i := 1; i <= 2; i++ {
		assert.False(t, inBody(string(arr.RawGetInt(i).(lua.LString)), body2), "item %d is a view", i)
	}
}

// TestEmptyObjectsAllocateOnlyTheirTable: {} builds no key list and no
// preallocated array or hash part: one allocation, the table.
func TestEmptyObjectsAllocateOnlyTheirTable(t *testing.T) { // not parallel: it counts allocations
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	three := []byte(`[{},{},{}]`) // arrays of three or more: two allocations
	seven := []byte(`[{},{},{},{},{},{},{}]`)
	decode := func(b []byte) func() {
		return func() {
			if _, err := DecodeBytes(L, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	decode(seven)() // warm the state's buffers
	perObject := (testing.AllocsPerRun(50, decode(seven)) - testing.AllocsPerRun(50, decode(three))) / 4
	assert.Equal(t, 1.0, perObject, "allocations per {}")
}

// ctxOf is L's context, or context.Background when it has none.
func ctxOf(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
