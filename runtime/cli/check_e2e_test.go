package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestE2ECheckReadsHandlers: the new user's trial of issue 13, in the
// built binary: handlers calling rc.subscriptions.raed, getOne and an
// undefined function are each one file:line: message line, and exit 1;
// an ignore comment silences its line.
func TestE2ECheckReadsHandlers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "trial.lua")
	require.NoError(t, os.WriteFile(p, []byte(`rc.on("subscription", function(action, sub)
  rc.subscriptions.raed(sub.rid)
  rc.subscriptions.getOne(sub.rid)
  notify_owner(sub)
  legacy_hook(sub) -- rclua: ignore legacy_hook
end)
`), 0o644))
	code, stdout, stderr := runChild(t, nil, "check", p)
	assert.Equal(t, 1, code, "%s%s", stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, "%s", stdout)
	assert.True(t, strings.HasPrefix(lines[0], p+":2: rc.subscriptions.raed does not exist (did you mean rc.subscriptions.read?"), lines[0])
	assert.True(t, strings.HasPrefix(lines[1], p+":3: rc.subscriptions.getOne does not exist (did you mean rc.subscriptions.get_one?"), lines[1])
	assert.Equal(t, p+":4: undefined global notify_owner", lines[2])

	require.NoError(t, os.WriteFile(p, []byte(`rc.on("subscription", function(action, sub)
  rc.subscriptions.read(sub.rid)
end)
`), 0o644))
	code, stdout, stderr = runChild(t, nil, "check", p)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Empty(t, stdout)
}

// TestE2ECheckBrokenSettingsOnce: in the built binary, a settings file
// that does not parse is one line of check's output, not one per script.
func TestE2ECheckBrokenSettingsOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rclua.toml"), []byte("[a\n"), 0o644))
	for _, n := range []string{"a", "b", "c"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n+".lua"), []byte("rc.log.info('x')\n"), 0o644))
	}
	code, stdout, stderr := runChild(t, nil, "check", dir)
	assert.Equal(t, 1, code, "%s%s", stdout, stderr)
	assert.Equal(t, 1, strings.Count(stdout+stderr, "rclua.toml:"), "%s%s", stdout, stderr)
}
