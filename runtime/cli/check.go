package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/lint"
)

var checkHelp = `rclua check [flags] PATH...

Compiles and loads every script (a file, or the *.lua files of a folder, as
the daemon loads them) in the real sandbox with an offline fake client: no
server, no credentials, no network; each top level within --load-timeout
and 1 GiB of heap (the memory error names the script). Then reads each script's whole syntax
tree, handlers included: rc paths that do not exist, globals read but never
defined, library fields and call arguments that would raise, constant
trigger arguments they refuse, and more. A comment "-- rclua: ignore WHAT"
silences its line's findings named by WHAT: names, or kinds (below). Prints
every error as file:line: message on stdout and exits 1 if any script
fails. Made for a rules repository's CI.

Kinds of finding:
` + wrapWords(strings.Join(lint.Kinds, ", "), 76, "  ") + `
`

// checkFlags returns the flag set of "rclua check" and the load timeout
// it fills.
func checkFlags() (*flag.FlagSet, *time.Duration) {
	fs := newFlagSet("check", checkHelp)
	loadTimeout := new(time.Duration)
	durationVar(fs, loadTimeout, "load-timeout", defaultLoadTimeout, "`duration` allowed for each script's top level")
	return fs, loadTimeout
}

func cmdCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, lt := checkFlags()
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	loadTimeout := *lt
	if fs.NArg() == 0 {
		return usagef("check: give at least one script file or folder (see rclua check --help)")
	}
	errs := []error{checkDurations(durationRule{name: "load-timeout", d: loadTimeout})}
	for _, p := range fs.Args() {
		// A missing path is reported with the scripts' errors; a device or
		// a pipe would be read forever.
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
			errs = append(errs, usagef("check: %s is not a regular file (%s): give script files or folders", p, fileKind(fi.Mode())))
		}
	}
	if err := problems(errs...); err != nil {
		return err
	}
	files, pathProblems := runtime.ScriptFiles(fs.Args())
	failed := append(pathProblems, runtime.Check(ctx, files, runtime.Config{LoadTimeout: loadTimeout})...)
	for _, e := range failed {
		fmt.Fprintln(stdout, e)
	}
	if len(failed) > 0 {
		return fmt.Errorf("check: %d error(s) in %d script(s) checked", len(failed), len(files))
	}
	fmt.Fprintf(stderr, "rclua check: %d script(s) ok\n", len(files))
	return nil
}

// wrapWords breaks s at spaces into lines of at most width bytes, each
// starting with indent.
func wrapWords(s string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for _, w := range strings.Fields(s) {
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line)
	return b.String()
}
