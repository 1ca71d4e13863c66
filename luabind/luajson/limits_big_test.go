//go:build !race

package luajson

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
)

// This file runs the real limits on inputs of their full size. It builds
// some 300 MB at a time (a gigabyte under the race detector, hence the
// build tag);
// limits_test.go runs the same checks on a lowered limit in every build.

// TestDecodeBombsAtFullSize: 32 MiB arrays of empty tables, empty objects,
// zeros and one-member objects (a gigabyte and more of tables once built)
// are refused by MaxDecodedSize, while 32 MiB of real subscriptions pass.
// Not parallel: it should not share the heap with the other tests.
func TestDecodeBombsAtFullSize(t *testing.T) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, item := range []string{"[]", "{}", "0", `{"a":0}`} {
		bomb := repeatArray(item, (MaxDecodeSize-1)/(len(item)+1))
		require.LessOrEqual(t, len(bomb), MaxDecodeSize)
		_, err := Decode(L, bomb)
		var le *LimitError
		require.ErrorAs(t, err, &le, "[%s,...]", item)
		assert.Equal(t, MaxDecodedSize, le.Limit)
		assert.Contains(t, err.Error(), "json: decoded value exceeds the limit of 335544320 bytes")
	}

	body := fixture.SubscriptionsBody(54000)
	require.Greater(t, len(body), 31<<20)
	require.LessOrEqual(t, len(body), MaxDecodeSize)
	v, err := DecodeBytes(L, body)
	require.NoError(t, err, "%d bytes of subscriptions", len(body))
	assert.Equal(t, 54000, v.(*lua.LTable).RawGetString("update").(*lua.LTable).Len())
}
