package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// TestE2EExecCompilesFirst: exec compiles the script before it reaches
// the server, so a syntax error is the script's file:line (exit 1) with
// the server down or the token refused, and the server is never asked; a
// test file is refused as check refuses it, before any request too.
func TestE2EExecCompilesFirst(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	syntax := filepath.Join(dir, "syntax.lua")
	require.NoError(t, os.WriteFile(syntax, []byte("local x = 1\nlocal y = = 2\n"), 0o644))
	good := filepath.Join(dir, "good.lua")
	require.NoError(t, os.WriteFile(good, []byte("local x = 1\n"), 0o644))
	test := filepath.Join(dir, "good_test.lua")
	require.NoError(t, os.WriteFile(test, []byte("function t.test_x() end\n"), 0o644))

	down := []string{"RC_URL=http://127.0.0.1:1", "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}
	code, _, stderr := runChild(t, down, "exec", syntax)
	assert.Equal(t, 1, code, "a syntax error with the server down: %s", stderr)
	assert.Contains(t, stderr, "syntax.lua:2:", "the syntax error names file:line")
	assert.NotContains(t, stderr, "cannot reach")

	refused := []string{"RC_URL=" + s.URL, "RC_USER_ID=" + rctest.BotUserID, "RC_TOKEN=" + secretToken}
	code, _, stderr = runChild(t, refused, "exec", syntax)
	assert.Equal(t, 1, code, "a syntax error with a refused token: %s", stderr)
	assert.Contains(t, stderr, "syntax.lua:2:")
	assert.NotContains(t, stderr, "401")

	code, _, stderr = runChild(t, botEnv(s), "exec", test)
	assert.Equal(t, 2, code, "a test file is refused: %s", stderr)
	assert.Contains(t, stderr, test+": a test file, not a script (run it with rclua test)")
	assert.Empty(t, s.Requests(), "neither the syntax error nor the test file reached the server")

	// A script that compiles still needs the server: the check does not
	// hide the connection's errors.
	code, _, stderr = runChild(t, down, "exec", good)
	assert.Equal(t, 1, code, "the server down: %s", stderr)
	assert.Contains(t, stderr, "cannot reach the Rocket.Chat server at http://127.0.0.1:1")
	code, _, stderr = runChild(t, refused, "exec", good)
	assert.Equal(t, 3, code, "a refused token: %s", stderr)
	assert.NotContains(t, stderr, secretToken)
}

// TestE2EDateInTheLocalZone: the daemon's os.date (no fake clock) gives
// the process's zone (TZ), with its own abbreviation, offset and "*t"'s
// isdst, in summer and in winter.
func TestE2EDateInTheLocalZone(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	script := filepath.Join(t.TempDir(), "zone.lua")
	require.NoError(t, os.WriteFile(script, []byte(`
local summer = os.time{year = 2026, month = 7, day = 1, hour = 12}
local winter = os.time{year = 2026, month = 1, day = 15, hour = 12}
rc.log.info("zone", {
  summer = os.date("%H:%M %Z %z", summer), summer_dst = os.date("*t", summer).isdst,
  winter = os.date("%H:%M %Z %z", winter), winter_dst = os.date("*t", winter).isdst,
  default = os.date(nil, summer),
})
`), 0o644))
	code, _, stderr := runChild(t, append(botEnv(s), "TZ=Europe/Paris"), "exec", "--log-format", "json", script)
	require.Equal(t, 0, code, stderr)
	for _, want := range []string{`"summer":"12:00 CEST +0200"`, `"summer_dst":true`, `"winter":"12:00 CET +0100"`, `"winter_dst":false`, `"default":"01 Jul 26 12:00 CEST"`} {
		assert.Contains(t, stderr, want)
	}
}
