// Package cli is the rclua command: its subcommands (one file each: run.go,
// exec.go, check.go, test.go, init.go, types.go, version.go), its flags and environment (flags.go,
// credentials.go), the connection to the server (connect.go), logging
// (logging.go) and the built-in fake server of --dev (dev.go). Main is the
// whole program; package main only wires the process to it.
//
// Usage:
//
//	rclua run [flags]          the daemon: load ./scripts, run their triggers, hot-reload edits
//	rclua exec [flags] FILE    run one script's top level against the server, then exit
//	rclua check PATH...        compile and load scripts offline (for a rules repository's CI)
//	rclua test [PATH...]       run the scripts' *_test.lua tests offline (see runtime/scripttest)
//	rclua status [--json]      the running daemon's scripts and state (control.go)
//	rclua reload|disable|enable SCRIPT   control the running daemon over its socket
//	rclua init [DIR]           write a starter folder
//	rclua types [DIR]          write the LuaLS definition file of the rc API
//	rclua store list|get|delete   inspect or clean the scripts' persistent state (storecmd.go)
//	rclua version              print the version
//
// The daemon serves a read-only admin HTTP endpoint (admin.go: /healthz,
// /readyz, /status, and /metrics from metrics.go, a Prometheus registry of
// its own fed by the runtime and rc observers) and a control socket in its
// state folder (statedir.go, control.go; mode 0600) for the commands that
// change it.
//
// Every command takes --help. Configuration comes from flags and the
// environment (RC_URL, RC_USER_ID + RC_TOKEN or RC_USER + RC_PASSWORD /
// RC_PASSWORD_FILE with RC_TOTP); secrets are read from the environment or a
// file only, never from flags. See README.md for the whole table.
//
// Exit status: 0 on success, 1 when a script fails (a check or exec error)
// or the server cannot be used, 2 for a usage or configuration error (every
// problem found is listed at once), 3 when the server refuses the
// credentials or the address (401, 403, 404), at start or later (a revoked
// token, a session that cannot be renewed): neither 2 nor 3 is worth an
// automatic restart.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Main runs the command with args (without the program name), reading the
// environment through getenv, and returns the process exit status. An
// error is printed to stderr as "rclua: <error>". ctx ends the daemon (the
// caller cancels it on SIGINT and SIGTERM); run takes SIGHUP itself.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return exitCode(run(ctx, args, getenv, stdout, stderr), stderr)
}

// exitCode prints err (if any) and maps it to the process exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "rclua: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	var re *refusedError
	if errors.As(err, &re) {
		return 3
	}
	var ue4 *unreachableError
	if errors.As(err, &ue4) {
		return 4
	}
	return 1
}

// unreachableError is exec's failure to reach the server before the
// script ran (a network error, a 5xx, the timeout): exit status 4, a
// temporary failure a cron wrapper may retry, unlike a script's error (1).
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// usageError is a usage or configuration mistake: exit status 2. It holds
// one message, or several problems found together (see problems).
type usageError struct{ msgs []string }

func (e *usageError) Error() string {
	if len(e.msgs) == 1 {
		return e.msgs[0]
	}
	return fmt.Sprintf("%d configuration problems:\n  - %s", len(e.msgs), strings.Join(e.msgs, "\n  - "))
}

// usagef returns a *usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{msgs: []string{fmt.Sprintf(format, args...)}}
}

// problems joins the configuration problems found in one run (nil
// entries are none) so that they are reported together, each on a line of
// its own, instead of one per run; nil when there is none. One problem is
// returned as it is.
func problems(errs ...error) error {
	var found []error
	var msgs []string
	for _, err := range errs {
		if err == nil {
			continue
		}
		found = append(found, err)
		var ue *usageError
		if errors.As(err, &ue) {
			msgs = append(msgs, ue.msgs...)
		} else {
			msgs = append(msgs, err.Error())
		}
	}
	switch len(found) {
	case 0:
		return nil
	case 1:
		return found[0]
	}
	return &usageError{msgs: msgs}
}

const topUsage = `rclua hosts Lua automation scripts for a Rocket.Chat server.

Usage:
  rclua run [flags]          run the daemon (scripts folder default ./scripts)
  rclua exec [flags] FILE    run one script's top level against the server and exit
  rclua check PATH...        compile and load scripts (files or folders) offline; exit 1 on any error
  rclua test [PATH...]       run the scripts' *_test.lua tests offline, on a fake server and clock
  rclua status [--json]      show the running daemon's scripts and state
  rclua reload [SCRIPT...]   reload scripts of the running daemon (all with none)
  rclua disable SCRIPT       stop a script of the running daemon, across restarts
  rclua enable SCRIPT        start a disabled script again
  rclua init [DIR]           write a starter folder (a script, its test, settings, editor and luacheck files)
  rclua types [DIR]          write the LuaLS definition file of the rc API (DIR default ./types)
  rclua store list|get|delete [SCRIPT [KEY]]   inspect or clean the scripts' rc.store state
  rclua version              print the version

Run "rclua COMMAND --help" for a command's flags and environment.
`

// run is the whole program as an error: Main maps it to the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usagef("no command given")
	}
	err := dispatch(ctx, args, getenv, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // --help printed the usage
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "exec":
		return cmdExec(ctx, rest, getenv, stdout, stderr)
	case "check":
		return cmdCheck(ctx, rest, getenv, stdout, stderr)
	case "test":
		return cmdTest(ctx, rest, getenv, stdout, stderr)
	case "status", "reload", "disable", "enable":
		return cmdControl(ctx, cmd, rest, getenv, stdout, stderr)
	case "types":
		return cmdTypes(rest, stdout, stderr)
	case "init":
		return cmdInit(rest, stdout, stderr)
	case "store":
		return cmdStore(ctx, rest, getenv, stdout, stderr)
	case "version", "-version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		if strings.HasPrefix(cmd, "-") {
			return usagef("%s before a command: flags go after the command, e.g. rclua run %s", cmd, cmd)
		}
		return usagef("unknown command %q", cmd)
	}
}
