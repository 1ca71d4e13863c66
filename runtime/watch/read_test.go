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
// not opened (a read would block for ever or never end), and a huge file
// is read only up to the bound.
func TestReadScriptRefusesWhatNeverEnds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lua")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	for _, p := range []string{fifo, "/dev/zero", dir} {
		_, err := ReadScript(p)
		assert.True(t, errors.Is(err, ErrNotRegular), "%s: %v", p, err)
	}

	big := filepath.Join(dir, "big.lua")
	f, err := os.Create(big)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(10*MaxScriptBytes)) // sparse: no disk used
	require.NoError(t, f.Close())
	content, err := ReadScript(big)
	require.NoError(t, err)
	assert.Len(t, content, MaxScriptBytes+1)

	link := filepath.Join(dir, "link.lua")
	require.NoError(t, os.Symlink(fifo, link))
	_, err = ReadScript(link)
	assert.True(t, errors.Is(err, ErrNotRegular), "a symlink to a pipe: %v", err)
}
