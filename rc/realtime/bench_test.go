package realtime

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
)

// benchFrame is a __my_messages__ event as rctest renders one (about 600
// bytes, EJSON dates).
var benchFrame = []byte(`{"msg":"changed","collection":"stream-room-messages","id":"id","fields":{"eventName":"__my_messages__","args":[{"_id":"Hq5tLzYyv3KqL8QnC","rid":"GENERAL","msg":"@rclua.bot can you post the changelog? The build is green again.","ts":{"$date":1719943655267},"u":{"_id":"rcluaAliceUser001","username":"alice","name":"Alice Doe"},"mentions":[{"_id":"rcluaBotUser00001","username":"rclua.bot","name":"rclua Bot","type":"user"}],"channels":[],"md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"can you post the changelog?"}]}],"urls":[],"_updatedAt":{"$date":1719943655267}},{"roomParticipant":true,"roomType":"c","roomName":"general"}]}}`)

// blastServer answers the handshake, then writes n frames after the sub.
func blastServer(b *testing.B, n int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var m struct{ Msg, ID string }
			_ = json.Unmarshal(data, &m)
			switch m.Msg {
			case "connect":
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"msg":"connected","session":"s"}`))
			case "method":
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"msg":"result","id":"`+m.ID+`","result":{"id":"u","token":"t","type":"resume"}}`))
			case "sub":
				_ = ws.Write(ctx, websocket.MessageText, []byte(`{"msg":"ready","subs":["`+m.ID+`"]}`))
				for range n {
					if ws.Write(ctx, websocket.MessageText, benchFrame) != nil {
						return
					}
				}
			}
		}
	}))
}

// BenchmarkEvents measures stream events through the client: read from a
// real websocket on loopback, decoded into Events, delivered on the
// channel and received (the server's writes run on the same machine).
// With "message", the consumer also decodes each message (Event.Message).
func BenchmarkEvents(b *testing.B) {
	for _, decode := range []bool{false, true} {
		name := "dispatch"
		if decode {
			name = "message"
		}
		b.Run(name, func(b *testing.B) {
			srv := blastServer(b, b.N)
			defer srv.Close()
			c, err := Dial(context.Background(), srv.URL, "t")
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			b.ResetTimer()
			if _, err := c.SubscribeMyMessages(context.Background()); err != nil {
				b.Fatal(err)
			}
			for n := 0; n < b.N; {
				ev := <-c.Events()
				if ev.Kind != Changed {
					continue
				}
				if decode {
					if _, _, err := ev.Message(); err != nil {
						b.Fatal(err)
					}
				}
				n++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkDecodeFrame measures the decoding of one event frame alone.
func BenchmarkDecodeFrame(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchFrame)))
	for b.Loop() {
		f, err := decodeFrame(benchFrame)
		if err != nil || len(f.Fields.Args) != 2 {
			b.Fatal(err)
		}
		_ = rawArgs(f.Fields.Args)
	}
}
