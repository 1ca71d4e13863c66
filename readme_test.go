package main

import (
	"context"
	"errors"
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
)

// luabindAPIBlock returns the code block that follows the "# Lua API"
// heading of package luabind's doc comment.
func luabindAPIBlock() (string, error) {
	files, err := filepath.Glob(filepath.Join("luabind", "*.go"))
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	var docs []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return "", err
		}
		if f.Doc != nil {
			docs = append(docs, f.Doc.Text())
		}
	}
	var p comment.Parser
	for _, text := range docs {
		found := false
		for _, block := range p.Parse(text).Content {
			switch b := block.(type) {
			case *comment.Heading:
				found = headingText(b) == "Lua API"
			case *comment.Code:
				if found {
					return b.Text, nil
				}
			}
		}
	}
	return "", errors.New(`package luabind's doc has no code block after a "# Lua API" heading`)
}

func headingText(h *comment.Heading) string {
	var b strings.Builder
	for _, t := range h.Text {
		if p, ok := t.(comment.Plain); ok {
			b.WriteString(string(p))
		}
	}
	return strings.TrimSpace(b.String())
}

// readmeAPIBlock returns the first fenced code block after the README's
// "## Lua API" heading.
func readmeAPIBlock(readme string) (string, error) {
	_, after, ok := strings.Cut(readme, "\n## Lua API\n")
	if !ok {
		return "", errors.New(`README.md has no "## Lua API" section`)
	}
	_, after, ok = strings.Cut(after, "```lua\n")
	if !ok {
		return "", errors.New("README.md's Lua API section has no ```lua block")
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		return "", errors.New("README.md's Lua API block is not closed")
	}
	return block, nil
}

// normalizeSpace collapses every run of white space to one space.
func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestReadmeLuaAPIMatchesLuabind keeps the README's Lua API reference and
// luabind's package doc identical (up to white space).
func TestReadmeLuaAPIMatchesLuabind(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	fromReadme, err := readmeAPIBlock(string(readme))
	require.NoError(t, err)
	fromDoc, err := luabindAPIBlock()
	require.NoError(t, err)
	assert.Equal(t, normalizeSpace(fromDoc), normalizeSpace(fromReadme),
		"README.md's Lua API block differs from luabind's package doc; copy luabind's block:\n%s", fromDoc)
}

func TestReadmeExtraction(t *testing.T) {
	block, err := readmeAPIBlock("intro\n## Lua API\n\ntext\n\n```lua\nrc.me()  -> user\n```\n\n```lua\nother\n```\n")
	require.NoError(t, err)
	assert.Equal(t, "rc.me()  -> user\n", block)
	_, err = readmeAPIBlock("no section")
	assert.Error(t, err)
	assert.Equal(t, "a b c", normalizeSpace("  a\n\tb   c\n"))
	assert.NotEqual(t, normalizeSpace("rc.me() -> user"), normalizeSpace("rc.me() -> user | nil, err"), "a drift is seen")
}

// TestReadmeMentionsTheEssentials: the set-up commands match .ci/run and
// every flag and variable is in the configuration table.
func TestReadmeMentionsTheEssentials(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	ci, err := os.ReadFile(".ci/run")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "go run . run --dev")
	assert.Contains(t, string(ci), "go test -race -count=1 ./...", ".ci/run runs the README's test command")
	assert.Contains(t, string(readme), "go test -race -count=1 ./...")
	for _, s := range []string{"RC_URL", "RC_USER_ID", "RC_TOKEN", "RC_USER", "RC_PASSWORD", "RC_PASSWORD_FILE", "RC_TOTP",
		"RCLUA_SCRIPTS", "RCLUA_LOG_LEVEL", "`--url`", "`--scripts`", "`--poll-interval`", "`--debounce`", "`--load-timeout`",
		"`--handler-timeout`", "`--shutdown-timeout`", "`--log-level`", "`--log-format`", "`--dev`", "`--dev-addr`",
		"[Service]", "rclua check"} {
		assert.Contains(t, string(readme), s)
	}
}

// TestReadmeSystemdUnit: the unit file in the README tells systemd not to
// restart on the exit statuses that a restart cannot fix, as the code
// assigns them, and stops later than the daemon's own shutdown bound.
func TestReadmeSystemdUnit(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "```ini\n")
	require.True(t, ok, "README.md has a unit file in an ```ini block")
	unit, _, ok := strings.Cut(after, "```")
	require.True(t, ok)
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
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	dir := t.TempDir()
	found := 0
	for _, part := range strings.Split(string(readme), "```lua\n")[1:] {
		block, _, _ := strings.Cut(part, "```")
		name, _, ok := strings.Cut(strings.TrimPrefix(block, "-- "), ":")
		if !strings.HasPrefix(block, "-- ") || !ok || !strings.HasSuffix(name, ".lua") {
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

// readmeScript returns the README's complete script whose header names
// name.
func readmeScript(t *testing.T, name string) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(readme), "```lua\n-- "+name+":")
	require.True(t, ok, "README.md shows %s", name)
	block, _, ok := strings.Cut(after, "```")
	require.True(t, ok)
	return "-- " + name + ":" + block
}

// TestReadmeGreetMentions drives the README's greet_mentions.lua with
// snapshots as a busy poller delivers them: a backlog for one room gives
// one answer, and stale snapshots after it none.
func TestReadmeGreetMentions(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c := botClient(t, s)
	markAllRead(t, c)
	path := filepath.Join(t.TempDir(), "greet_mentions.lua")
	require.NoError(t, os.WriteFile(path, []byte(readmeScript(t, "greet_mentions.lua")), 0o644))
	h := loadScript(t, s, path)
	on := h.only("on")
	ctx := context.Background()
	snapshot := func() lua.LValue {
		t.Helper()
		sub, err := c.Subscriptions.GetOne(ctx, rctest.RandomRoomID)
		require.NoError(t, err)
		v, err := luajson.DecodeBytes(h.L, sub.Raw)
		require.NoError(t, err)
		return v
	}
	answers := func() int {
		n := 0
		for _, m := range s.Messages(rctest.RandomRoomID) {
			if m.Username == rctest.BotUsername {
				n++
			}
		}
		return n
	}

	var backlog []lua.LValue
	for i := range 2 {
		post(t, s, "bob", rctest.RandomRoomID, fmt.Sprintf("@%s question %d", rctest.BotUsername, i))
		backlog = append(backlog, snapshot())
	}
	for _, v := range backlog {
		h.call(on.fn, lua.LString("updated"), v)
	}
	assert.Equal(t, 1, answers(), "a backlog of snapshots gets one answer")
	sub, _ := s.Subscription(rctest.BotUsername, rctest.RandomRoomID)
	assert.Zero(t, sub.UserMentions, "the room is marked read")

	// The bot's own answer bumped its subscription; that snapshot and the
	// stale ones answer nothing.
	h.call(on.fn, lua.LString("updated"), snapshot())
	h.call(on.fn, lua.LString("updated"), backlog[1])
	assert.Equal(t, 1, answers(), "stale snapshots get no answer")

	post(t, s, "carol", rctest.RandomRoomID, "@"+rctest.BotUsername+" me too")
	h.call(on.fn, lua.LString("updated"), snapshot())
	assert.Equal(t, 2, answers(), "a new mention is answered")
}
