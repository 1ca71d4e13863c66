package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/rclua/rclua/runtime/watch"
)

// LibDir is the folder of the scripts folder that require loads modules
// from; its files are not scripts.
const LibDir = watch.LibDir

// maxModuleName bounds a require name.
const maxModuleName = 200

// moduleName is what require accepts: dotted identifiers.
var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// modules resolves require names to files under the lib/ folder of one
// scripts folder and records which module files a script looked for (its
// dependencies, found or not), by their name in the folder
// ("lib/sub/util.lua"), and which modules its state loaded (see
// required).
type modules struct {
	dir string // the scripts folder

	mu    sync.Mutex
	deps  map[string]struct{}
	order []string        // the require names looked for, in the order first looked for
	ok    map[string]bool // the names whose module loaded (loaded)
}

func newModules(dir string) *modules {
	return &modules{dir: dir, deps: map[string]struct{}{}, ok: map[string]bool{}}
}

// moduleFile returns the file name of the module name in the scripts
// folder, "lib/sub/util.lua" for "sub.util", or an error saying why name
// is not one.
func moduleFile(name string) (string, error) {
	if len(name) > maxModuleName || !moduleName.MatchString(name) {
		return "", fmt.Errorf("not a module name: require loads only modules of the scripts folder's %s/ by dotted name (\"util\" is %s/util.lua, \"sub.util\" is %s/sub/util.lua)", LibDir, LibDir, LibDir)
	}
	return LibDir + "/" + strings.ReplaceAll(name, ".", "/") + ".lua", nil
}

// find is the sandbox.ModuleFinder of a script state.
func (m *modules) find(name string) (chunk string, src []byte, err error) {
	chunk, err = moduleFile(name)
	if err != nil {
		return "", nil, err
	}
	m.mu.Lock()
	m.deps[chunk] = struct{}{}
	if !slices.Contains(m.order, name) {
		m.order = append(m.order, name)
	}
	m.mu.Unlock()
	path := filepath.Join(m.dir, filepath.FromSlash(chunk))
	if err := m.inside(path); err != nil {
		return "", nil, err
	}
	src, err = watch.ReadScript(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("no %s in the scripts folder (modules are loaded only from %s/): %w", chunk, LibDir, fs.ErrNotExist)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", chunk, pathErr(err))
	}
	return chunk, src, nil
}

// inside refuses a module path that resolves, through symlinks, outside
// the lib/ folder.
func (m *modules) inside(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil // missing: ReadScript says so
	}
	lib, err := filepath.EvalSymlinks(filepath.Join(m.dir, LibDir))
	if err != nil {
		return nil
	}
	rel, err := filepath.Rel(lib, real)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		name, _ := filepath.Rel(m.dir, path)
		return fmt.Errorf("%s resolves outside the scripts folder's %s/ (a symlink): refused", filepath.ToSlash(name), LibDir)
	}
	return nil
}

// dependsOn reports whether the script looked for the module file name.
func (m *modules) dependsOn(name string) bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.deps[name]
	return ok
}

// loaded records that the module name ran its top level without error in
// the script's state (sandbox.Options.ModuleLoaded).
func (m *modules) loaded(name string) {
	m.mu.Lock()
	m.ok[name] = true
	m.mu.Unlock()
}

// required returns the modules the script's state loaded (at its top
// level or in a handler, directly or through another module), in the
// order they were first required. A module looked for but never loaded
// (missing, broken) is not among them.
func (m *modules) required() []string {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, name := range m.order {
		if m.ok[name] {
			out = append(out, name)
		}
	}
	return out
}
