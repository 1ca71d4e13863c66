package store

import (
	"bytes"
	"sort"
	"strings"
	"sync"
)

// memory is the in-memory backend: maps under one lock.
type memory struct {
	mu      sync.RWMutex
	spaces  map[string]memBucket
	cursors map[string][]byte
}

func newMemory() *memory {
	return &memory{spaces: map[string]memBucket{}, cursors: map[string][]byte{}}
}

type memBucket map[string][]byte

func (b memBucket) put(k, v []byte) error {
	b[string(k)] = append([]byte(nil), v...)
	return nil
}

func (b memBucket) del(k []byte) error {
	delete(b, string(k))
	return nil
}

func (b memBucket) scan(prefix []byte, fn func(k, v []byte) error) error {
	keys := make([]string, 0, len(b))
	for k := range b {
		if strings.HasPrefix(k, string(prefix)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // byte order, as bbolt's
	for _, k := range keys {
		if err := fn([]byte(k), b[k]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memory) view(ns string, fn func(bucket) error) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b := m.spaces[ns]
	if b == nil {
		b = memBucket{}
	}
	return fn(b)
}

// update runs fn on the namespace, undoing its changes when fn fails, as
// a transaction would.
func (m *memory) update(ns string, fn func(bucket) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.spaces[ns]
	if b == nil {
		b = memBucket{}
		m.spaces[ns] = b
	}
	tx := &memTx{memBucket: b, undo: map[string][]byte{}}
	if err := fn(tx); err != nil {
		for k, v := range tx.undo {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return err
	}
	return nil
}

// memTx is a namespace in a write: it keeps the value each key had before
// its first change (nil: absent).
type memTx struct {
	memBucket
	undo map[string][]byte
}

func (t *memTx) keep(k []byte) {
	if _, ok := t.undo[string(k)]; !ok {
		t.undo[string(k)] = t.memBucket[string(k)]
	}
}

func (t *memTx) put(k, v []byte) error {
	t.keep(k)
	return t.memBucket.put(k, v)
}

func (t *memTx) del(k []byte) error {
	t.keep(k)
	return t.memBucket.del(k)
}

func (m *memory) drop(ns string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.spaces[ns]
	delete(m.spaces, ns)
	return ok, nil
}

func (m *memory) names() ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.spaces))
	for k := range m.spaces {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (m *memory) loadCursor(name string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.cursors[name]
	return bytes.Clone(v), ok, nil
}

func (m *memory) saveCursor(name string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursors[name] = bytes.Clone(data)
	return nil
}

func (m *memory) close() error { return nil }
