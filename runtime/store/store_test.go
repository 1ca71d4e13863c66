package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is an injected clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// backends runs f on a bbolt DB and on an in-memory one.
func backends(t *testing.T, opts Options, f func(t *testing.T, d *DB)) {
	t.Run("bolt", func(t *testing.T) {
		d, err := Open(t.TempDir(), opts)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		f(t, d)
	})
	t.Run("memory", func(t *testing.T) {
		d := OpenMemory(opts)
		t.Cleanup(func() { assert.NoError(t, d.Close()) })
		f(t, d)
	})
}

func get(t *testing.T, n Namespace, key string) (string, bool) {
	t.Helper()
	v, ok, err := n.Get(context.Background(), key)
	require.NoError(t, err, "get %q", key)
	return string(v), ok
}

func TestSetGetDeleteKeys(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, d *DB) {
		ctx := context.Background()
		n := d.Namespace("s")
		require.NoError(t, n.Set(ctx, "b", []byte(`{"x":[1,null]}`), 0))
		require.NoError(t, n.Set(ctx, "a", []byte(`1`), 0))
		require.NoError(t, n.Set(ctx, "ab", []byte(`"v"`), 0))
		v, ok := get(t, n, "b")
		assert.True(t, ok)
		assert.Equal(t, `{"x":[1,null]}`, v)
		_, ok = get(t, n, "missing")
		assert.False(t, ok, "an absent key")
		keys, err := n.Keys(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "ab", "b"}, keys, "sorted")
		keys, err = n.Keys(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "ab"}, keys, "prefix a")
		require.NoError(t, n.Delete(ctx, "a"))
		require.NoError(t, n.Delete(ctx, "a"), "deleting an absent key")
		_, ok = get(t, n, "a")
		assert.False(t, ok, "deleted")
		_, _, err = n.Get(ctx, "")
		assert.ErrorIs(t, err, ErrEmptyKey)
		assert.ErrorIs(t, n.Set(ctx, "", []byte("1"), 0), ErrEmptyKey)
	})
}

func TestNamespacesAreIsolated(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, d *DB) {
		ctx := context.Background()
		// Names that look like each other's prefixes or paths, and the
		// names of the store's own buckets.
		names := []string{"a", "ab", "a/b", "a\x00", "scripts", "cursors"}
		for _, name := range names {
			require.NoError(t, d.Namespace(name).Set(ctx, "k", []byte(strconv.Quote(name)), 0))
			require.NoError(t, d.Namespace(name).Set(ctx, "only-"+name, []byte("1"), 0))
		}
		require.NoError(t, d.SaveCursor("k", []byte("cursor")))
		for _, name := range names {
			v, ok := get(t, d.Namespace(name), "k")
			assert.True(t, ok)
			assert.Equal(t, strconv.Quote(name), v, "namespace %q", name)
			keys, err := d.Namespace(name).Keys(ctx, "")
			require.NoError(t, err)
			assert.Equal(t, []string{"k", "only-" + name}, keys, "namespace %q sees only its keys", name)
		}
		c, ok, err := d.LoadCursor("k")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "cursor", string(c), "the cursor is apart from every namespace")
		got, err := d.Names()
		require.NoError(t, err)
		assert.ElementsMatch(t, names, got)
	})
}

func TestTTL(t *testing.T) {
	t.Parallel()
	c := newClock()
	backends(t, Options{Now: c.Now, SweepEvery: -1}, func(t *testing.T, d *DB) {
		ctx := context.Background()
		n := d.Namespace("s")
		require.NoError(t, n.Set(ctx, "short", []byte("1"), time.Minute))
		require.NoError(t, n.Set(ctx, "long", []byte("2"), time.Hour))
		require.NoError(t, n.Set(ctx, "ever", []byte("3"), 0))
		c.add(59 * time.Second)
		_, ok := get(t, n, "short")
		assert.True(t, ok, "before its ttl")
		c.add(time.Second)
		_, ok = get(t, n, "short")
		assert.False(t, ok, "at its ttl the key vanishes on read")
		keys, err := n.Keys(ctx, "")
		require.NoError(t, err)
		assert.Equal(t, []string{"ever", "long"}, keys, "and from keys")
		var seen []byte
		require.NoError(t, n.Update(ctx, "short", func(old []byte) ([]byte, error) {
			seen = old
			return nil, nil
		}))
		assert.Nil(t, seen, "update sees an expired key as absent")

		// update keeps the expiry; set without ttl clears it.
		require.NoError(t, n.Update(ctx, "long", func(old []byte) ([]byte, error) { return []byte("20"), nil }))
		es, err := d.List(ctx, "s", "long")
		require.NoError(t, err)
		require.Len(t, es, 1)
		assert.Equal(t, c.Now().Add(time.Hour-time.Minute), es[0].Expires, "update keeps the expiry")

		c.add(2 * time.Hour)
		swept, err := d.Sweep(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, swept, "long is swept (the update that returned nil deleted short)")
		v, ok := get(t, n, "ever")
		assert.True(t, ok)
		assert.Equal(t, "3", v)
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	c := newClock()
	// Room for 30 bytes of keys and values in four keys.
	opts := Options{MaxKeyBytes: 8, MaxValueBytes: 10, MaxTotalBytes: 30 + 4*EntryOverhead, Now: c.Now, SweepEvery: -1}
	backends(t, opts, func(t *testing.T, d *DB) {
		ctx := context.Background()
		n := d.Namespace("s")
		var le *LimitError

		err := n.Set(ctx, "123456789", []byte("1"), 0)
		require.ErrorAs(t, err, &le, "a 9-byte key")
		assert.Equal(t, "key", le.What)
		assert.Contains(t, err.Error(), "a key of 9 bytes is more than the limit of 8")
		assert.NotContains(t, err.Error(), "123456789", "no part of the key (it may hold a secret)")
		_, _, err = n.Get(ctx, "123456789")
		assert.ErrorAs(t, err, &le, "get of a too long key")

		err = n.Set(ctx, "k", []byte(`"123456789"`), 0) // 11 bytes of JSON
		require.ErrorAs(t, err, &le, "an 11-byte value")
		assert.Equal(t, "value", le.What)
		err = n.Update(ctx, "k", func([]byte) ([]byte, error) { return []byte(`"123456789"`), nil })
		require.ErrorAs(t, err, &le, "the same value through update")
		assert.Equal(t, "value", le.What)
		_, ok := get(t, n, "k")
		assert.False(t, ok, "nothing written")

		// 3 entries of 1+9 bytes fill the 30; a fourth key is refused.
		for _, k := range []string{"a", "b", "c"} {
			require.NoError(t, n.Set(ctx, k, []byte("123456789"), 0), k)
		}
		err = n.Set(ctx, "d", []byte("1"), 0)
		require.ErrorAs(t, err, &le, "past the total")
		assert.Equal(t, "total", le.What)
		assert.Contains(t, err.Error(), "--store-limit")
		err = n.Update(ctx, "d", func([]byte) ([]byte, error) { return []byte("1"), nil })
		require.ErrorAs(t, err, &le, "past the total through update")
		// Overwriting with the same size fits; a bigger one does not.
		require.NoError(t, n.Set(ctx, "a", []byte("987654321"), 0), "same size")
		require.NoError(t, n.Set(ctx, "a", []byte("1"), 0), "smaller")
		require.NoError(t, n.Set(ctx, "d", []byte("1234567"), 0), "the room it freed")
		require.ErrorAs(t, n.Set(ctx, "e", []byte("1"), 0), &le)
		// Deleting frees room.
		require.NoError(t, n.Delete(ctx, "d"))
		require.NoError(t, n.Set(ctx, "e", []byte("1"), 0), "after a delete")
		// Other namespaces have their own total.
		require.NoError(t, d.Namespace("other").Set(ctx, "a", []byte("123456789"), 0))

		// Expired keys make room: the write sweeps them first.
		require.NoError(t, n.Delete(ctx, "e"))
		require.NoError(t, n.Set(ctx, "b", []byte("123456789"), time.Second))
		require.NoError(t, n.Set(ctx, "c", []byte("123456789"), time.Second))
		require.ErrorAs(t, n.Set(ctx, "f", []byte("123456789"), 0), &le, "before they expire")
		c.add(time.Second)
		require.NoError(t, n.Set(ctx, "f", []byte("123456789"), 0), "after they expired")
		require.NoError(t, n.Set(ctx, "b", []byte("123456789"), 0), "an expired key rewritten")
		require.ErrorAs(t, n.Set(ctx, "c", []byte("123456789"), 0), &le, "the total is still kept")
	})
}

func TestLimitsKeptAcrossReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{MaxTotalBytes: 20 + 2*EntryOverhead}
	d, err := Open(dir, opts)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.Namespace("s").Set(ctx, "a", []byte("123456789"), 0))
	require.NoError(t, d.Close())
	d, err = Open(dir, opts)
	require.NoError(t, err)
	defer d.Close()
	require.NoError(t, d.Namespace("s").Set(ctx, "b", []byte("123456789"), 0))
	var le *LimitError
	assert.ErrorAs(t, d.Namespace("s").Set(ctx, "c", []byte("1"), 0), &le, "the total counts what the file held at open")
}

func TestUpdateIsAtomic(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, d *DB) {
		ctx := context.Background()
		const workers, each = 4, 200
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := d.Namespace("s") // each its own handle, as two states would have
				for range each {
					err := n.Update(ctx, "count", func(old []byte) ([]byte, error) {
						v := 0
						if old != nil {
							var err error
							if v, err = strconv.Atoi(string(old)); err != nil {
								return nil, err
							}
						}
						return []byte(strconv.Itoa(v + 1)), nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		v, _ := get(t, d.Namespace("s"), "count")
		assert.Equal(t, strconv.Itoa(workers*each), v, "every increment counted once")
	})
}

func TestUpdateErrorWritesNothing(t *testing.T) {
	t.Parallel()
	backends(t, Options{}, func(t *testing.T, d *DB) {
		ctx := context.Background()
		n := d.Namespace("s")
		require.NoError(t, n.Set(ctx, "k", []byte("1"), 0))
		boom := errors.New("boom")
		err := n.Update(ctx, "k", func([]byte) ([]byte, error) { return []byte("2"), boom })
		assert.ErrorIs(t, err, boom)
		v, _ := get(t, n, "k")
		assert.Equal(t, "1", v, "unchanged")
		require.NoError(t, n.Update(ctx, "k", func([]byte) ([]byte, error) { return nil, nil }))
		_, ok := get(t, n, "k")
		assert.False(t, ok, "nil deletes")
	})
}

func TestWaitingForANamespaceEndsWithTheContext(t *testing.T) {
	t.Parallel()
	d := OpenMemory(Options{})
	defer d.Close()
	n := d.Namespace("s")
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- n.Update(context.Background(), "k", func([]byte) ([]byte, error) {
			close(inside)
			<-release
			return []byte("1"), nil
		})
	}()
	<-inside
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := n.Set(ctx, "k", []byte("2"), 0)
	assert.ErrorIs(t, err, context.Canceled, "a write waiting for the namespace")
	v, ok := get(t, n, "other")
	assert.False(t, ok, "reads do not wait: %q", v)
	close(release)
	require.NoError(t, <-done)
}

func TestSecondOpenFailsAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := Open(dir, Options{})
	require.NoError(t, err)
	defer d.Close()
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), dir, "names the dir")
	assert.Contains(t, err.Error(), "another rclua holds")
	// A read-only open wants a shared lock, which the writer's exclusive
	// one excludes: it fails the same way.
	_, err = Open(dir, Options{ReadOnly: true})
	assert.ErrorIs(t, err, ErrLocked, "read-only while a writer holds the file")
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Open(dir, Options{ReadOnly: true})
	assert.Error(t, err, "no store yet")
	_, statErr := os.Stat(filepath.Join(dir, FileName))
	assert.True(t, os.IsNotExist(statErr), "a read-only open creates nothing")

	d, err := Open(dir, Options{})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, d.Namespace("s").Set(ctx, "k", []byte("1"), 0))
	require.NoError(t, d.Close())

	r1, err := Open(dir, Options{ReadOnly: true})
	require.NoError(t, err)
	defer r1.Close()
	r2, err := Open(dir, Options{ReadOnly: true})
	require.NoError(t, err, "readers share the lock")
	defer r2.Close()
	v, ok := get(t, r2.Namespace("s"), "k")
	assert.True(t, ok)
	assert.Equal(t, "1", v)
	assert.ErrorIs(t, r1.Namespace("s").Set(ctx, "k", []byte("2"), 0), ErrReadOnly)
	assert.ErrorIs(t, r1.Namespace("s").Delete(ctx, "k"), ErrReadOnly)
	assert.ErrorIs(t, r1.SaveCursor("c", []byte("x")), ErrReadOnly)
	_, err = r1.Drop(ctx, "s")
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = Open(dir, Options{})
	assert.ErrorIs(t, err, ErrLocked, "a writer while readers hold the file")
}

func TestStateDirIsPrivate(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "state")
	d, err := Open(dir, Options{})
	require.NoError(t, err)
	defer d.Close()
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	fi, err = os.Stat(filepath.Join(dir, FileName))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestCursorsAndDropAndClose(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, err := Open(dir, Options{})
	require.NoError(t, err)
	ctx := context.Background()
	_, ok, err := d.LoadCursor("poll")
	require.NoError(t, err)
	assert.False(t, ok, "no cursor yet")
	require.NoError(t, d.SaveCursor("poll", []byte(`{"t":1}`)))
	require.NoError(t, d.Namespace("s").Set(ctx, "k", []byte("1"), 0))
	require.NoError(t, d.Namespace("t").Set(ctx, "k", []byte("1"), 0))
	found, err := d.Drop(ctx, "s")
	require.NoError(t, err)
	assert.True(t, found)
	found, err = d.Drop(ctx, "s")
	require.NoError(t, err)
	assert.False(t, found, "dropped twice")
	require.NoError(t, d.Close())
	require.NoError(t, d.Close(), "closed twice")
	assert.ErrorIs(t, d.Namespace("t").Set(ctx, "k", []byte("1"), 0), ErrClosed)
	_, _, err = d.LoadCursor("poll")
	assert.ErrorIs(t, err, ErrClosed)

	d, err = Open(dir, Options{})
	require.NoError(t, err)
	defer d.Close()
	c, ok, err := d.LoadCursor("poll")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, `{"t":1}`, string(c), "the cursor survives a reopen")
	_, ok = get(t, d.Namespace("s"), "k")
	assert.False(t, ok, "the dropped namespace")
	_, ok = get(t, d.Namespace("t"), "k")
	assert.True(t, ok, "the other namespace survives")
}

func TestSweeperRuns(t *testing.T) {
	t.Parallel()
	c := newClock()
	d, err := Open(t.TempDir(), Options{Now: c.Now, SweepEvery: time.Millisecond})
	require.NoError(t, err)
	defer d.Close()
	ctx := context.Background()
	require.NoError(t, d.Namespace("s").Set(ctx, "k", []byte("1"), time.Second))
	c.add(time.Second)
	// The expired key is no longer in the file once the sweeper has run.
	assert.Eventually(t, func() bool {
		n := 0
		_ = d.be.view("s", func(b bucket) error {
			return b.scan(nil, func(k, v []byte) error { n++; return nil })
		})
		return n == 0
	}, 10*time.Second, time.Millisecond, "the sweeper deletes the expired key")
}

// TestLimitErrorsHoldNoClippedKey: a too long key is named by its length
// only (a shortened key would carry part of a secret past the redaction,
// which matches whole values); the other limits name the whole key,
// which is at most MaxKeyBytes.
func TestLimitErrorsHoldNoClippedKey(t *testing.T) {
	t.Parallel()
	d := OpenMemory(Options{MaxValueBytes: 4})
	defer d.Close()
	ctx := context.Background()
	err := d.Namespace("s").Set(ctx, strings.Repeat("é", 1000), []byte("1"), 0)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "é")
	assert.Contains(t, err.Error(), "a key of 2000 bytes")
	key := "tok:" + strings.Repeat("s", 100) + ":seen"
	err = d.Namespace("s").Set(ctx, key, []byte(`"12345"`), 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), key, "the whole key, as the redaction can match it")
}

// TestManyTinyKeysAreBounded: tiny keys with the value 1 cannot pass the
// total by being small: each counts EntryOverhead, so the loop is refused
// at limit/(key+value+EntryOverhead) keys, by Set and by Update, and the
// count holds after a reopen.
func TestManyTinyKeysAreBounded(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	const perKey = 7 + 1 + EntryOverhead // "k000000", 1
	opts := Options{MaxTotalBytes: limit, SweepEvery: -1}
	key := func(i int) string { return "k" + strconv.Itoa(1_000_000 + i)[1:] }
	fillUp := func(t *testing.T, n Namespace) int {
		ctx := context.Background()
		for i := 0; ; i++ {
			err := n.Set(ctx, key(i), []byte("1"), 0)
			if err == nil {
				continue
			}
			var le *LimitError
			require.ErrorAs(t, err, &le, "set %d", i)
			assert.Equal(t, "total", le.What)
			assert.Contains(t, err.Error(), "counting 128 per key")
			err = n.Update(ctx, key(i+1), func([]byte) ([]byte, error) { return []byte("1"), nil })
			require.ErrorAs(t, err, &le, "a new key through update")
			return i
		}
	}
	backends(t, opts, func(t *testing.T, d *DB) {
		assert.Equal(t, limit/perKey, fillUp(t, d.Namespace("s")), "keys that fit")
	})
	t.Run("reopen", func(t *testing.T) {
		dir := t.TempDir()
		d, err := Open(dir, opts)
		require.NoError(t, err)
		ctx := context.Background()
		for i := range limit / perKey / 2 {
			require.NoError(t, d.Namespace("s").Set(ctx, key(i), []byte("1"), 0))
		}
		require.NoError(t, d.Close())
		d, err = Open(dir, opts)
		require.NoError(t, err)
		defer d.Close()
		// The keys already there count at load: the loop goes on from the
		// half written before and stops at the same count.
		n := d.Namespace("s")
		ctx = context.Background()
		i := limit / perKey / 2
		for ; n.Set(ctx, key(i), []byte("1"), 0) == nil; i++ {
		}
		assert.Equal(t, limit/perKey, i, "keys that fit across a reopen")
	})
}

// TestOverTheLimitMayShrink: a namespace already over its limit (the
// limit lowered, or an older file counted otherwise) refuses a write that
// grows it, but not one that shrinks a value or deletes a key.
func TestOverTheLimitMayShrink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	d, err := Open(dir, Options{MaxTotalBytes: 1 << 20})
	require.NoError(t, err)
	big := []byte(`"` + strings.Repeat("x", 400) + `"`)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, d.Namespace("s").Set(ctx, k, big, 0))
	}
	require.NoError(t, d.Close())
	d, err = Open(dir, Options{MaxTotalBytes: 1 << 10}) // now over it
	require.NoError(t, err)
	defer d.Close()
	n := d.Namespace("s")
	var le *LimitError
	assert.ErrorAs(t, n.Set(ctx, "d", []byte("1"), 0), &le, "a new key grows it: refused")
	assert.ErrorAs(t, n.Set(ctx, "a", append(big, ' '), 0), &le, "a bigger value: refused")
	require.NoError(t, n.Set(ctx, "a", []byte("1"), 0), "a smaller value is taken")
	require.NoError(t, n.Update(ctx, "b", func([]byte) ([]byte, error) { return []byte("2"), nil }), "so is a smaller update")
	require.NoError(t, n.Delete(ctx, "c"))
	v, ok, err := n.Get(ctx, "a")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "1", string(v))
}
