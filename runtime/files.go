package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/rclua/rclua/runtime/watch"
)

// ScriptFiles expands paths into script files as the host sees a scripts
// folder: a file stands for itself; a folder for its *.lua files (not
// recursive; dotfiles, editor temp and swap files and *_test.lua test
// files skipped, see watch.IsScript), sorted. A missing path, a test file
// given by name, or a folder without scripts, is an error naming it.
func ScriptFiles(paths []string) (files []string, errs []error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if !fi.IsDir() {
			if watch.IsTest(filepath.Base(p)) {
				errs = append(errs, fmt.Errorf("%s: a test file, not a script (run it with rclua test)", p))
				continue
			}
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && watch.IsScript(e.Name()) {
				names = append(names, filepath.Join(p, e.Name()))
			}
		}
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("%s: no *.lua scripts in this folder", p))
			continue
		}
		sort.Strings(names)
		files = append(files, names...)
	}
	return files, errs
}

// pathErr drops the path an *fs.PathError repeats, since callers name it.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
