package luajson

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
)

// repeatArray is the JSON array of n copies of item.
func repeatArray(item string, n int) string {
	return "[" + strings.Repeat(item+",", n-1) + item + "]"
}

// TestDecodeCountsWhatItBuilds: the budget counts the tables and values a
// decode makes, not the input's size: input of many small containers is
// refused, by every entry point, while realistic responses pass. The
// limit is scaled to each input, as MaxDecodedSize is to MaxDecodeSize,
// so that the outcome is the one of a 32 MiB input of the same kind
// (limits_big_test.go runs those in full).
func TestDecodeCountsWhatItBuilds(t *testing.T) {
	t.Parallel()
	const ratio = MaxDecodedSize / MaxDecodeSize
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()

	for _, bomb := range []string{
		repeatArray("[]", 10000),
		repeatArray("{}", 10000),
		repeatArray("0", 50000), // a single array of 50,000 values
		repeatArray(`{"a":0}`, 2000),
		`{"x":` + repeatArray("[[]]", 5000) + `}`,
	} {
		limit := ratio * len(bomb)
		SetMaxDecodedSize(L, limit)
		_, err := Decode(L, bomb)
		var le *LimitError
		require.ErrorAs(t, err, &le, "%.20s... (%d bytes)", bomb, len(bomb))
		assert.Equal(t, limit, le.Limit)
		assert.Less(t, le.Offset, len(bomb), "refused before the end of the input")
		assert.Contains(t, err.Error(), fmt.Sprintf("json: decoded value exceeds the limit of %d bytes", limit))

		_, err = DecodeBytes(L, []byte(bomb))
		assert.ErrorAs(t, err, &le, "DecodeBytes")
	}

	// DecodeMember builds the members it drops: they count too.
	body := []byte(`{"drop":` + repeatArray("[]", 10000) + `,"keep":{}}`)
	SetMaxDecodedSize(L, ratio*len(body))
	_, err := DecodeMember(L, body, "keep")
	var le *LimitError
	assert.ErrorAs(t, err, &le, "DecodeMember")

	// Real subscriptions, and a body of long texts, fit.
	for _, body := range [][]byte{
		fixture.SubscriptionsBody(1000),
		[]byte(repeatArray(`{"_id":"5ALsG3QhpJfdMpyc8","msg":"`+strings.Repeat("word ", 40)+`"}`, 1000)),
	} {
		SetMaxDecodedSize(L, ratio*len(body))
		v, err := DecodeBytes(L, body)
		require.NoError(t, err, "%.30s... (%d bytes)", body, len(body))
		assert.Equal(t, lua.LTTable, v.Type())
	}
}

// TestDecodeStopsAtTheDeadline: a decode looks at the state's context as
// it goes and stops once it is done, by every entry point.
func TestDecodeStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	body := fixture.SubscriptionsBody(1000) // about 8 MB of tables
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	L.SetContext(ctx)

	_, err := DecodeBytes(L, body)
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "json: decoding stopped at offset ")
	_, err = DecodeMember(L, body, "update")
	assert.ErrorIs(t, err, context.Canceled, "DecodeMember")
	_, err = Decode(L, string(body))
	assert.ErrorIs(t, err, context.Canceled, "Decode")

	L.RemoveContext()
	_, err = DecodeBytes(L, body)
	assert.NoError(t, err, "no context, no deadline")
}

// TestDecodeDropsHugeBuffers: the scratch space of one huge document is
// not kept by the state after the decode.
func TestDecodeDropsHugeBuffers(t *testing.T) {
	t.Parallel()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	_, err := Decode(L, repeatArray("1", 200000))
	require.NoError(t, err)
	sd := dataOf(L)
	assert.LessOrEqual(t, cap(sd.stack), maxKeptEntries, "the stack of 200,000 values is not kept")
	_, err = Decode(L, repeatArray(`"\n"`, 10))
	require.NoError(t, err)
	assert.NotZero(t, cap(sd.stack), "small buffers are kept")
}

// TestEncodeBoundsItsText: a table sharing subtables (not a cycle) is
// refused once its text exceeds MaxEncodeSize, while it is written,
// however many leaves it has (2^40 here); so is a string too long to fit.
func TestEncodeBoundsItsText(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		dag = {}
		for i = 1, 40 do dag = {dag, dag} end
		wide = {}
		for i = 1, 30 do wide = {a = wide, b = wide} end
	`))
	for _, name := range []string{"dag", "wide"} {
		_, err := Encode(context.Background(), L.GetGlobal(name))
		require.ErrorIs(t, err, ErrEncodedTooLarge, name)
		assert.EqualError(t, err, "json: encoded text exceeds the limit of 16777216 bytes")
	}

	long := lua.LString(strings.Repeat("x", MaxEncodeSize-1))
	_, err := Encode(context.Background(), long)
	assert.ErrorIs(t, err, ErrEncodedTooLarge, "a string whose text does not fit")
	out, err := Encode(context.Background(), lua.LString(strings.Repeat("x", MaxEncodeSize-2)))
	require.NoError(t, err, "a string whose text just fits")
	assert.Len(t, out, MaxEncodeSize)
	esc := lua.LString(strings.Repeat("\x01", MaxEncodeSize/6+1))
	_, err = Encode(context.Background(), esc)
	assert.ErrorIs(t, err, ErrEncodedTooLarge, "escapes grow the text past the limit")
}

// TestEncodeStopsAtTheDeadline: Encode looks at its context as it goes.
func TestEncodeStopsAtTheDeadline(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		big = {}
		for i = 1, 100000 do big[i] = {id = i} end
	`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Encode(ctx, L.GetGlobal("big"))
	require.ErrorIs(t, err, context.Canceled)
	assert.EqualError(t, err, "json: encoding stopped: context canceled")
	_, err = Encode(context.Background(), L.GetGlobal("big"))
	assert.NoError(t, err)
}

// TestEncodeErrorsCapThePath: a path of 200 levels shows its ends and
// how many levels it leaves out, not all of them; Path keeps them all.
func TestEncodeErrorsCapThePath(t *testing.T) {
	t.Parallel()
	L := newState(t)
	require.NoError(t, L.DoString(`
		deep = {}
		local cur = deep
		for i = 1, 250 do cur.a = {} cur = cur.a end
		list = {}
		cur = list
		for i = 1, 9 do cur[1] = {} cur = cur[1] end
		cur[1] = print
		six = {a = {b = {c = {d = {e = {f = print}}}}}}
		five = {a = {b = {c = {d = {e = print}}}}}
	`))
	_, err := Encode(context.Background(), L.GetGlobal("deep"))
	var ee *EncodeError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "json: a.a ... (195 more) ... a.a.a: nesting deeper than 200", err.Error())
	assert.Equal(t, strings.TrimSuffix(strings.Repeat("a.", 200), "."), ee.Path, "Path is whole")

	_, err = Encode(context.Background(), L.GetGlobal("list"))
	assert.EqualError(t, err, "json: [1][1] ... (5 more) ... [1][1][1]: cannot encode a function")
	_, err = Encode(context.Background(), L.GetGlobal("six"))
	assert.EqualError(t, err, "json: a.b ... (1 more) ... d.e.f: cannot encode a function")
	_, err = Encode(context.Background(), L.GetGlobal("five"))
	assert.EqualError(t, err, "json: a.b.c.d.e: cannot encode a function", "five elements are shown whole")
}

// TestEncodeErrorsClipKeys: an error names at most 64 bytes of each key
// of its path, so 200 levels of a 64 KB key make a short message, not a
// 13 MB one.
func TestEncodeErrorsClipKeys(t *testing.T) {
	t.Parallel()
	L := newState(t)
	L.SetGlobal("k", lua.LString(strings.Repeat("k", 1<<16)))
	L.SetGlobal("odd", lua.LString(strings.Repeat("é", 1<<15)))
	require.NoError(t, L.DoString(`
		deep = {}
		local cur = deep
		for i = 1, 199 do cur[k] = {} cur = cur[k] end
		cur.x = print
		mixed = {1, [odd] = 2}
		badkey = {[odd .. "\255"] = 1}
	`))
	for _, name := range []string{"deep", "mixed", "badkey"} {
		_, err := Encode(context.Background(), L.GetGlobal(name))
		var ee *EncodeError
		require.ErrorAs(t, err, &ee, "%s: %.300v", name, err)
		assert.Less(t, len(err.Error()), 64<<10, "%s: message of %d bytes", name, len(err.Error()))
		assert.Contains(t, err.Error(), "...", name)
	}
	_, err := Encode(context.Background(), L.GetGlobal("deep"))
	assert.True(t, strings.HasPrefix(err.Error(), `json: ["`+strings.Repeat("k", 64)+`..."]["`), err.Error()[:100])
	assert.True(t, strings.HasSuffix(err.Error(), `..."].x: cannot encode a function`))

	assert.Equal(t, strings.Repeat("é", 32)+"...", Clip(strings.Repeat("é", 40)), "whole characters")
	assert.Equal(t, "short", Clip("short"))
	assert.False(t, errors.Is(err, ErrEncodedTooLarge))
}
