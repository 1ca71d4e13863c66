package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

const initHelp = `rclua init [DIR]

Writes a starter folder into DIR (default: the current folder):

  scripts/hello.lua        an example script (answers !ping with pong)
  scripts/hello_test.lua   its test (rclua test)
  scripts/rclua.toml       the scripts' settings, a section per script
  types/rclua.d.lua        the rc API for the Lua language server (rclua types)
  .luarc.json              LuaLS settings: Lua 5.1, types/ as a library, rc a global
  .luacheckrc              luacheck settings: Lua 5.1, rc a read-only global

Refuses to overwrite: if any of these files exists, or scripts/, types/ or
DIR is there but not a folder (a file, a dangling symbolic link), nothing is
written; a failure while writing removes what init had written.
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

// starterFile is one file init writes: its slash-separated path under
// DIR and its content.
type starterFile struct {
	path    string
	content []byte
}

// starterFiles are the files init writes.
func starterFiles() []starterFile {
	return []starterFile{
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
	if err := initCheck(dir, files); err != nil {
		return err
	}
	var w initWriter
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := w.write(p, f.content); err != nil {
			if left := w.undo(); len(left) > 0 {
				return fmt.Errorf("init: %w; could not remove what it wrote: %s", err, strings.Join(left, ", "))
			}
			return fmt.Errorf("init: %w: nothing written (what it had written is removed)", err)
		}
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, filepath.FromSlash(f.path)))
	}
	return nil
}

// initCheck refuses, before anything is written, a folder init needs
// (DIR, its missing parents, DIR/scripts, DIR/types) that is there but
// is not a folder (a file, a dangling symbolic link, ...), and a file
// init writes that exists in any form.
func initCheck(dir string, files []starterFile) error {
	var bad, existing []string
	isDir := map[string]bool{}
	folder := func(d string) bool { // d is a folder now; bad gets why it cannot be one
		ok, seen := isDir[d]
		if !seen {
			var err error
			if ok, err = dirState(d); err != nil {
				bad = append(bad, err.Error())
			}
			isDir[d] = ok
		}
		return ok
	}
	// DIR, or its nearest parent that exists, must be a folder.
	for p := dir; !folder(p); p = filepath.Dir(p) {
		if filepath.Dir(p) == p {
			break
		}
	}
	for _, f := range files {
		// The folders between dir and the file; below a missing one
		// nothing exists.
		d, under := dir, folder(dir)
		for _, part := range strings.Split(path.Dir(f.path), "/") {
			if !under || part == "." {
				break
			}
			d = filepath.Join(d, part)
			under = folder(d)
		}
		if !under {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if _, err := os.Lstat(p); err == nil {
			existing = append(existing, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("init: %w", err)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("init: %s: nothing written (init writes folders there: move them away)", strings.Join(bad, "; "))
	}
	if len(existing) > 0 {
		return fmt.Errorf("init: not overwriting %s: nothing written (choose an empty folder, or move them away)", strings.Join(existing, ", "))
	}
	return nil
}

// dirState reports whether p is a folder (a symbolic link to one counts)
// or absent; anything else is an error naming p and what it is.
func dirState(p string) (exists bool, err error) {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return false, nil // absent (below a file: the check of the file names it)
	case err != nil:
		return false, err
	case fi.IsDir():
		return true, nil
	case fi.Mode()&fs.ModeSymlink == 0:
		return false, fmt.Errorf("%s is a file, not a folder", p)
	}
	target, _ := os.Readlink(p)
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("%s is a symbolic link to %s, which does not exist", p, target)
	case err != nil:
		return false, err
	case !st.IsDir():
		return false, fmt.Errorf("%s is a symbolic link to %s, which is not a folder", p, target)
	}
	return true, nil
}

// initWriter writes new files and folders, remembering them so that a
// failure part way can remove them.
type initWriter struct {
	created []string // in creation order
}

// write creates path (and its missing folders) with content; an existing
// file (one created since init looked) is an error, never overwritten.
func (w *initWriter) write(path string, content []byte) error {
	if err := w.mkdir(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	w.created = append(w.created, path)
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// mkdir creates the folder p and its missing parents.
func (w *initWriter) mkdir(p string) error {
	exists, err := dirState(p)
	if err != nil || exists {
		return err
	}
	if parent := filepath.Dir(p); parent != p {
		if err := w.mkdir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	w.created = append(w.created, p)
	return nil
}

// undo removes what w created, newest first (a folder only when empty:
// what someone else put there stays), and returns what it could not.
func (w *initWriter) undo() (left []string) {
	for _, p := range slices.Backward(w.created) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			left = append(left, p)
		}
	}
	return left
}
