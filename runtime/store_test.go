package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/store"
)

// countScript counts its loads in rc.store and prints the count.
const countScript = `local n = assert(rc.store.incr("loads"))
print("loads " .. n .. " %s")
`

// TestStoreKeptAcrossReloadAndRestart: each script's rc.store is the
// namespace of its name, kept across a reload (a new state) and a restart
// of the host on a reopened bbolt file; another script counts apart.
func TestStoreKeptAcrossReloadAndRestart(t *testing.T) {
	t.Parallel()
	stateDir, scripts := t.TempDir(), t.TempDir()
	files := map[string]string{"count.lua": fmt.Sprintf(countScript, "v1"), "other.lua": fmt.Sprintf(countScript, "other")}
	db, err := store.Open(stateDir, store.Options{})
	require.NoError(t, err)
	th := startHostEnv(t, Config{ScriptsDir: scripts}, env{module: &luabind.Module{}, store: db}, nil, files)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loads 1 v1", "script", "count") == 1 }, "first load")
	assert.Equal(t, 1, th.logs.count("loads 1 other", "script", "other"), "the other script counts apart")

	writeFile(t, filepath.Join(scripts, "count.lua"), fmt.Sprintf(countScript, "v2"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loads 2 v2", "script", "count") == 1 }, "the reload sees the count")
	th.shutdown()
	require.NoError(t, db.Close())

	db, err = store.Open(stateDir, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	th = startHostEnv(t, Config{ScriptsDir: scripts}, env{module: &luabind.Module{}, store: db}, nil, nil)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loads 3 v2", "script", "count") == 1 }, "the restart sees the count")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("loads 2 other", "script", "other") == 1 }, "and the other's")
	th.shutdown()
	v, ok, err := db.Namespace("count").Get(context.Background(), "loads")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "3", string(v))
}

// TestCheckHasAnEmptyMemoryStore: rclua check's scripts get an rc.store
// that works, empty for each check, with a namespace per script.
func TestCheckHasAnEmptyMemoryStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := `assert(rc.store.get("x") == nil, "empty at the start")
assert(rc.store.set("x", 1))
assert(rc.store.incr("x") == 2)`
	writeFile(t, filepath.Join(dir, "a.lua"), src)
	writeFile(t, filepath.Join(dir, "b.lua"), src)
	for range 2 {
		assert.Empty(t, Check(context.Background(), []string{dir}, Config{}))
	}
}
