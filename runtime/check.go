package runtime

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"

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
	e := env{module: luabind.Offline(zerolog.Nop())}
	files, errs := ScriptFiles(paths)
	errs = append(errs, checkModules(files)...)
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
