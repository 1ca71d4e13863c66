package cli

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/scripttest"
)

const typesHelp = `rclua types [DIR]

Writes DIR/rclua.d.lua (DIR default ./types): the LuaLS definition file of
the rc API (---@meta, classes, parameters and results), for editors running
the Lua language server. Name DIR as a library in .luarc.json
("workspace.library": ["types"]). Keep DIR out of the scripts folder: the
daemon would load a *.lua file there as a script. Rewrites a definition
file rclua wrote; refuses to replace any other file.
`

// typesFile is the definition file's name; typesDir the default folder.
const (
	typesFile = "rclua.d.lua"
	typesDir  = "types"
)

// definitions is the definition file's content: the rc API and the t
// table of test files.
func definitions() []byte {
	return []byte(luabind.Definitions("Written by rclua "+versionString()+" (rclua types).", scripttest.API()...))
}

// typesFlags returns the flag set of "rclua types" (no flags).
func typesFlags() *flag.FlagSet { return newFlagSet("types", typesHelp) }

func cmdTypes(args []string, stdout, stderr io.Writer) error {
	fs := typesFlags()
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("types: give at most one folder (see rclua types --help)")
	}
	dir := typesDir
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	path := filepath.Join(dir, typesFile)
	if old, err := os.ReadFile(path); err == nil && !bytes.HasPrefix(old, []byte("---@meta\n-- Written by rclua ")) {
		return fmt.Errorf("types: %s exists and is not a definition file rclua wrote: not replaced (remove it, or choose another folder)", path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("types: %w", err)
	}
	if err := os.WriteFile(path, definitions(), 0o644); err != nil {
		return fmt.Errorf("types: %w", err)
	}
	fmt.Fprintf(stderr, "rclua types: wrote %s\n", path)
	return nil
}
