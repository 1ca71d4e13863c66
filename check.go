package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/rclua/rclua/runtime"
)

const checkHelp = `rclua check [flags] PATH...

Compiles and loads every script (a file, or the *.lua files of a folder, as
the daemon loads them) in the real sandbox with an offline fake client: no
server, no credentials, no network. Prints every error as file:line: message
on stdout and exits 1 if any script fails. Made for a rules repository's CI.
`

func cmdCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", checkHelp)
	var loadTimeout time.Duration
	durationVar(fs, &loadTimeout, "load-timeout", defaultLoadTimeout, "`duration` allowed for each script's top level")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("check: give at least one script file or folder (see rclua check --help)")
	}
	if err := positive(namedDuration{"load-timeout", loadTimeout}); err != nil {
		return err
	}
	files, problems := expandScripts(fs.Args())
	var errs []error
	if len(files) > 0 {
		errs = runtime.Check(ctx, files, runtime.Config{LoadTimeout: loadTimeout})
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	for _, e := range errs {
		fmt.Fprintln(stdout, e)
	}
	if n := len(problems) + len(errs); n > 0 {
		return fmt.Errorf("check: %d error(s) in %d script(s) checked", n, len(files))
	}
	fmt.Fprintf(stderr, "rclua check: %d script(s) ok\n", len(files))
	return nil
}

// expandScripts turns the arguments into script files: a file as it is, a
// folder as its *.lua files (not recursive, dotfiles skipped, sorted), as the
// daemon loads a scripts folder. A missing path or a folder without scripts
// is a problem reported like a script error.
func expandScripts(paths []string) (files, problems []string) {
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, errorsText(err)))
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", p, errorsText(err)))
			continue
		}
		var found []string
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") || filepath.Ext(name) != ".lua" {
				continue
			}
			found = append(found, filepath.Join(p, name))
		}
		if len(found) == 0 {
			problems = append(problems, fmt.Sprintf("%s: no *.lua scripts in this folder", p))
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, problems
}

// errorsText is the message of a *fs.PathError without the repeated path.
func errorsText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
