package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkEntryCost measures what one tiny entry (a 6-byte key, the
// value 1) costs: the heap of the namespace's entries in memory
// (heap-B/entry) and the growth of the bbolt file (file-B/entry), the
// figures EntryOverhead is chosen from.
func BenchmarkEntryCost(b *testing.B) {
	const n = 20000
	for _, c := range []struct {
		name  string
		key   func(i int) string
		value []byte
	}{
		{"tiny-in-order", func(i int) string { return fmt.Sprintf("k%05d", i) }, []byte("1")},
		{"tiny-random", func(i int) string { return fmt.Sprintf("%06x", uint32(i)*2654435761%(1<<24)) }, []byte("1")},
		{"100B-random", func(i int) string { return fmt.Sprintf("seen:%08x", uint32(i)*2654435761) }, []byte(`"` + strings.Repeat("x", 98) + `"`)},
	} {
		b.Run(c.name, func(b *testing.B) { entryCost(b, n, c.key, c.value) })
	}
}

func entryCost(b *testing.B, n int, key func(int) string, value []byte) {
	for b.Loop() {
		dir := b.TempDir()
		d, err := Open(dir, Options{MaxTotalBytes: 1 << 30, SweepEvery: -1, noSync: true})
		require.NoError(b, err)
		ns := d.Namespace("s")
		ctx := context.Background()
		before := heap()
		for i := range n {
			require.NoError(b, ns.Set(ctx, key(i), value, 0))
		}
		after := heap()
		fi, err := os.Stat(filepath.Join(dir, FileName))
		require.NoError(b, err)
		require.NoError(b, d.Close())
		b.ReportMetric(float64(after-before)/float64(n), "heap-B/entry")
		b.ReportMetric(float64(fi.Size())/float64(n), "file-B/entry")
	}
}

func heap() uint64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return m.HeapAlloc
}
