package source

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkCursorSnapshot is the cost of one state offered to the saver
// (at most one per CursorEvery) for a bot with 1,000 subscriptions and 100
// versions within the overlap.
func BenchmarkCursorSnapshot(b *testing.B) {
	st := &pollState{p: &Poll{}, known: map[string]time.Time{}, seen: map[seenKey]bool{}, cursor: time.Now()}
	for i := range 1000 {
		st.known[fmt.Sprintf("sub%014d", i)] = time.Now().Add(time.Duration(-i) * time.Second)
	}
	for i := range 100 {
		st.seen[seenKey{id: fmt.Sprintf("sub%014d", i), ts: int64(i), sum: uint64(i) * 7919}] = true
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(st.snapshot(nil))
	}
	b.ReportMetric(float64(n), "bytes/state")
}

// BenchmarkTrackedEmit is the cost the saver adds to each event emitted
// and handled.
func BenchmarkTrackedEmit(b *testing.B) {
	sv := newCursorSaver(&MemCursors{}, "x", time.Hour, zerolog.Nop())
	emit := sv.track(func(_ context.Context, ev Event) error { ev.Handled(); return nil })
	ctx := context.Background()
	ev := Event{Kind: KindSubscription, Action: ActionUpdated, ID: "s"}
	b.ReportAllocs()
	for b.Loop() {
		_ = emit(ctx, ev)
	}
}
