package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/source"
)

// benchHost runs a host on dir until the returned stop is called.
func benchHost(b *testing.B, cfg Config) (*Host, func()) {
	b.Helper()
	if cfg.Rescan == 0 {
		cfg.Rescan = time.Hour
	}
	h := newHost(cfg, env{module: &luabind.Module{}}, nil, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	select {
	case <-h.Loaded():
	case <-time.After(time.Minute):
		b.Fatal("initial load timed out")
	}
	return h, func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

func (h *Host) actorOf(name string) *actor {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.actors[name]
}

func statusOf(h *Host, name string) ScriptStatus {
	for _, s := range h.Status() {
		if s.Name == name {
			return s
		}
	}
	return ScriptStatus{}
}

var benchSub = source.Event{Kind: source.KindSubscription, Action: source.ActionUpdated, ID: "sub1", Raw: []byte(`{"_id":"sub1","rid":"GENERAL","name":"general","t":"c",` +
	`"u":{"_id":"rcluaBotUser00001","username":"rclua.bot"},"open":true,"alert":true,"unread":3,"userMentions":1,` +
	`"groupMentions":0,"ts":"2024-07-01T10:00:00.000Z","ls":"2024-07-02T09:00:00.000Z","_updatedAt":"2024-07-02T18:07:35.267Z"}`)}

// BenchmarkReloadLatency measures a save (file renamed into place) until
// the new version has handled an event; the debounce is part of it and is
// reported separately.
func BenchmarkReloadLatency(b *testing.B) {
	dir := b.TempDir()
	script := func(i int) string {
		return fmt.Sprintf("local v = %d\nrc.on(\"subscription\", function(action, sub) last = v end)\n", i)
	}
	path := filepath.Join(dir, "a.lua")
	if err := os.WriteFile(path, []byte(script(0)), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := Config{ScriptsDir: dir}
	h, stop := benchHost(b, cfg)
	defer stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		content := script(i)
		tmp := filepath.Join(dir, ".a.lua.tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		want := hashOf(content)
		for statusOf(h, "a").Hash != want {
			time.Sleep(200 * time.Microsecond)
			if time.Since(start) > 10*time.Second {
				b.Fatal("reload did not happen")
			}
		}
		done := make(chan struct{})
		runs := statusOf(h, "a").Runs
		h.actorOf("a.lua").enqueue(context.Background(), message{ev: &benchSub, done: done})
		<-done
		lat = append(lat, time.Since(start))
		if statusOf(h, "a").Runs != runs+1 {
			b.Fatal("the new version did not handle the event")
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Millisecond), "median-ms")
	b.ReportMetric(float64(h.cfg.Debounce)/float64(time.Millisecond), "debounce-ms")
	b.ReportMetric(float64(lat[len(lat)/2]-h.cfg.Debounce)/float64(time.Millisecond), "over-debounce-ms")
}

// BenchmarkDispatch measures events into one script's Lua handler through
// its queue (enqueue, waiting for a place when it is full), including the
// JSON -> Lua conversion of the subscription. The events are "inserted"
// ones, which never merge: each is handled.
func BenchmarkDispatch(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte(
		"local n = 0\nrc.on(\"subscription\", function(action, sub) if sub.unread > 0 then n = n + 1 end end)\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	h, stop := benchHost(b, Config{ScriptsDir: dir, QueueLen: 4096})
	defer stop()
	a := h.actorOf("a.lua")
	ev := benchSub
	ev.Action = source.ActionInserted
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N-1; i++ {
		a.enqueue(ctx, message{ev: &ev})
	}
	done := make(chan struct{})
	a.enqueue(ctx, message{ev: &ev, done: done})
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if st := statusOf(h, "a"); st.Runs != uint64(b.N) || st.Errors != 0 {
		b.Fatalf("runs %d errors %d, want %d and 0", st.Runs, st.Errors, b.N)
	}
}

// BenchmarkNewState measures one sandboxed state with the rc table and the
// triggers installed.
func BenchmarkNewState(b *testing.B) {
	m := &luabind.Module{}
	b.ReportAllocs()
	for b.Loop() {
		L := sandbox.New(sandbox.Options{})
		m.Open(L, &registry{mode: modeRun, loading: true})
		L.Close()
	}
}

// BenchmarkLoad1000 loads 1,000 small scripts and reports the time and
// the heap the running host holds.
//
//	go test -run='^$' -bench=Load1000 -count=5 ./runtime/
func BenchmarkLoad1000(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		content := fmt.Sprintf("-- script %d\nlocal count = 0\nrc.on(\"subscription\", function(action, sub) count = count + 1 end)\nrc.every(\"1h\", function() rc.log.info(\"tick %d\") end)\n", i, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%04d.lua", i)), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var heap uint64
	var took time.Duration
	for b.Loop() {
		// The previous iteration's (or run's) host is garbage only once
		// its finalizers ran: measure from a settled heap, or its ~170 MB
		// would count as "before" and the figure shrink to a few MB.
		before := settledHeap()
		start := time.Now()
		h, stop := benchHost(b, Config{ScriptsDir: dir})
		took = time.Since(start)
		after := settledHeap()
		heap = after - min(before, after)
		running := 0
		for _, s := range h.Status() {
			if s.State == StateRunning {
				running++
			}
		}
		stop()
		if running != 1000 {
			b.Fatalf("%d scripts running, want 1000", running)
		}
	}
	b.ReportMetric(took.Seconds(), "load-s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
}

// settledHeap collects garbage until the live heap stops shrinking (objects
// with finalizers, and whatever they hold, go only in a later cycle) and
// returns it, in bytes.
func settledHeap() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	for range 10 {
		prev := ms.HeapAlloc
		goruntime.GC()
		goruntime.ReadMemStats(&ms)
		if ms.HeapAlloc >= prev-prev/100 {
			break
		}
	}
	return ms.HeapAlloc
}
