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

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	}
}

// rclua check compiles the modules of lib/, fails a script requiring a
// missing module, and validates the settings file (syntax, sections
// naming no script).
func TestE2ECheckModulesAndSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"good.lua":     `local u = require("util"); assert(u.twice(2) == 4); assert(rc.config.owner == "alice"); assert(rc.secret("api_key"))`,
		"lib/util.lua": `local M = {}; function M.twice(x) return 2 * x end; return M`,
		"rclua.toml":   "[good]\nowner = \"alice\"\nsecrets = [\"api_key\"]\n",
	})
	code, stdout, stderr := runChild(t, nil, "check", dir)
	assert.Equal(t, 0, code, "a script with its module, settings and an allowed secret passes: %s%s", stdout, stderr)

	writeTree(t, dir, map[string]string{
		"lib/broken.lua": "local M = {}\nfunction M.x( end\nreturn M\n",
		"missing.lua":    `require("nowhere")`,
		"steal.lua":      `local k, err = rc.secret("api_key"); if not k then error(tostring(err)) end`,
		"rclua.toml":     "[good]\nowner = \"alice\"\nsecrets = [\"api_key\"]\n[goood]\nowner = \"bob\"\n",
	})
	code, stdout, _ = runChild(t, nil, "check", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, filepath.Join(dir, "lib", "broken.lua")+":2:", "the module's syntax error with its file:line")
	assert.Contains(t, stdout, `missing.lua:1: require "nowhere": no lib/nowhere.lua in the scripts folder`)
	assert.Contains(t, stdout, `steal.lua:1: secret "api_key" is not allowed for script "steal"`)
	assert.Contains(t, stdout, "section [goood] names no script of the folder")
	assert.Len(t, strings.Split(strings.TrimSpace(stdout), "\n"), 4, "one line per error:\n%s", stdout)

	writeTree(t, dir, map[string]string{"rclua.toml": "[good]\nowner = \n"})
	code, stdout, _ = runChild(t, nil, "check", filepath.Join(dir, "good.lua"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, filepath.Join(dir, "rclua.toml")+":2:", "a settings file that does not parse, with file:line")
}

// rclua exec reads its module, its settings and its secrets (the
// environment before --secrets-dir), and never prints a secret.
func TestE2EExecSettingsAndSecrets(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir, secrets := t.TempDir(), t.TempDir()
	writeTree(t, dir, map[string]string{
		"post.lua": `local fmt = require("fmt")
local function secret(name)
  local v, err = rc.secret(name)
  if not v then error(tostring(err)) end
  return v
end
local key = secret("api_key")
local token = secret("token")
assert(#key > 0 and #token > 0)
rc.log.info("using " .. key, {token = token})
assert(rc.chat.post_message { channel = "#" .. rc.config.room, text = fmt.greet(rc.config.who) })
error("failing with " .. token)
`,
		"lib/fmt.lua": `return {greet = function(who) return "hello " .. who end}`,
		"rclua.toml":  "[post]\nroom = \"general\"\nwho = \"team\"\nsecrets = [\"api_key\", \"token\"]\n",
	})
	require.NoError(t, os.WriteFile(filepath.Join(secrets, "token"), []byte("tok-from-file-123\n"), 0o600))
	env := append(botEnv(s), "RCLUA_SECRET_API_KEY=key-from-env-456", "CREDENTIALS_DIRECTORY="+secrets)
	code, stdout, stderr := runChild(t, env, "exec", "--log-format", "json", filepath.Join(dir, "post.lua"))
	assert.Equal(t, 1, code, "the script raises at its end: %s", stderr)
	var texts []string
	for _, m := range s.Messages(rctest.GeneralRoomID) {
		texts = append(texts, m.Text)
	}
	assert.Contains(t, texts, "hello team", "settings and module reached the script")
	out := stdout + stderr
	assert.Contains(t, out, "failing with [redacted]")
	assert.Contains(t, out, "using [redacted]")
	assert.NotContains(t, out, "key-from-env-456")
	assert.NotContains(t, out, "tok-from-file-123")

	// --secrets-dir wins over $CREDENTIALS_DIRECTORY.
	other := t.TempDir()
	code, _, stderr = runChild(t, env, "exec", "--secrets-dir", other, filepath.Join(dir, "post.lua"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `secret \"token\" is not set`)
}
