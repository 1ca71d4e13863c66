package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const initHelp = `rclua init [DIR]

Writes a starter folder into DIR (default: the current folder):

  scripts/hello.lua        an example script (answers !ping with pong)
  scripts/hello_test.lua   its test (rclua test)
  scripts/rclua.toml       the scripts' settings, a section per script
  types/rclua.d.lua        the rc API for the Lua language server (rclua types)
  .luarc.json              LuaLS settings: Lua 5.1, types/ as a library, rc a global
  .luacheckrc              luacheck settings: Lua 5.1, rc a read-only global

Refuses to overwrite: if any of these files exists, nothing is written.
Then, from DIR: rclua check scripts, and rclua run.
`

// initFlags returns the flag set of "rclua init" (no flags).
func initFlags() *flag.FlagSet { return newFlagSet("init", initHelp) }

const helloScript = `-- hello.lua: answers "!ping" in the message's thread, with the greeting of
-- its section of rclua.toml ("pong" without one).
local greeting = rc.config.greeting or "pong"

rc.hear("^!ping$", function(msg)
  local _, err = msg:reply { text = greeting, thread = true }
  if err then
    rc.log.warn("could not answer", { room = msg.rid, error = tostring(err) })
  end
end)
`

const helloTest = `-- hello_test.lua: the tests of hello.lua, run by "rclua test" on a fake
-- server with a fake clock (see the README's "Testing scripts").
function test_ping_gets_pong_in_its_thread()
  local msg = t.post { room = "#general", user = "alice", text = "!ping" }
  t.eq(t.posted(), { { room = "#general", text = "pong", thread = msg._id } })
end

function test_other_text_gets_nothing()
  t.post { room = "#general", user = "alice", text = "ping?" }
  t.eq(t.posted(), {})
end
`

const settingsFile = `# rclua.toml: the scripts' settings, a section per script (read as rc.config).
[hello]
# greeting = "pong"
`

const luarcJSON = `{
  "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
  "runtime.version": "Lua 5.1",
  "workspace.library": ["types"],
  "workspace.checkThirdParty": false,
  "diagnostics.globals": ["rc"]
}
`

const luacheckRC = `-- luacheck settings for rclua scripts (Lua 5.1, as the sandbox runs them).
std = "lua51"
-- rc is the one global rclua gives a script; scripts read it, never replace it.
read_globals = { "rc" }
-- Test files define test_* functions at their top level (rclua test calls them)
-- and drive the script through the global t.
files["**/*_test.lua"] = { allow_defined_top = true, ignore = { "131" }, read_globals = { "t" } }
-- The definition file declares rc.
exclude_files = { "types/*.lua" }
`

// starterFiles are the files init writes, by path under DIR.
func starterFiles() []struct {
	path    string
	content []byte
} {
	return []struct {
		path    string
		content []byte
	}{
		{"scripts/hello.lua", []byte(helloScript)},
		{"scripts/hello_test.lua", []byte(helloTest)},
		{"scripts/rclua.toml", []byte(settingsFile)},
		{typesDir + "/" + typesFile, definitions()},
		{".luarc.json", []byte(luarcJSON)},
		{".luacheckrc", []byte(luacheckRC)},
	}
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fset := initFlags()
	if err := parseFlags(fset, args, stdout, stderr); err != nil {
		return err
	}
	if fset.NArg() > 1 {
		return usagef("init: give at most one folder (see rclua init --help)")
	}
	dir := "."
	if fset.NArg() == 1 {
		dir = fset.Arg(0)
	}
	files := starterFiles()
	var existing []string
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if _, err := os.Lstat(p); err == nil {
			existing = append(existing, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("init: %w", err)
		}
	}
	if len(existing) > 0 {
		return fmt.Errorf("init: not overwriting %s: nothing written (choose an empty folder, or move them away)", strings.Join(existing, ", "))
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := writeNew(p, f.content); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}

// writeNew creates path (and its folder) with content; an existing file
// (one created since init looked) is an error, never overwritten.
func writeNew(path string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
