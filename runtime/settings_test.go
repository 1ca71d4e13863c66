package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/store"
)

const settingsV1 = `# settings of the scripts
[a]
owner = "alice"
rooms = ["general", "random"]
since = 1979-05-27T07:32:00Z
[a.limits]
max = 3

[b]
greeting = "hi"
`

// rc.config is the script's section, a fresh copy of plain tables at each
// read: every way of reading it sees the content (next, #, ipairs, pairs,
// table.concat, unpack, rc.json.encode, rc.store.set), and no way of
// writing to it (assignment, rawset, table.insert, a copy kept in a local,
// setmetatable) changes the settings or the next read; a script without a
// section gets an empty table.
func TestConfigIsTheScriptsSection(t *testing.T) {
	t.Parallel()
	mem := store.OpenMemory(store.Options{SweepEvery: -1})
	t.Cleanup(func() { _ = mem.Close() })
	th := startHostEnv(t, Config{}, env{module: &luabind.Module{}, store: mem}, nil, map[string]string{
		SettingsFile: settingsV1,
		"a.lua": `local c = rc.config
assert(c.owner == "alice")
assert(#c.rooms == 2 and c.rooms[1] == "general" and c.rooms[2] == "random")
local seen = {}
for i, r in ipairs(c.rooms) do seen[#seen + 1] = i .. r end
assert(table.concat(seen, ",") == "1general,2random", table.concat(seen, ","))
local keys = {}
for k in pairs(c) do keys[#keys + 1] = k end
table.sort(keys)
assert(table.concat(keys, ",") == "limits,owner,rooms,since", table.concat(keys, ","))
assert(next(rc.config) ~= nil, "next sees the content")
assert(rawget(rc.config, "owner") == "alice", "raw reads see the content")
assert(table.concat(rc.config.rooms, ",") == "general,random")
local r1, r2 = unpack(rc.config.rooms)
assert(r1 == "general" and r2 == "random")
local enc = rc.json.encode(rc.config)
assert(enc:find('"owner":"alice"', 1, true) and enc:find('"rooms":["general","random"]', 1, true), enc)
assert(rc.store.set("rooms", rc.config.rooms))
assert(table.concat(rc.store.get("rooms"), ",") == "general,random")
assert(c.limits.max == 3)
assert(c.since == "1979-05-27T07:32:00Z", c.since)
assert(not tostring(c):find("alice"))
c.owner = "mallory"; c.new = 1; c.rooms[3] = "x"; c.limits.max = 9
rc.config.owner = "mallory"; rawset(rc.config, "owner", "mallory")
rawset(rc.config.rooms, 1, "x"); table.insert(rc.config.rooms, "x")
setmetatable(rc.config, {__index = function() return "mallory" end})
local fresh = rc.config
assert(fresh ~= c and fresh.owner == "alice" and fresh.new == nil and fresh.limits.max == 3, "writes reach no other copy")
assert(#fresh.rooms == 2 and fresh.rooms[1] == "general")
assert(getmetatable(fresh) == nil and fresh.missing == nil)
rc.log.info("a checked")
`,
		"c.lua": `assert(next(rc.config) == nil); for k in pairs(rc.config) do error(k) end; assert(rc.config.x == nil); rc.log.info("c checked")`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a checked") == 1 && th.logs.count("c checked") == 1 }, "both checked")
}

func configScript(name string) string {
	return `local g = rc.config.greeting or "none"
rc.log.info("` + name + ` loaded " .. g)
rc.every(0.01, function() rc.log.info("` + name + ` tick " .. g) end)
`
}

// An edit of the settings file reloads the scripts whose section changed
// and no other; a file that does not parse keeps the settings, logged
// once with file:line.
func TestSettingsReloadAffectedScriptsOnly(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{
		SettingsFile: "[a]\ngreeting = \"hello\"\n[b]\ngreeting = \"hi\"\n",
		"a.lua":      configScript("a"),
		"b.lua":      configScript("b"),
		"c.lua":      configScript("c"),
	})
	th.logs.eventually(t, waitFor, func() bool {
		return th.logs.count("a loaded hello") == 1 && th.logs.count("b loaded hi") == 1 && th.logs.count("c loaded none") == 1
	}, "loaded with their settings at the first load")
	path := filepath.Join(th.dir, SettingsFile)

	writeFile(t, path, "# a comment\n[a]\ngreeting = \"bonjour\"\n[b]\ngreeting = \"hi\"\n")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick bonjour") > 0 }, "a reloaded")
	assert.Equal(t, 1, th.logs.count("b loaded hi"), "b's section did not change")
	assert.Equal(t, 1, th.logs.count("c loaded none"), "c has no section")

	writeFile(t, path, "[a]\ngreeting = \"bonjour\"\nx = = 1\n[b]\ngreeting = \"hi\"\n")
	const broken = "settings file does not parse: keeping the previous settings"
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count(broken) == 1 }, "the broken file refused")
	for _, e := range th.logs.entries() {
		if e["message"] == broken {
			assert.True(t, strings.HasPrefix(e["error"].(string), "rclua.toml:3:"), "file:line: %v", e["error"])
		}
	}
	writeFile(t, filepath.Join(th.dir, "d.lua"), `rc.log.info("d loaded")`)
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("d loaded") == 1 }, "a later change")
	assert.Equal(t, 1, th.logs.count(broken), "the broken content is logged once")
	th.h.ReloadAll() // asked for: the broken file is refused (and logged) again, a keeps its settings
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a loaded bonjour") == 2 }, "a reloads by SIGHUP with the kept settings")

	writeFile(t, path, "[b]\ngreeting = \"hey\"\n")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick none") > 0 && th.logs.count("b tick hey") > 0 }, "a lost its section, b changed")
	assert.Equal(t, 2, th.logs.count(broken), "the broken content was logged at its edit and at the reload asked for")

	require.NoError(t, os.Remove(path))
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("b tick none") > 0 }, "no file: no settings")
}

// A settings edit with which a script no longer loads keeps its running
// version (with the old settings), and the log says the reload was asked
// for, then that it failed: never that the script reloaded.
func TestSettingsReloadThatFailsKeepsTheOldVersion(t *testing.T) {
	t.Parallel()
	script := `local g = rc.config.greeting or "none"
assert(g ~= "bad", "greeting is bad")
rc.log.info("a loaded " .. g)
rc.every(0.01, function() rc.log.info("a tick " .. g) end)
`
	th := startHost(t, Config{}, nil, map[string]string{
		SettingsFile: "[a]\ngreeting = \"hello\"\n",
		"a.lua":      script,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick hello") > 0 }, "a runs with its settings")
	// Renamed over, so that no read sees the file half written (an empty
	// section would reload a with no greeting, and succeed).
	renameOver(t, filepath.Join(th.dir, SettingsFile), "[a]\ngreeting = \"bad\"\n")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "a") >= 1 }, "the reload with the new settings failed")
	// The failed load may be logged before the settings line that asked
	// for it: wait for both.
	requested := func() bool {
		for _, e := range th.logs.entries() {
			if r, _ := e["reloading"].([]any); e["message"] == "settings loaded" && len(r) == 1 && r[0] == "a" {
				return true
			}
		}
		return false
	}
	th.logs.eventually(t, waitFor, requested, "the settings log names the script whose reload it asked for")
	for _, e := range th.logs.entries() {
		if e["message"] == "settings loaded" {
			_, claims := e["reloaded"]
			assert.False(t, claims, "the settings log claims a reload before its outcome: %v", e)
		}
	}
	assert.Zero(t, th.logs.count("script reloaded", "script", "a"))
	n := th.logs.count("a tick hello")
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("a tick hello") > n }, "the old version keeps running")
	st := statusOf(th.h, "a")
	assert.Equal(t, StateRunning, st.State)
	assert.Contains(t, st.LastError, "greeting is bad")
}

// A setting outside any section, and a secrets list that is not one, are
// refused with the file named.
func TestSettingsParseErrors(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"top-level key":    "owner = \"alice\"\n",
		"secrets a string": "[a]\nsecrets = \"api_key\"\n",
		"bad secret name":  "[a]\nsecrets = [\"../etc/passwd\"]\n",
		"syntax":           "[a]\nx = \n",
	}
	for name, content := range cases {
		_, err := parseSettings(SettingsFile, []byte(content))
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), SettingsFile+":"), "%s: %v", name, err)
	}
	_, err := parseSettings(SettingsFile, []byte("[a]\nx = \n"))
	assert.Contains(t, err.Error(), "rclua.toml:2:")
}
