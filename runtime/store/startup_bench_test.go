package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/store"
)

// BenchmarkDaemonStart100x1000 is the daemon's start-up with a state of
// 1,000 keys in each of 100 scripts: open the store, then load the 100
// scripts, each reading one of its keys at its top level (which loads its
// namespace), until the host reports the initial load done.
//
//	go test -run='^$' -bench=DaemonStart100x1000 -benchmem -count=5 ./runtime/store/
func BenchmarkDaemonStart100x1000(b *testing.B) {
	state, scripts := b.TempDir(), b.TempDir()
	d, err := store.Open(state, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	store.Fill(b, d, 100, 1000)
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		src := fmt.Sprintf("local v = rc.store.get(\"k%d\")\nassert(v and v.count == 12, \"the key is there\")\nrc.every(\"1h\", function() end)\n", i)
		if err := os.WriteFile(filepath.Join(scripts, fmt.Sprintf("script%d.lua", i)), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		d, err := store.Open(state, store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		h, err := runtime.New(runtime.Config{ScriptsDir: scripts, Rescan: time.Hour},
			runtime.Deps{Module: &luabind.Module{}, Store: d}, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- h.Run(ctx) }()
		select {
		case <-h.Loaded():
		case <-time.After(time.Minute):
			b.Fatal("the initial load took over a minute")
		}
		took := time.Since(start)
		running := 0
		for _, s := range h.Status() {
			if s.State == runtime.StateRunning {
				running++
			}
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
		if running != 100 {
			b.Fatalf("%d scripts running, want 100", running)
		}
		b.ReportMetric(took.Seconds(), "start-s")
	}
}
