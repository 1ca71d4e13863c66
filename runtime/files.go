package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rclua/rclua/runtime/watch"
)

// ScriptFiles expands paths into script files as the host sees a scripts
// folder: a file stands for itself; a folder for its *.lua files (not
// recursive; dotfiles, editor temp and swap files and *_test.lua test
// files skipped, see watch.IsScript), sorted. A missing path, a test file
// given by name, or a folder without scripts, is an error naming it.
func ScriptFiles(paths []string) (files []string, errs []error) {
	return expandFiles(paths, watch.IsScript, func(p string) error {
		if watch.IsTest(filepath.Base(p)) {
			return fmt.Errorf("%s: a test file, not a script (run it with rclua test)", p)
		}
		return badName(filepath.Dir(p), filepath.Base(p))
	}, func(dir, name string) error {
		if strings.HasSuffix(name, ".lua") {
			return badName(dir, name)
		}
		return nil
	}, "no *.lua scripts in this folder")
}

// badName is the error of a script file whose name the daemon refuses
// (watch.BadName), the name quoted: nil for a good one.
func badName(dir, name string) error {
	if !watch.BadName(name) {
		return nil
	}
	return fmt.Errorf("%s: the script file name %s has control or format characters: the daemon does not load it (rename it)",
		dir, strconv.Quote(name))
}

// TestFiles expands paths into test files (rclua test): a file stands for
// itself (it must be named *_test.lua); a folder for its *_test.lua files
// (not recursive, dotfiles skipped), sorted. A missing path, or a folder
// without tests, is an error naming it.
func TestFiles(paths []string) (files []string, errs []error) {
	isTest := func(name string) bool { return watch.IsTest(name) && !strings.HasPrefix(name, ".") }
	return expandFiles(paths, isTest, func(p string) error {
		if !watch.IsTest(filepath.Base(p)) {
			return fmt.Errorf("%s: not a test file (a test file is named *%s)", p, watch.TestSuffix)
		}
		return nil
	}, nil, "no *"+watch.TestSuffix+" files in this folder")
}

// expandFiles expands paths: a file stands for itself unless refuse
// gives an error for it; a folder for its files (not recursive) whose
// name wants, sorted, or the error none when it has none. flag, when not
// nil, reports a folder's entry that is an error of its own. A file named
// twice (a folder and one of its files, "a.lua" and "./a.lua") is
// listed once, where it came first.
func expandFiles(paths []string, wants func(name string) bool, refuse func(path string) error, flag func(dir, name string) error, none string) (files []string, errs []error) {
	defer func() { files = uniqueFiles(files) }()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if !fi.IsDir() {
			if err := refuse(p); err != nil {
				errs = append(errs, err)
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
		var found []string
		for _, e := range entries {
			if !e.IsDir() && wants(e.Name()) {
				found = append(found, filepath.Join(p, e.Name()))
			} else if flag != nil && !e.IsDir() {
				if err := flag(p, e.Name()); err != nil {
					errs = append(errs, err)
				}
			}
		}
		if len(found) == 0 {
			errs = append(errs, fmt.Errorf("%s: %s", p, none))
			continue
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, errs
}

// uniqueFiles drops the later names of a file already in files, by its
// absolute, cleaned path.
func uniqueFiles(files []string) []string {
	seen := make(map[string]bool, len(files))
	return slices.DeleteFunc(files, func(f string) bool {
		key := filepath.Clean(f)
		if abs, err := filepath.Abs(f); err == nil {
			key = abs
		}
		if seen[key] {
			return true
		}
		seen[key] = true
		return false
	})
}

// pathErr drops the path an *fs.PathError repeats, since callers name it.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
