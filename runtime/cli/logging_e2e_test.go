package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EExecFailurePrintedOnce (issue 9, item 13): a failing exec prints
// its error once, and on a console its traceback on lines of its own, not
// as one line of \n\t escapes.
func TestE2EExecFailurePrintedOnce(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	script := filepath.Join(t.TempDir(), "nested.lua")
	require.NoError(t, os.WriteFile(script, []byte("local function f()\n  error(\"boom\")\nend\nf()\n"), 0o644))
	for _, format := range []string{"console", "json"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := runChild(t, botEnv(s), "exec", "--log-format", format, script)
			assert.Equal(t, 1, code, "a failing script: %s", stderr)
			assert.Empty(t, stdout)
			assert.Equal(t, 1, strings.Count(stderr, "nested.lua:2: boom"), "the failure is printed once:\n%s", stderr)
			assert.Contains(t, lastLine(stderr), "exec: "+script+": the script failed")
			if format != "console" {
				return
			}
			assert.NotContains(t, stderr, `\n`, "no escaped line breaks on a console:\n%s", stderr)
			var trimmed []string
			for _, l := range strings.Split(stderr, "\n") {
				trimmed = append(trimmed, strings.TrimSpace(l))
			}
			assert.Contains(t, trimmed, "stack traceback:", "the traceback starts on a line of its own:\n%s", stderr)
			assert.Contains(t, trimmed, script+":2: in function 'f'", "one frame a line")
			assert.Contains(t, trimmed, script+":4: in main chunk")
		})
	}
}
