package luabind

import "testing"

// TestShouldCollectBeforeLargeDecode: the GC before a large decode runs
// when the garbage, counting the previous large result unless a GC that
// began after it has completed, is at least the body and half the live
// heap; never for a heap that holds far more than the garbage (the GC
// would cost in proportion to it).
func TestShouldCollectBeforeLargeDecode(t *testing.T) {
	t.Parallel()
	const mb = 1 << 20
	body := uint64(2.5 * mb)
	prev := largeDecodes{cycles: 10, added: 17 * mb} // the last large decode's result
	for _, tc := range []struct {
		name string
		d    largeDecodes
		h    heapStats
		want bool
	}{
		{"garbage beyond the last GC's live heap", largeDecodes{}, heapStats{objects: 40 * mb, live: 20 * mb, cycles: 3}, true},
		{"the last GC saw the previous result live", prev, heapStats{objects: 24 * mb, live: 21 * mb, cycles: 10}, true},
		{"the GC running when it ended saw it live", prev, heapStats{objects: 24 * mb, live: 21 * mb, cycles: 11}, true},
		{"a GC begun after it ended has judged it", prev, heapStats{objects: 24 * mb, live: 21 * mb, cycles: 12}, false},
		{"a heap holding far more than the garbage", prev, heapStats{objects: 262 * mb, live: 240 * mb, cycles: 10}, false},
		{"garbage less than the body", largeDecodes{}, heapStats{objects: 6 * mb, live: 4 * mb, cycles: 3}, false},
		{"objects below the live heap (freed since)", largeDecodes{}, heapStats{objects: 3 * mb, live: 20 * mb, cycles: 3}, false},
		{"an empty heap, a first large decode", largeDecodes{}, heapStats{objects: 5 * mb, live: 2 * mb, cycles: 8}, true},
	} {
		if got := tc.d.shouldCollect(body, tc.h); got != tc.want {
			t.Errorf("%s: shouldCollect = %v, want %v", tc.name, got, tc.want)
		}
	}
}
