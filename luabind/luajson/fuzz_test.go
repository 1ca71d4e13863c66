package luajson

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
)

// FuzzJSONRoundTrip: whatever the decoder accepts is valid JSON, encodes
// back to valid JSON meaning the same (as encoding/json reads both), and
// re-encoding is stable. Valid JSON it refuses must be refused for a
// documented reason.
func FuzzJSONRoundTrip(f *testing.F) {
	f.Add([]byte(fixture.GetOneBody))
	f.Add([]byte(`{"a":[1,null,{"b":[]}],"c":{},"d":"\u00e9\ud83d\ude00","e":-1.5e-7}`))
	f.Add([]byte(`[9007199254740993, 1e21, -0, 0.1, "\u0000\\\""]`))
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeBytes(L, data)
		if err != nil {
			if !json.Valid(data) {
				return
			}
			msg := err.Error()
			switch {
			case !utf8.Valid(data),
				strings.Contains(msg, "nesting deeper than"),
				strings.Contains(msg, "number out of range"):
				return
			}
			t.Fatalf("valid JSON %q refused: %v", data, err)
		}
		if !json.Valid(data) {
			t.Fatalf("invalid JSON %q accepted", data)
		}
		out, err := Encode(context.Background(), v)
		if err != nil {
			t.Fatalf("encode of decoded %q: %v", data, err)
		}
		if !json.Valid(out) {
			t.Fatalf("encode of %q gave invalid JSON %q", data, out)
		}
		var want, got any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("encoding/json on %q: %v", data, err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("encoding/json on output %q: %v", out, err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("round trip changed the value:\n in: %q\nout: %q", data, out)
		}
		v2, err := DecodeBytes(L, out)
		if err != nil {
			t.Fatalf("decode of own output %q: %v", out, err)
		}
		out2, err := Encode(context.Background(), v2)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding is not stable: %q -> %q (%v)", out, out2, err)
		}
	})
}
