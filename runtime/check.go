package runtime

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/watch"
)

// Check compiles and loads every given script (a folder stands for its
// *.lua files, see ScriptFiles) in the sandbox, with luabind's offline
// module, whose every call fails with "no network in check mode". It
// returns one error per failing script or unusable path, each
// "file:line: message"; nil when all pass. The modules of the lib/ folder
// beside the scripts are compiled too (each syntax error reported as
// "lib/name.lua:line: message"), and a script requiring a missing or
// broken module fails.
func Check(ctx context.Context, paths []string, cfg Config) []error {
	cfg = cfg.withDefaults()
	// Secrets: placeholders for the names the settings allow.
	e := env{module: luabind.Offline(zerolog.Nop()), secrets: secretSource{placeholder: true}}
	files, errs := ScriptFiles(paths)
	errs = append(errs, checkModules(files)...)
	errs = append(errs, checkSettings(files)...)
	for _, p := range files {
		content, err := watch.ReadScript(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if err := runOnce(ctx, p, content, cfg, e, modeCheck, zerolog.Nop()); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkModules compiles every module of the lib/ folders beside files.
func checkModules(files []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		root := filepath.Join(dir, LibDir)
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !watch.IsScript(d.Name()) {
				return nil
			}
			content, err := watch.ReadScript(p)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
				return nil
			}
			L := sandbox.New(sandbox.Options{})
			defer L.Close()
			if _, err := sandbox.Compile(L, p, content); err != nil {
				errs = append(errs, err)
			}
			return nil
		})
	}
	return errs
}

// checkSettings parses the settings file of every folder holding files
// and reports a section naming no script of its folder (a typo would
// leave a script without its settings).
func checkSettings(files []string) []error {
	var errs []error
	seen := map[string]bool{}
	for _, f := range files {
		dir := filepath.Dir(f)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		set, err := readSettings(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scripts, _ := ScriptFiles([]string{dir})
		known := map[string]bool{}
		for _, s := range scripts {
			known[scriptBaseName(filepath.Base(s))] = true
		}
		names := make([]string, 0, len(set))
		for name := range set {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !known[name] {
				errs = append(errs, fmt.Errorf("%s: section [%s] names no script of the folder (no %s.lua)", filepath.Join(dir, SettingsFile), name, name))
			}
		}
	}
	return errs
}
