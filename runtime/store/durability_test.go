package store

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// childEnv names the state dir in which the child of
// TestKill9LosesNothingSetReturnedFor writes.
const childEnv = "RCLUA_STORE_TEST_CHILD_DIR"

// TestKill9LosesNothingSetReturnedFor runs this test binary again as a
// child that sets keys k0, k1, ... and prints each one's number once Set
// has returned; it kills the child with SIGKILL in the middle of its
// writes, reopens the file and finds every printed key with its value.
func TestKill9LosesNothingSetReturnedFor(t *testing.T) {
	t.Parallel()
	if dir := os.Getenv(childEnv); dir != "" {
		writeForever(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9LosesNothingSetReturnedFor$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(out)
	printed := -1
	for lines.Scan() {
		n, err := strconv.Atoi(lines.Text())
		require.NoError(t, err, "child line %q", lines.Text())
		printed = n
		if n == 300 {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			break
		}
	}
	for lines.Scan() { // lines the child printed before it died
		if n, err := strconv.Atoi(lines.Text()); err == nil {
			printed = n
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "signal: killed", ee.Error(), "the child was killed, it did not end")
	require.GreaterOrEqual(t, printed, 300)

	d, err := Open(dir, Options{})
	require.NoError(t, err, "the file opens after a kill -9")
	defer d.Close()
	n := d.Namespace("s")
	for i := 0; i <= printed; i++ {
		v, ok, err := n.Get(context.Background(), "k"+strconv.Itoa(i))
		require.NoError(t, err)
		require.True(t, ok, "k%d was printed after its set returned, it must be there (printed up to %d)", i, printed)
		assert.Equal(t, strconv.Itoa(i), string(v))
	}
}

// writeForever is the child: it sets keys until it is killed (or a minute
// has passed, should the parent be gone).
func writeForever(dir string) {
	d, err := Open(dir, Options{})
	if err != nil {
		os.Exit(2)
	}
	n := d.Namespace("s")
	end := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(end); i++ {
		s := strconv.Itoa(i)
		if err := n.Set(context.Background(), "k"+s, []byte(s), 0); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(s + "\n")
	}
	os.Exit(4)
}

// TestNewFileIsSyncedInItsFolder: bbolt fsyncs the file, not the folders
// naming it; Open fsyncs the state dir once store.db is in it, and the
// parent of each folder it made, so a power loss cannot forget a new
// store. An existing store needs none.
func TestNewFileIsSyncedInItsFolder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "a", "state")
	var synced []string
	opts := Options{syncDir: func(p string) error {
		synced = append(synced, p)
		if p == dir {
			_, err := os.Stat(filepath.Join(dir, FileName))
			assert.NoError(t, err, "the dir is synced once the file is in it")
		}
		return syncDir(p)
	}}
	d, err := Open(dir, opts)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	assert.ElementsMatch(t, []string{dir, filepath.Join(root, "a"), root}, synced)

	synced = nil
	d, err = Open(dir, opts)
	require.NoError(t, err)
	require.NoError(t, d.Close())
	assert.Empty(t, synced, "an existing store")

	opts.syncDir = func(string) error { return errors.New("disk gone") }
	_, err = Open(filepath.Join(root, "b"), opts)
	assert.ErrorContains(t, err, "disk gone", "a failed sync fails the open")
}
