package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Store is the state backend the daemon depends on: one namespace of keys
// per script, and the event cursors. *DB implements it, on a bbolt file
// (Open) or in memory (OpenMemory); a distributed backend may come later.
type Store interface {
	// Namespace returns the keys of the script called name.
	Namespace(name string) Namespace
	// LoadCursor returns the cursor saved under name; ok is false when
	// there is none.
	LoadCursor(name string) (data []byte, ok bool, err error)
	// SaveCursor saves data as the cursor called name, durably.
	SaveCursor(name string, data []byte) error
	// Close ends the store's goroutines and releases its file.
	Close() error
}

// Namespace is one script's keys. Values are JSON texts; each call is one
// transaction, durable when it returns (see the package doc). luabind's
// Store interface has the same methods.
type Namespace interface {
	// Get returns the JSON of key's value; ok is false when key is absent
	// or expired.
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	// Set stores value (JSON text) under key; a ttl > 0 makes it expire
	// after ttl, zero keeps it until deleted.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes key (absent is no error).
	Delete(ctx context.Context, key string) error
	// Update calls fn with key's value (nil when absent or expired) and
	// stores what fn returns (nil deletes the key), keeping the key's
	// expiry. No other write to the namespace happens between the read
	// and the write. An error from fn is returned and nothing is written.
	Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error
	// Keys returns the live keys starting with prefix, sorted.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Defaults of Options.
const (
	// DefaultMaxKeyBytes bounds a key: keys name things ("seen:<id>",
	// "digest:<room>"), they are not data.
	DefaultMaxKeyBytes = 512
	// DefaultMaxValueBytes bounds one value's JSON: a quarter of the
	// default total, so that one value cannot take a script's whole room.
	DefaultMaxValueBytes = 256 << 10
	// DefaultMaxTotalBytes bounds a script's keys and values together,
	// each key counting EntryOverhead more (--store-limit): 1 MiB holds
	// 4,500 entries of 100 bytes or 7,700 counters (seen ids, digests),
	// more than an automation keeps, while 100 scripts at their limit
	// take about 100 MiB of memory and of file.
	DefaultMaxTotalBytes = 1 << 20
	// DefaultSweepEvery is how often an open DB deletes expired keys.
	DefaultSweepEvery = 10 * time.Minute
	// DefaultLockTimeout is how long Open waits for the file lock before
	// it fails with ErrLocked.
	DefaultLockTimeout = 100 * time.Millisecond
)

// Options configure a DB. Zero fields take the defaults.
type Options struct {
	MaxKeyBytes   int   // longest key; default DefaultMaxKeyBytes
	MaxValueBytes int   // longest value (JSON bytes); default DefaultMaxValueBytes, at most MaxTotalBytes
	MaxTotalBytes int64 // a namespace's keys plus values plus EntryOverhead per key; default DefaultMaxTotalBytes
	// SweepEvery is the period of the goroutine that deletes expired
	// keys; default DefaultSweepEvery, negative: no sweeper (expired keys
	// are still invisible, and swept on open and when a write needs room).
	SweepEvery time.Duration
	// LockTimeout bounds the wait for the file lock; default
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// ReadOnly opens the file for reading only (rclua store list/get).
	ReadOnly bool
	// Now is the clock of expiries; default time.Now (tests inject one).
	Now func() time.Time

	noSync  bool                   // skip bbolt's fsync (benchmarks only: what durability costs)
	syncDir func(dir string) error // fsyncs a folder; default syncDir (tests record the calls)
}

func (o Options) withDefaults() Options {
	if o.MaxKeyBytes <= 0 {
		o.MaxKeyBytes = DefaultMaxKeyBytes
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if int64(o.MaxValueBytes) > o.MaxTotalBytes {
		o.MaxValueBytes = int(o.MaxTotalBytes)
	}
	if o.SweepEvery == 0 {
		o.SweepEvery = DefaultSweepEvery
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.syncDir == nil {
		o.syncDir = syncDir
	}
	return o
}

// Errors of the store. A refused write is a *LimitError.
var (
	// ErrLocked is Open's error when another process holds the file.
	ErrLocked = errors.New("another rclua holds the state dir")
	// ErrClosed is the error of every call on a closed DB.
	ErrClosed = errors.New("store: closed")
	// ErrReadOnly is the error of a write to a DB opened ReadOnly.
	ErrReadOnly = errors.New("store: opened read-only")
	// ErrEmptyKey is the error for the key "".
	ErrEmptyKey = errors.New("store: the key is empty")
)

// LimitError is a write refused by a bound of Options.
type LimitError struct {
	What  string // "key", "value" or "total"
	Key   string // the key (empty for a key over the limit: its length is in Size)
	Size  int64  // the size the write would have
	Limit int64
}

func (e *LimitError) Error() string {
	switch e.What {
	case "key":
		return fmt.Sprintf("store: a key of %d bytes is more than the limit of %d", e.Size, e.Limit)
	case "value":
		return fmt.Sprintf("store: the value of %q is %d bytes of JSON, more than the limit of %d", e.Key, e.Size, e.Limit)
	}
	return fmt.Sprintf("store: writing %q would make the script's keys and values %d bytes (counting %d per key), more than its limit of %d (--store-limit)", e.Key, e.Size, EntryOverhead, e.Limit)
}

// ErrorType is "limit": the error_type a script sees in its err table.
func (e *LimitError) ErrorType() string { return "limit" }

// clip shortens a key for an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	s = s[:64]
	for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "") + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// backend is what a DB needs of its storage: transactions over named
// buckets, each update durable when it returns.
type backend interface {
	// view runs fn on namespace ns (empty when absent) in a read
	// transaction.
	view(ns string, fn func(b bucket) error) error
	// update runs fn on namespace ns (created when absent) in a write
	// transaction, committed when fn returns nil.
	update(ns string, fn func(b bucket) error) error
	drop(ns string) (bool, error)
	names() ([]string, error)
	loadCursor(name string) ([]byte, bool, error)
	saveCursor(name string, data []byte) error
	close() error
}

// bucket is one namespace inside a transaction. Slices it returns are
// valid until the transaction ends.
type bucket interface {
	put(key, value []byte) error
	del(key []byte) error
	// scan calls fn for each key starting with prefix, in byte order.
	scan(prefix []byte, fn func(k, v []byte) error) error
}

// DB is the store: namespaces of JSON values with expiries and bounds, and
// the event cursors, over a backend. Its methods are safe for concurrent
// use.
type DB struct {
	be   backend
	opts Options
	path string // the file, "" in memory

	mu     sync.Mutex
	closed bool
	spaces map[string]*space

	writeErrors atomic.Uint64 // WriteErrors

	cancel context.CancelFunc // called by Close: ends the sweeper
	done   chan struct{}      // closed when the sweeper has ended
}

// space is a namespace's writer lock, its running total and its entries.
// The DB is its file's only writer (the file lock), so once loaded the
// entries in memory are the file's: reads need no transaction.
type space struct {
	lock chan struct{} // cap 1: held by the one write in progress

	mu    sync.RWMutex
	vals  map[string][]byte // the entries (header and JSON) by key; nil until loaded
	total int64             // entrySize of the entries, expired ones included
}

func newDB(be backend, opts Options, path string) *DB {
	d := &DB{be: be, opts: opts, path: path, spaces: map[string]*space{}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	if opts.SweepEvery > 0 && !opts.ReadOnly {
		go d.sweeper(ctx)
	} else {
		close(d.done)
	}
	return d
}

// OpenMemory returns a DB that keeps everything in memory (rclua check,
// tests).
func OpenMemory(opts Options) *DB {
	return newDB(newMemory(), opts.withDefaults(), "")
}

// Close stops the sweeper and closes the backend. It is safe to call more
// than once.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	<-d.done
	return d.be.close()
}

// sweeper sweeps every SweepEvery until ctx (Close's) ends.
func (d *DB) sweeper(ctx context.Context) {
	defer close(d.done)
	t := time.NewTicker(d.opts.SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = d.Sweep(ctx) // a failed sweep is retried next tick
		}
	}
}

// Sweep deletes the expired keys of every namespace, one transaction per
// namespace that has some, and returns how many it deleted.
func (d *DB) Sweep(ctx context.Context) (int, error) {
	names, err := d.Names()
	if err != nil {
		return 0, err
	}
	now := d.opts.Now().UnixNano()
	n := 0
	for _, name := range names {
		dead := 0
		err := d.be.view(name, func(b bucket) error {
			return b.scan(nil, func(k, v []byte) error {
				if expired(v, now) {
					dead++
				}
				return nil
			})
		})
		if err != nil || dead == 0 {
			continue
		}
		sp, err := d.acquire(ctx, name, false)
		if err != nil {
			return n, err
		}
		var gone [][]byte
		var freed int64
		err = d.be.update(name, func(b bucket) error {
			gone, freed, err = d.sweepBucket(b)
			return err
		})
		d.failedWrite(err)
		if err == nil {
			sp.forget(gone, freed)
			n += len(gone)
		}
		d.release(sp)
		if err != nil {
			return n, fmt.Errorf("store: sweep %q: %w", name, err)
		}
	}
	return n, nil
}

// forget drops keys, swept from the file, from sp's entries.
func (sp *space) forget(keys [][]byte, freed int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.vals == nil {
		return
	}
	for _, k := range keys {
		delete(sp.vals, string(k))
	}
	sp.total -= freed
}

// sweepBucket deletes b's expired keys: which, and their bytes.
func (d *DB) sweepBucket(b bucket) (dead [][]byte, bytes int64, err error) {
	now := d.opts.Now().UnixNano()
	err = b.scan(nil, func(k, v []byte) error {
		if expired(v, now) {
			dead = append(dead, append([]byte(nil), k...))
			bytes += entrySize(k, v)
		}
		return nil
	})
	for _, k := range dead {
		if err == nil {
			err = b.del(k)
		}
	}
	return dead, bytes, err
}

// Names returns the namespaces that hold keys (or once did), sorted.
func (d *DB) Names() ([]string, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	return d.be.names()
}

// Drop deletes the namespace name and all its keys; ok is false when there
// was none.
func (d *DB) Drop(ctx context.Context, name string) (ok bool, err error) {
	if d.opts.ReadOnly {
		return false, ErrReadOnly
	}
	sp, err := d.acquire(ctx, name, false)
	if err != nil {
		return false, err
	}
	defer d.release(sp)
	ok, err = d.be.drop(name)
	d.failedWrite(err)
	if err == nil {
		sp.mu.Lock()
		sp.vals, sp.total = nil, 0
		sp.mu.Unlock()
	}
	return ok, err
}

// Entry describes one key for listings.
type Entry struct {
	Key     string
	Size    int       // bytes of its JSON value
	Expires time.Time // zero: never
}

// List returns the live entries of namespace name whose key starts with
// prefix, sorted by key.
func (d *DB) List(ctx context.Context, name, prefix string) ([]Entry, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	now := d.opts.Now().UnixNano()
	var out []Entry
	err := d.be.view(name, func(b bucket) error {
		return b.scan([]byte(prefix), func(k, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if expired(v, now) {
				return nil
			}
			e := Entry{Key: string(k), Size: len(v) - headerLen}
			if exp := expiry(v); exp != 0 {
				e.Expires = time.Unix(0, exp)
			}
			out = append(out, e)
			return nil
		})
	})
	return out, err
}

// LoadCursor returns the event cursor saved under name (a bucket of its
// own, apart from every script's namespace).
func (d *DB) LoadCursor(name string) ([]byte, bool, error) {
	if err := d.check(); err != nil {
		return nil, false, err
	}
	return d.be.loadCursor(name)
}

// SaveCursor saves data as the event cursor name, durably.
func (d *DB) SaveCursor(name string, data []byte) error {
	if err := d.check(); err != nil {
		return err
	}
	if d.opts.ReadOnly {
		return ErrReadOnly
	}
	if name == "" {
		return errors.New("store: the cursor name is empty")
	}
	err := d.be.saveCursor(name, data)
	d.failedWrite(err)
	return err
}

// WriteErrors is how many writes the file refused since Open: a value
// set, deleted or swept by a script, or an event cursor saved, that
// failed for the file's sake (a full disk, a read-only or failing file
// system), not for a bound of Options.
func (d *DB) WriteErrors() uint64 { return d.writeErrors.Load() }

// failedWrite counts err, a write's error, when it is the file's.
func (d *DB) failedWrite(err error) {
	var le *LimitError
	if err != nil && !errors.As(err, &le) && !errors.Is(err, ErrClosed) && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) && // closing meanwhile
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		d.writeErrors.Add(1)
	}
}

func (d *DB) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	return nil
}

// Namespace returns the keys of the script called name.
func (d *DB) Namespace(name string) Namespace { return &nsHandle{d: d, name: name} }

// space returns namespace name's space.
func (d *DB) space(name string) (*space, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrClosed
	}
	sp := d.spaces[name]
	if sp == nil {
		sp = &space{lock: make(chan struct{}, 1)}
		d.spaces[name] = sp
	}
	return sp, nil
}

// acquire takes namespace name's writer lock, waiting at most until ctx
// ends, and, when load is set, makes sure its entries are in memory.
func (d *DB) acquire(ctx context.Context, name string, load bool) (*space, error) {
	sp, err := d.space(name)
	if err != nil {
		return nil, err
	}
	select {
	case sp.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("store: waiting for %q: %w", name, ctx.Err())
	}
	if load {
		if err := d.load(sp, name); err != nil {
			<-sp.lock
			return nil, err
		}
	}
	return sp, nil
}

// load reads namespace name's entries into sp, once.
func (d *DB) load(sp *space, name string) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.vals != nil {
		return nil
	}
	// The entries are copied into one buffer: one allocation, not one per
	// key (a daemon's start-up loads every namespace its scripts read).
	type span struct {
		key        string
		start, end int
	}
	var spans []span
	var buf []byte
	var total int64
	err := d.be.view(name, func(b bucket) error {
		return b.scan(nil, func(k, v []byte) error {
			spans = append(spans, span{string(k), len(buf), len(buf) + len(v)})
			buf = append(buf, v...)
			total += entrySize(k, v)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("store: load %q: %w", clip(name), err)
	}
	vals := make(map[string][]byte, len(spans))
	for _, s := range spans {
		vals[s.key] = buf[s.start:s.end:s.end]
	}
	sp.vals, sp.total = vals, total
	return nil
}

// lookup returns key's entry in namespace name (nil when absent).
func (d *DB) lookup(name, key string) ([]byte, error) {
	sp, err := d.space(name)
	if err != nil {
		return nil, err
	}
	sp.mu.RLock()
	if sp.vals == nil {
		sp.mu.RUnlock()
		if err := d.load(sp, name); err != nil {
			return nil, err
		}
		sp.mu.RLock()
	}
	defer sp.mu.RUnlock()
	return sp.vals[key], nil
}

func (d *DB) release(sp *space) { <-sp.lock }

// An entry, as stored: the expiry in Unix nanoseconds (0: none), 8 bytes
// big-endian, then the value's JSON.
const headerLen = 8

func expiry(v []byte) int64 {
	if len(v) < headerLen {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func expired(v []byte, now int64) bool {
	e := expiry(v)
	return e != 0 && e <= now
}

func entry(value []byte, exp int64) []byte {
	b := make([]byte, headerLen+len(value))
	binary.BigEndian.PutUint64(b, uint64(exp))
	copy(b[headerLen:], value)
	return b
}

// EntryOverhead is what each key counts toward its namespace's total
// beyond its own bytes and its value's JSON: its expiry, its slot in the
// namespace's map in memory and its element in the bbolt file. Measured
// (BenchmarkEntryCost): about 105 bytes of heap and of file per entry of
// a 6-byte key and the value 1, about 97 beyond the bytes for 100-byte
// values; rounded up, so that --store-limit bounds a namespace's memory
// and its part of the file however small its entries are.
const EntryOverhead = 128

// entrySize is what an entry counts toward its namespace's total: its key,
// its JSON and EntryOverhead.
func entrySize(k, v []byte) int64 {
	if v == nil {
		return 0
	}
	return int64(len(k)+len(v)-headerLen) + EntryOverhead
}

// nsHandle is DB.Namespace's value.
type nsHandle struct {
	d    *DB
	name string
}

func (n *nsHandle) checkKey(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	if len(key) > n.d.opts.MaxKeyBytes {
		// Not even a part of the key: a shortened key would hide a secret
		// in it from the redaction, which matches whole values.
		return &LimitError{What: "key", Size: int64(len(key)), Limit: int64(n.d.opts.MaxKeyBytes)}
	}
	return nil
}

func (n *nsHandle) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := n.d.check(); err != nil {
		return nil, false, err
	}
	if err := n.checkKey(key); err != nil {
		return nil, false, err
	}
	v, err := n.d.lookup(n.name, key)
	if err != nil || v == nil || expired(v, n.d.opts.Now().UnixNano()) {
		return nil, false, err
	}
	return append([]byte(nil), v[headerLen:]...), true, nil
}

func (n *nsHandle) Keys(ctx context.Context, prefix string) ([]string, error) {
	es, err := n.d.List(ctx, n.name, prefix)
	keys := make([]string, len(es))
	for i, e := range es {
		keys[i] = e.Key
	}
	return keys, err
}

func (n *nsHandle) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	var exp int64
	if ttl > 0 {
		exp = n.d.opts.Now().Add(ttl).UnixNano()
	}
	if value == nil {
		return errors.New("store: set of a nil value (use Delete)")
	}
	return n.write(ctx, key, func([]byte) ([]byte, int64, error) { return value, exp, nil })
}

func (n *nsHandle) Delete(ctx context.Context, key string) error {
	return n.write(ctx, key, func([]byte) ([]byte, int64, error) { return nil, 0, nil })
}

func (n *nsHandle) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	return n.write(ctx, key, func(old []byte) ([]byte, int64, error) {
		var cur []byte
		var exp int64
		if old != nil {
			cur, exp = old[headerLen:], expiry(old)
		}
		v, err := fn(cur)
		return v, exp, err
	})
}

// write runs one write of key under the namespace's lock: change gets the
// live entry (nil when absent or expired) and returns the new value (nil:
// delete) and its expiry. The bounds are checked in the transaction; when
// the total would pass its bound, the namespace's expired keys are deleted
// first.
func (n *nsHandle) write(ctx context.Context, key string, change func(old []byte) ([]byte, int64, error)) error {
	if n.d.opts.ReadOnly {
		return ErrReadOnly
	}
	if err := n.checkKey(key); err != nil {
		return err
	}
	// The old entry is read before the lock's transaction so that a slow
	// change (a script's update function) runs outside the backend's
	// write transaction, which would stall every other script's writes;
	// the namespace lock keeps the read and the write atomic.
	sp, err := n.d.acquire(ctx, n.name, true)
	if err != nil {
		return err
	}
	defer n.d.release(sp)
	k := []byte(key)
	now := n.d.opts.Now().UnixNano()
	sp.mu.RLock()
	old, total := sp.vals[key], sp.total
	sp.mu.RUnlock()
	live := old
	if old != nil && expired(old, now) {
		live = nil
	}
	value, exp, err := change(live)
	if err != nil {
		return err
	}
	if value == nil && old == nil {
		return nil // nothing to delete
	}
	if value != nil && len(value) > n.d.opts.MaxValueBytes {
		return &LimitError{What: "value", Key: key, Size: int64(len(value)), Limit: int64(n.d.opts.MaxValueBytes)}
	}
	var e []byte
	if value != nil {
		e = entry(value, exp)
	}
	before := total
	total += entrySize(k, e) - entrySize(k, old)
	var swept [][]byte
	err = n.d.be.update(n.name, func(b bucket) error {
		// Only a write that grows the namespace past its limit is refused:
		// one over it already (a lowered --store-limit, an older file) may
		// still shrink a value or delete.
		if total > n.d.opts.MaxTotalBytes && e != nil && total > before {
			dead, freed, err := n.d.sweepBucket(b)
			if err != nil {
				return err
			}
			swept = dead
			if old != nil && expired(old, now) {
				freed -= entrySize(k, old) // already counted as replaced
			}
			total -= freed
			if total > n.d.opts.MaxTotalBytes {
				return &LimitError{What: "total", Key: key, Size: total, Limit: n.d.opts.MaxTotalBytes}
			}
		}
		if e == nil {
			return b.del(k)
		}
		return b.put(k, e)
	})
	if err != nil {
		n.d.failedWrite(err)
		return err
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, d := range swept {
		delete(sp.vals, string(d))
	}
	if e == nil {
		delete(sp.vals, key)
	} else {
		sp.vals[key] = e
	}
	sp.total = total
	return nil
}
