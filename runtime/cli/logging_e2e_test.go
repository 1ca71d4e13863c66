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

// TestE2EConsoleEscapesControlCharacters: in the console format, what a
// script logs (rc.log's message, field names and values, tables in them,
// print's output, an error's message) reaches the terminal with its
// control characters and other non-printing runes escaped, never raw;
// readable text, tabs between print's arguments included, stays as is.
// The JSON format keeps the text itself (JSON-escaped).
func TestE2EConsoleEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	script := filepath.Join(t.TempDir(), "esc.lua")
	require.NoError(t, os.WriteFile(script, []byte(`
rc.log.info("msg \27[31mred\7 caf\195\169 \230\151\165\n12:00:00 ERR forged", {text = "\27[31mred", ["k\27[1m"] = "v",
  t = {a = "\27[2J", b = "\127 \194\155 \226\128\174"}})
rc.log.warn("fields", {error = {x = "\226\128\174rtl"}})
print("p\27[2J", "tab\255")
error("bad \27[5m news")
`), 0o644))
	code, _, stderr := runChild(t, botEnv(s), "exec", "--log-format", "console", script)
	assert.Equal(t, 1, code, stderr)
	for _, raw := range []string{"\x1b", "\x07", "\x7f", "\u009b", "\u202e", "\xff", "\n12:00:00 ERR forged"} {
		assert.NotContains(t, stderr, raw, "%q raw on the console:\n%s", raw, stderr)
	}
	for _, want := range []string{
		`msg \x1b[31mred\x07 café 日\n12:00:00 ERR forged`,
		`k\x1b[1m=v`,
		`text="\x1b[31mred"`,
		`t={"a":"\u001b[2J","b":"\u007f \u009b \u202e"}`,
		`error={"x":"\u202ertl"}`,
		"p\\x1b[2J\ttab\uFFFD", // the log's JSON had made the byte a U+FFFD
		`bad \x1b[5m news`,
	} {
		assert.Contains(t, stderr, want, "escaped on the console")
	}

	_, _, stderr = runChild(t, botEnv(s), "exec", "--log-format", "json", script)
	assert.Contains(t, stderr, `"message":"msg \u001b[31mred\u0007 café 日\n12:00:00 ERR forged"`, "JSON keeps the text")
}
