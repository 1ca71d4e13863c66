package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
)

const (
	envSecret  = "s3cr3t-from-env"
	fileSecret = "f1le-s3cret\"quoted"
)

// startSecretHost runs files with secrets api_key (environment) and
// db_pass (file), and a secrets folder holding odd files.
func startSecretHost(t *testing.T, files map[string]string) *testHost {
	t.Helper()
	secrets := t.TempDir()
	writeFile(t, filepath.Join(secrets, "db_pass"), fileSecret+"\n")
	writeFile(t, filepath.Join(secrets, "big"), strings.Repeat("x", MaxSecretBytes+1))
	require.NoError(t, os.Mkdir(filepath.Join(secrets, "folder"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(secrets, "fifo"), 0o600))
	writeFile(t, filepath.Join(secrets, "not_allowed"), "hidden")
	writeFile(t, filepath.Join(secrets, "api_key"), "the file loses to the environment")
	env := map[string]string{"RCLUA_SECRET_API_KEY": envSecret, "RCLUA_SECRET_OTHER": "x"}
	cfg := Config{SecretsDir: secrets}
	e := newEnv(cfg, &luabind.Module{}, func(k string) string { return env[k] })
	return startHostEnv(t, cfg, e, nil, files)
}

// Only names the script's section allows are read: from the environment
// first, then the secrets folder (a regular file, bounded, one trailing
// newline dropped); every refusal is nil, err without a value.
func TestSecretAllowedNamesOnly(t *testing.T) {
	t.Parallel()
	th := startSecretHost(t, map[string]string{
		SettingsFile: `[a]
secrets = ["api_key", "db_pass", "big", "folder", "fifo", "unset"]
[b]
secrets = ["db_pass"]
`,
		"a.lua": `
local function refused(name, want)
  local v, err = rc.secret(name)
  assert(v == nil, name .. " was given")
  assert(err.error_type == "secret", name)
  assert(tostring(err):find(want, 1, true), name .. ": " .. tostring(err))
  assert(not tostring(err):find("hidden", 1, true))
end
assert(rc.secret("api_key") == "` + envSecret + `", "the environment first")
assert(rc.secret("db_pass") == ` + luaQuote(fileSecret) + `, "the file, without its newline")
refused("not_allowed", 'secret "not_allowed" is not allowed for script "a"')
refused("other", "is not allowed")
refused("big", "larger than the limit")
refused("folder", "not a regular file")
refused("fifo", "not a regular file")
refused("unset", "is not set")
refused("../db_pass", "is not a secret name")
refused("DB_PASS", "is not a secret name")
rc.log.info("a checked")
`,
		"b.lua": `
assert(rc.secret("api_key") == nil, "allowed for a, not for b")
assert(rc.secret("db_pass") ~= nil)
rc.log.info("b checked")
`,
		"c.lua": `local v, err = rc.secret("db_pass"); assert(v == nil and tostring(err):find("not allowed")); rc.log.info("c checked")`,
	})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("a checked") == 1 && th.logs.count("b checked") == 1 && th.logs.count("c checked") == 1
	}, "every script checked")
}

func luaQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// A secret's value never reaches the log: not through rc.log's message,
// fields or table fields, print, an error raised with the value (at load
// or in a handler, also in Status), nor tostring of rc.config.
func TestSecretRedactedFromEveryLogPath(t *testing.T) {
	t.Parallel()
	th := startSecretHost(t, map[string]string{
		SettingsFile: "[a]\nsecrets = [\"api_key\", \"db_pass\"]\n[l]\nsecrets = [\"api_key\"]\n",
		"a.lua": `
local key = assert(rc.secret("api_key"))
local pass = assert(rc.secret("db_pass"))
rc.log.info("message " .. key)
rc.log.warn("fields", {key = key, nested = {pass = pass, list = {key}}, [key] = 1})
print("print", key, pass)
print(tostring(rc.config), rc.config.secrets[1])
rc.every(0.01, function() error("handler failed with " .. key) end)
rc.log.info("a done")
`,
		"l.lua": `local key = rc.secret("api_key"); error("load failed with " .. key)`,
	})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("a done") == 1 && th.logs.count("handler failed", "script", "a") > 0 &&
			th.logs.count("script load failed", "script", "l") == 1
	}, "every path logged")
	out := th.logs.String()
	assert.NotContains(t, out, envSecret)
	assert.NotContains(t, out, "f1le-s3cret", "nor the file's secret, raw or JSON-escaped")
	assert.Contains(t, out, "message "+luabind.Redacted)
	assert.Contains(t, out, "handler failed with "+luabind.Redacted)
	assert.Contains(t, out, "load failed with "+luabind.Redacted)
	for _, name := range []string{"a", "l"} {
		st, _ := th.status(name)
		assert.NotContains(t, st.LastError, envSecret, name)
		assert.Contains(t, st.LastError, luabind.Redacted, name)
	}
}
