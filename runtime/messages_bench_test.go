package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime/source"
)

// benchMessage is a message as Rocket.Chat's stream delivers it (the shape
// of rctest's chat.postMessage answer, with a mention and a thread).
var benchMessage = source.Event{Kind: source.KindMessage, Action: source.ActionCreated, ID: "kJ3ZsbW7TLSsyXc9Q", Raw: []byte(
	`{"_id":"kJ3ZsbW7TLSsyXc9Q","rid":"GENERAL","msg":"@rclua.bot deploy staging v1.4.2 please","ts":"2024-07-03T09:46:40.123Z",` +
		`"u":{"_id":"rcluaAliceUser001","username":"alice","name":"Alice Doe"},` +
		`"mentions":[{"_id":"rcluaBotUser00001","username":"rclua.bot","name":"rclua Bot","type":"user"}],"channels":[],` +
		`"tmid":"q8PBxW2yYmGBrHnhR","md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"deploy staging v1.4.2 please"}]}],` +
		`"_updatedAt":"2024-07-03T09:46:40.123Z"}`)}

// BenchmarkHearDispatch measures new messages into one script's rc.hear
// handler through its queue: the JSON -> Lua conversion, the filters (own
// message, edit, system message) and the RE2 match with captures, then the
// script's function. Every message matches (the script reports each match
// with its captures to a counter of the benchmark).
//
//	go test -run='^$' -bench=HearDispatch -benchtime=200000x ./runtime/
func BenchmarkHearDispatch(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte(`
rc.hear(rc.re.compile([[deploy (\w+) (\S+)]]), function(msg, env, version)
  if env == "staging" and version == "v1.4.2" and msg.u.username == "alice" then matched() end
end)
`), 0o644); err != nil {
		b.Fatal(err)
	}
	var matched atomic.Int64
	e := env{
		module: &luabind.Module{Bot: rc.UserRef{ID: "rcluaBotUser00001", Username: "rclua.bot"}},
		extra: func(L *lua.LState) {
			L.SetGlobal("matched", L.NewFunction(func(*lua.LState) int { matched.Add(1); return 0 }))
		},
	}
	h := newHost(Config{ScriptsDir: dir, QueueLen: 4096, Rescan: time.Hour}, e, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}()
	<-h.Loaded()
	a := h.actorOf("a.lua")
	ev := benchMessage
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N-1; i++ {
		a.enqueue(ctx, message{ev: &ev})
	}
	last := make(chan struct{})
	a.enqueue(ctx, message{ev: &ev, done: last})
	<-last
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "messages/s")
	if st := statusOf(h, "a"); st.Runs != uint64(b.N) || st.Errors != 0 || matched.Load() != int64(b.N) {
		b.Fatalf("runs %d errors %d matched %d, want %d, 0 and %[4]d", st.Runs, st.Errors, matched.Load(), b.N)
	}
}
