package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the store's file inside the state dir.
const FileName = "store.db"

// The top-level buckets: each script's namespace is a bucket inside
// scripts, so no script name (any file name) can reach the cursors.
var (
	scriptsBucket = []byte("scripts")
	cursorsBucket = []byte("cursors")
)

// Open opens (creating it and dir, 0700, when absent) the store of the
// state dir dir. When another process holds the file it fails within
// opts.LockTimeout with an error wrapping ErrLocked that names dir. Unless
// opts.ReadOnly, expired keys are swept before it returns.
func Open(dir string, opts Options) (*DB, error) {
	opts = opts.withDefaults()
	path := filepath.Join(dir, FileName)
	// The new entries a power loss could forget: the file's in dir, and
	// each folder's that MkdirAll makes in its parent.
	var synced []string
	if !opts.ReadOnly {
		for p := dir; filepath.Dir(p) != p; p = filepath.Dir(p) {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				break
			}
			synced = append(synced, filepath.Dir(p))
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: state dir: %w", err)
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			synced = append(synced, dir)
		}
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("store: no store in %s: %w", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		ReadOnly:     opts.ReadOnly,
		FreelistType: bolt.FreelistMapType,
		NoSync:       opts.noSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s: %w (its file lock is taken; stop the other daemon or give another --state-dir)", dir, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !opts.ReadOnly && !hasBuckets(db) {
		err = db.Update(func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists(scriptsBucket); err != nil {
				return err
			}
			_, err := tx.CreateBucketIfNotExists(cursorsBucket)
			return err
		})
		if err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("store: init %s: %w", path, err)
		}
	}
	// bbolt fsyncs the file at each commit, not the folder that names
	// it: without this, a power loss right after the first writes could
	// lose the whole new file.
	for _, p := range synced {
		if err := opts.syncDir(p); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("store: sync %s: %w", p, err)
		}
	}
	d := newDB(&boltBackend{db: db}, opts, path)
	if !opts.ReadOnly {
		if _, err := d.Sweep(context.Background()); err != nil {
			_ = d.Close()
			return nil, err
		}
	}
	return d, nil
}

// hasBuckets reports whether db has its top-level buckets (a write, and
// its fsync, is needed only for a new file).
func hasBuckets(db *bolt.DB) bool {
	ok := false
	_ = db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(scriptsBucket) != nil && tx.Bucket(cursorsBucket) != nil
		return nil
	})
	return ok
}

// syncDir fsyncs the folder dir, making the entries in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Path returns the store's file ("" in memory).
func (d *DB) Path() string { return d.path }

type boltBackend struct{ db *bolt.DB }

// boltBucket is a namespace's bucket; b is nil for an absent one in a
// read transaction.
type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) put(k, v []byte) error { return b.b.Put(k, v) }
func (b boltBucket) del(k []byte) error    { return b.b.Delete(k) }

func (b boltBucket) scan(prefix []byte, fn func(k, v []byte) error) error {
	if b.b == nil {
		return nil
	}
	c := b.b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func scripts(tx *bolt.Tx) *bolt.Bucket { return tx.Bucket(scriptsBucket) }

func (be *boltBackend) view(ns string, fn func(bucket) error) error {
	return be.db.View(func(tx *bolt.Tx) error {
		var b *bolt.Bucket
		if s := scripts(tx); s != nil {
			b = s.Bucket([]byte(ns))
		}
		return fn(boltBucket{b})
	})
}

func (be *boltBackend) update(ns string, fn func(bucket) error) error {
	return be.db.Update(func(tx *bolt.Tx) error {
		b, err := scripts(tx).CreateBucketIfNotExists([]byte(ns))
		if err != nil {
			return fmt.Errorf("store: namespace %q: %w", clip(ns), err)
		}
		return fn(boltBucket{b})
	})
}

func (be *boltBackend) drop(ns string) (bool, error) {
	found := true
	err := be.db.Update(func(tx *bolt.Tx) error {
		err := scripts(tx).DeleteBucket([]byte(ns))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			found = false
			return nil
		}
		return err
	})
	return found, err
}

func (be *boltBackend) names() ([]string, error) {
	var out []string
	err := be.db.View(func(tx *bolt.Tx) error {
		s := scripts(tx)
		if s == nil {
			return nil
		}
		return s.ForEachBucket(func(k []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (be *boltBackend) loadCursor(name string) ([]byte, bool, error) {
	var out []byte
	err := be.db.View(func(tx *bolt.Tx) error {
		if c := tx.Bucket(cursorsBucket); c != nil {
			if v := c.Get([]byte(name)); v != nil {
				out = append([]byte{}, v...)
			}
		}
		return nil
	})
	return out, out != nil, err
}

func (be *boltBackend) saveCursor(name string, data []byte) error {
	return be.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(cursorsBucket).Put([]byte(name), data)
	})
}

func (be *boltBackend) close() error { return be.db.Close() }
