package store

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkSet is one durable set (bbolt commits and fsyncs), against the
// same without fsync and in memory: the difference is what durability
// costs.
//
//	go test -run='^$' -bench='Set|Get|Open|DaemonStart' -benchmem -count=5 ./runtime/store/
func BenchmarkSet(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(b *testing.B) *DB
	}{
		{"bolt-fsync", func(b *testing.B) *DB { return openBench(b, Options{}) }},
		{"bolt-nosync", func(b *testing.B) *DB { return openBench(b, Options{noSync: true}) }},
		{"memory", func(b *testing.B) *DB { return OpenMemory(Options{}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := c.open(b)
			defer d.Close()
			n := d.Namespace("s")
			ctx := context.Background()
			v := []byte(`{"count":12,"seen":"2024-05-01T10:00:00.000Z"}`)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := n.Set(ctx, "k"+strconv.Itoa(i%1000), v, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGet is one get from a namespace of 1,000 keys.
func BenchmarkGet(b *testing.B) {
	d := openBench(b, Options{})
	defer d.Close()
	n := d.Namespace("s")
	ctx := context.Background()
	for i := range 1000 {
		require.NoError(b, n.Set(ctx, "k"+strconv.Itoa(i), []byte(`{"count":12}`), 0))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := n.Get(ctx, "k"+strconv.Itoa(i%1000)); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkOpen100x1000 opens a store of 100 namespaces of 1,000 keys
// each (the open looks through them all for expired keys) and makes a
// first write into each (which loads its entries, and fsyncs: 100 of them).
func BenchmarkOpen100x1000(b *testing.B) {
	dir := b.TempDir()
	d := openBenchDir(b, dir, Options{})
	fill(b, d, 100, 1000)
	require.NoError(b, d.Close())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 100 {
			if err := d.Namespace("script"+strconv.Itoa(i)).Set(ctx, "k0", []byte("1"), 0); err != nil {
				b.Fatal(err)
			}
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// fill writes keys keys into each of spaces namespaces, one transaction
// per namespace.
func fill(tb testing.TB, d *DB, spaces, keys int) {
	for s := range spaces {
		err := d.be.update("script"+strconv.Itoa(s), func(bk bucket) error {
			for k := range keys {
				if err := bk.put([]byte("k"+strconv.Itoa(k)), entry([]byte(`{"count":12,"seen":"abc"}`), 0)); err != nil {
					return err
				}
			}
			return nil
		})
		require.NoError(tb, err)
	}
}

func openBench(b *testing.B, opts Options) *DB { return openBenchDir(b, b.TempDir(), opts) }

func openBenchDir(b *testing.B, dir string, opts Options) *DB {
	d, err := Open(dir, opts)
	require.NoError(b, err)
	return d
}
