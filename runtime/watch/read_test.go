package watch

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadScriptRefusesWhatNeverEnds: a pipe or a device named *.lua is
// not opened (a read would block for ever or never end).
func TestReadScriptRefusesWhatNeverEnds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lua")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, p := range []string{fifo, "/dev/zero", dir} {
		_, err := ReadScript(p)
		assert.True(t, errors.Is(err, ErrNotRegular), "%s: %v", p, err)
	}

	link := filepath.Join(dir, "link.lua")
	require.NoError(t, os.Symlink(fifo, link))
	_, err := ReadScript(link)
	assert.True(t, errors.Is(err, ErrNotRegular), "a symlink to a pipe: %v", err)
}

// TestReadScriptRefusesHugeFiles: a file past the bound is an error
// naming it, not a silently shortened script.
func TestReadScriptRefusesHugeFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for size, ok := range map[int64]bool{MaxScriptBytes: true, MaxScriptBytes + 1: false, 10 * MaxScriptBytes: false} {
		p := filepath.Join(dir, "big.lua")
		f, err := os.Create(p)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(size)) // sparse: no disk used
		require.NoError(t, f.Close())
		content, err := ReadScript(p)
		if ok {
			require.NoError(t, err)
			assert.Len(t, content, MaxScriptBytes)
			continue
		}
		assert.True(t, errors.Is(err, ErrTooLarge), "%d bytes: %v", size, err)
		assert.Contains(t, err.Error(), p)
		assert.Nil(t, content)
	}
}
