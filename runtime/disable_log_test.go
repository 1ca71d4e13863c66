package runtime

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDisableLogsOnceAtInfo: disabling is an operator's deliberate act:
// it logs "script disabled" once, at info (also for a script disabled at
// start); disabling it again and editing its file say it was disabled
// already, at info, and never log "script disabled" again.
func TestDisableLogsOnceAtInfo(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{Disabled: []string{"off"}}, nil, map[string]string{
		"on.lua":  `rc.on("subscription", function() end)`,
		"off.lua": `rc.on("subscription", function() end)`,
	})
	const (
		disabled     = "script disabled: its triggers are stopped until rclua enable"
		againDisable = "script already disabled: its triggers stay stopped until rclua enable"
		againFile    = "script already disabled: its file is not loaded until rclua enable"
	)
	assert.Equal(t, 1, th.logs.count(disabled, "script", "off", "level", "info"), "disabled at start: info\n%s", th.logs)

	require.NoError(t, th.h.Disable("on"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(disabled, "script", "on") == 1 }, "the disable")
	assert.Equal(t, 1, th.logs.count(disabled, "script", "on", "level", "info"))

	require.NoError(t, th.h.Disable("on.lua"))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(againDisable, "script", "on", "level", "info") == 1 }, "the repeat")

	renameOver(t, filepath.Join(th.dir, "on.lua"), `rc.on("subscription", function() rc.log.info("v2") end)`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(againFile, "script", "on", "level", "info") >= 1 }, "the edit")

	assert.Equal(t, 1, th.logs.count(disabled, "script", "on"), "said once")
	for _, e := range th.logs.entries() {
		if e["level"] == "warn" || e["level"] == "error" {
			t.Errorf("no warning for a deliberate disable: %v", e)
		}
	}
}
