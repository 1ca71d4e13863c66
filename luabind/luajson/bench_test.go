package luajson

import (
	"context"
	"encoding/json"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/internal/fixture"
)

// BenchmarkDecodeSubscriptions converts a 5,000-subscription
// subscriptions.get body into Lua tables.
//
//	go test -run='^$' -bench=Subscriptions -benchmem ./luabind/luajson/
//	go test -run='^$' -bench=Subscriptions -benchmem -tags purego ./luabind/luajson/
func BenchmarkDecodeSubscriptions(b *testing.B) {
	body := fixture.SubscriptionsBody(5000)
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := DecodeBytes(L, body)
		if err != nil || v.Type() != lua.LTTable {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSubscriptionsEncodingJSON is the floor: the same body
// into []map[string]any with encoding/json.
func BenchmarkDecodeSubscriptionsEncodingJSON(b *testing.B) {
	body := fixture.SubscriptionsBody(5000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var out struct {
			Update []map[string]any `json:"update"`
			Remove []map[string]any `json:"remove"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Update) != 5000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeSubscriptions encodes the decoded 5,000 subscriptions back.
func BenchmarkEncodeSubscriptions(b *testing.B) {
	body := fixture.SubscriptionsBody(5000)
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	v, err := DecodeBytes(L, body)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(context.Background(), v); err != nil {
			b.Fatal(err)
		}
	}
}

// benchMessage is a message as Rocket.Chat's stream delivers it (the
// runtime's BenchmarkHearDispatch sends the same one).
const benchMessage = `{"_id":"kJ3ZsbW7TLSsyXc9Q","rid":"GENERAL","msg":"@rclua.bot deploy staging v1.4.2 please","ts":"2024-07-03T09:46:40.123Z",` +
	`"u":{"_id":"rcluaAliceUser001","username":"alice","name":"Alice Doe"},` +
	`"mentions":[{"_id":"rcluaBotUser00001","username":"rclua.bot","name":"rclua Bot","type":"user"}],"channels":[],` +
	`"tmid":"q8PBxW2yYmGBrHnhR","md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"deploy staging v1.4.2 please"}]}],` +
	`"_updatedAt":"2024-07-03T09:46:40.123Z"}`

// BenchmarkDecodeMessage converts one chat message into Lua tables, as
// every message event does.
//
//	go test -run='^$' -bench=DecodeMessage -benchmem ./luabind/luajson/
func BenchmarkDecodeMessage(b *testing.B) {
	body := []byte(benchMessage)
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		v, err := DecodeBytes(L, body)
		if err != nil || v.Type() != lua.LTTable {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeMessageEncodingJSON is the floor: the same message into
// map[string]any with encoding/json.
func BenchmarkDecodeMessageEncodingJSON(b *testing.B) {
	body := []byte(benchMessage)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil || len(out) != 10 {
			b.Fatal(err)
		}
	}
}
