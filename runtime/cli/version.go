package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with
//
//	go build -ldflags "-X github.com/rclua/rclua/runtime/cli.version=v1.2.3"
//
// When it is empty, the module version recorded in the binary is used
// (set by "go install module@version"), and "dev" otherwise.
var version = ""

// versionString returns the version of this binary.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// userAgent is the User-Agent the client sends.
func userAgent() string { return "rclua/" + versionString() }

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := versionFlags()
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("version: unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintf(stdout, "rclua %s\n", versionString())
	return nil
}

// versionFlags returns the flag set of "rclua version" (no flags).
func versionFlags() *flag.FlagSet {
	return newFlagSet("version", "rclua version\n\nPrints the version of rclua.\n")
}
