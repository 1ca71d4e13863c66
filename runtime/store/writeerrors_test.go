package store

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingBackend is a backend whose writes fail while fail is set, as a
// full disk makes them.
type failingBackend struct {
	backend
	fail atomic.Bool
}

func (f *failingBackend) update(ns string, fn func(b bucket) error) error {
	if f.fail.Load() {
		return syscall.ENOSPC
	}
	return f.backend.update(ns, fn)
}

func (f *failingBackend) saveCursor(name string, data []byte) error {
	if f.fail.Load() {
		return syscall.ENOSPC
	}
	return f.backend.saveCursor(name, data)
}

// TestWriteErrorsCountsTheFilesRefusals: a write the file refuses (a full
// disk) counts in WriteErrors, for a value and for a cursor; a write a
// bound refuses does not, and the store works again once the file does.
func TestWriteErrorsCountsTheFilesRefusals(t *testing.T) {
	t.Parallel()
	be := &failingBackend{backend: newMemory()}
	db := newDB(be, Options{MaxValueBytes: 8, SweepEvery: -1}.withDefaults(), "")
	defer db.Close()
	ctx := context.Background()
	ns := db.Namespace("s")
	require.NoError(t, ns.Set(ctx, "k", []byte(`1`), 0))

	be.fail.Store(true)
	assert.True(t, errors.Is(ns.Set(ctx, "k", []byte(`2`), 0), syscall.ENOSPC))
	assert.Error(t, ns.Delete(ctx, "k"))
	assert.Error(t, db.SaveCursor("poll", []byte(`{}`)))
	assert.Equal(t, uint64(3), db.WriteErrors())

	var le *LimitError
	require.ErrorAs(t, ns.Set(ctx, "big", []byte(`"0123456789"`), 0), &le)
	assert.Equal(t, uint64(3), db.WriteErrors(), "a bound's refusal is not the file's")

	be.fail.Store(false)
	require.NoError(t, ns.Set(ctx, "k", []byte(`3`), 0))
	v, ok, err := ns.Get(ctx, "k")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, `3`, string(v))
	assert.Equal(t, uint64(3), db.WriteErrors())
}
