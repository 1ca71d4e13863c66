package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/lint"
	"github.com/rclua/rclua/runtime/scripttest"
)

// repoRoot is the module's root seen from this package; readmePath its
// README.
const (
	repoRoot   = "../.."
	readmePath = repoRoot + "/README.md"
)

// TestReadmeMentionsTheEssentials: the set-up commands match .ci/run and
// every flag and variable is in the configuration table.
func TestReadmeMentionsTheEssentials(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	ci, err := os.ReadFile(filepath.Join(repoRoot, ".ci", "run"))
	require.NoError(t, err)
	assert.Contains(t, string(readme), "go run . run --dev")
	assert.Contains(t, string(ci), "go test -race -count=1 ./...", ".ci/run runs the README's test command")
	assert.Contains(t, string(readme), "go test -race -count=1 ./...")
	for _, s := range []string{"[Service]", "rclua check"} {
		assert.Contains(t, string(readme), s)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	require.NotNil(t, goVersion, "go.mod has a go line")
	assert.Contains(t, string(readme), "With Go "+string(goVersion[1])+" or later", "the README names the Go version go.mod requires")
}

// readmeSection returns the README's text from after the first start to
// the next end (or the file's end), failing t when start is missing.
func readmeSection(t *testing.T, start, end string) string {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), start)
	require.True(t, ok, "README.md has %q", start)
	section, _, _ := strings.Cut(after, end)
	return section
}

// TestIgnoreKindsListed: rclua check's help and the README name every
// kind of finding an ignore comment takes.
func TestIgnoreKindsListed(t *testing.T) {
	t.Parallel()
	ignore := readmeSection(t, "A comment `-- rclua: ignore WHAT`", "\n\n")
	_, kinds, ok := strings.Cut(checkHelp, "Kinds of finding:")
	require.True(t, ok, "rclua check --help lists the kinds of finding")
	for _, k := range lint.Kinds {
		assert.Contains(t, kinds, " "+k, "rclua check --help names %s in its list of kinds", k)
		assert.Contains(t, ignore, "`"+k+"`", "the README's ignore paragraph names %s", k)
	}
}

// commandFlags are the flag sets of every command, built as the commands
// build them, with getenv giving the environment's defaults.
func commandFlags(getenv func(string) string) map[string]*flag.FlagSet {
	run, _ := runFlags(getenv)
	exec, _ := execFlags(getenv)
	check, _ := checkFlags()
	test := newTestFlags(getenv).fs
	sets := map[string]*flag.FlagSet{"run": run, "exec": exec, "check": check, "test": test, "version": versionFlags(),
		"init": initFlags(), "types": typesFlags()}
	for _, cmd := range []string{"status", "reload", "disable", "enable"} {
		sets[cmd], _ = controlFlags(cmd, getenv)
	}
	for _, verb := range []string{"list", "get", "delete"} {
		sets["store "+verb], _ = storeFlags(verb, getenv)
	}
	return sets
}

// TestReadmeConfigurationTable: every flag of every command's real flag
// set, and every environment variable the command reads (recorded from
// the getenv calls of the flag sets and of the credentials), has a row in
// the README's configuration table; and every flag the table names exists.
func TestReadmeConfigurationTable(t *testing.T) {
	t.Parallel()
	table := readmeSection(t, "\n## Configuration\n", "\n## ")

	var read []string
	getenv := func(k string) string { read = append(read, k); return "" }
	known := map[string]bool{}
	for cmd, fs := range commandFlags(getenv) {
		fs.VisitAll(func(f *flag.Flag) {
			known[f.Name] = true
			assert.Contains(t, table, "| `--"+f.Name+"` |", "rclua %s --%s has a row in the README's configuration table", cmd, f.Name)
		})
	}
	_, _, _ = loadConnection(getenv, "")
	require.NotEmpty(t, read, "the commands read the environment")
	for _, k := range read {
		assert.Contains(t, table, "`"+k+"`", "%s has a row in the README's configuration table", k)
	}
	for _, m := range regexp.MustCompile("\\| `--([a-z-]+)` \\|").FindAllStringSubmatch(table, -1) {
		assert.True(t, known[m[1]], "the README documents --%s, which no command has", m[1])
	}
	for _, m := range regexp.MustCompile("`((?:RC|RCLUA)_[A-Z_]+)`").FindAllStringSubmatch(table, -1) {
		assert.Contains(t, read, m[1], "the README documents %s, which no command reads", m[1])
	}
}

// TestReadmeSystemdUnit: the unit file in the README tells systemd not to
// restart on the exit statuses that a restart cannot fix, as the code
// assigns them, and stops later than the daemon's own shutdown bound.
func TestReadmeSystemdUnit(t *testing.T) {
	t.Parallel()
	unit := readmeSection(t, "```ini\n", "```")
	settings := map[string]string{}
	for _, line := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = v
		}
	}
	noRestart := strings.Fields(settings["RestartPreventExitStatus"])
	for name, err := range map[string]error{
		"configuration error": usagef("x"),
		"refused credentials": refusedf("x"),
	} {
		assert.Contains(t, noRestart, fmt.Sprint(exitCode(err, io.Discard)), "no restart after a %s", name)
	}
	assert.NotContains(t, noRestart, fmt.Sprint(exitCode(errors.New("x"), io.Discard)), "other failures are restarted")
	stop, err := time.ParseDuration(strings.TrimSpace(settings["TimeoutStopSec"]) + "s")
	require.NoError(t, err, "TimeoutStopSec in seconds")
	assert.Greater(t, stop, defaultShutdownTimeout+time.Second, "systemd waits longer than --shutdown-timeout")
	assert.Contains(t, settings["ExecReload"], "kill -HUP $MAINPID", "systemctl reload sends SIGHUP")
	assert.Contains(t, settings["RestrictAddressFamilies"], "AF_UNIX", "name lookups through systemd-resolved need AF_UNIX")

	// The watchdog must act before the kernel's hard limit does.
	limit := byteSize(runtime.DefaultMemoryLimit)
	if _, v, ok := strings.Cut(settings["ExecStart"], "--memory-limit "); ok {
		require.NoError(t, limit.Set(strings.Fields(v)[0]), "ExecStart's --memory-limit")
	}
	hard := strings.TrimSpace(settings["MemoryMax"])
	require.True(t, strings.HasSuffix(hard, "M"), "MemoryMax in M: %q", hard)
	var hardMax byteSize
	require.NoError(t, hardMax.Set(strings.TrimSuffix(hard, "M")+"MiB"))
	assert.Less(t, int64(limit), int64(hardMax)*3/4, "--memory-limit well below MemoryMax (Go's heap is not all of RSS)")
}

// TestReadmeScriptsPassCheck: every complete script in the README (a ```lua
// block starting with a "-- name.lua:" header) passes rclua check.
func TestReadmeScriptsPassCheck(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	dir := t.TempDir()
	found := 0
	for _, part := range strings.Split(string(readme), "```lua\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		name, _, ok := strings.Cut(strings.TrimPrefix(block, "-- "), ":")
		if !strings.HasPrefix(block, "-- ") || !ok || !strings.HasSuffix(name, ".lua") {
			continue
		}
		if strings.HasSuffix(name, "_test.lua") { // a test file: it must pass against its script
			readmeTestPasses(t, name, block)
			continue
		}
		found++
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(block), 0o644))
		assert.Empty(t, runtime.Check(context.Background(), []string{path}, runtime.Config{}), "README's %s passes rclua check", name)
		assert.NotRegexp(t, `sub\.\w+ [<>]`, block, "README's %s compares a field that may be missing (use tonumber(x) or 0)", name)
	}
	assert.Positive(t, found, "the README shows a complete script")
}

// readmeTestPasses runs the README's test file name (as "scripts/x_test.lua")
// against the project's script it tests: every test passes.
func readmeTestPasses(t *testing.T, name, block string) {
	t.Helper()
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(repoRoot, scripttest.ScriptOf(name)))
	require.NoError(t, err, "the README's %s tests a script of the project", name)
	path := filepath.Join(dir, filepath.Base(name))
	require.NoError(t, os.WriteFile(scripttest.ScriptOf(path), script, 0o644))
	require.NoError(t, os.WriteFile(path, []byte(block), 0o644))
	res, err := scripttest.RunFile(context.Background(), path, scripttest.Options{})
	require.NoError(t, err)
	assert.NotEmpty(t, res)
	for _, r := range res {
		assert.True(t, r.Passed, "README's %s: %s: %s %s", name, r.Name, r.Where, r.Failure)
	}
}

// TestLuacheckrcInStep: the examples' .luacheckrc, with which CI lints
// scripts/, has the rules rclua init gives users (less the exclusion of
// the types folder, which scripts/ has not).
func TestLuacheckrcInStep(t *testing.T) {
	t.Parallel()
	ours, err := os.ReadFile(filepath.Join(repoRoot, "scripts", ".luacheckrc"))
	require.NoError(t, err)
	var given []string
	for _, line := range strings.SplitAfter(luacheckRC, "\n") {
		if !strings.HasPrefix(line, "exclude_files") && line != "-- The definition file declares rc.\n" {
			given = append(given, line)
		}
	}
	assert.Equal(t, strings.Join(given, ""), string(ours), "scripts/.luacheckrc is init's .luacheckrc without exclude_files")
}
