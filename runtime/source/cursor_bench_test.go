package source

import (
	"bytes"
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

// BenchmarkTrackedEmitWithPosition is BenchmarkTrackedEmit for events that
// carry a position (as every event of Poll and Realtime does), recorded
// once handled until the next state is saved (one per 1,000 events here).
func BenchmarkTrackedEmitWithPosition(b *testing.B) {
	sv := newCursorSaver(&MemCursors{}, "x", time.Hour, zerolog.Nop())
	emit := sv.track(func(_ context.Context, ev Event) error { ev.Handled(); return nil })
	ctx := context.Background()
	ev := Event{Kind: KindSubscription, Action: ActionUpdated, ID: "s", pos: position{kind: posSubscription, id: "s", at: 1, sum: 2}}
	state := []byte(`{"v":1}`)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = emit(ctx, ev)
		if i++; i%1000 == 0 {
			state = append(state[:0], fmt.Sprintf(`{"v":1,"cursor":%d}`, i)...)
			sv.offer(bytes.Clone(state))
			sv.flush()
		}
	}
}

// BenchmarkCursorFlushWithMarks is the cost of one save (at most one per
// CursorEvery) while an event stays unhandled: the state of a bot with
// 1,000 subscriptions with the positions of 1,000 events handled after it.
func BenchmarkCursorFlushWithMarks(b *testing.B) {
	st := &pollState{p: &Poll{}, known: map[string]time.Time{}, seen: map[seenKey]bool{}, cursor: time.Now()}
	for i := range 1000 {
		st.known[fmt.Sprintf("sub%014d", i)] = time.Now().Add(time.Duration(-i) * time.Second)
	}
	state := st.snapshot(nil)
	marks := make([]mark, 1000)
	for i := range marks {
		marks[i] = mark{seq: uint64(i), pos: position{kind: posSubscription, id: fmt.Sprintf("sub%014d", i), at: int64(i), sum: uint64(i)}}
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(withMarks(state, marks, nil))
	}
	b.ReportMetric(float64(n), "bytes/state")
}
