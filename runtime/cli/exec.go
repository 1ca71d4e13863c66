package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime"
)

const execHelp = `rclua exec [flags] FILE

Runs one script's top level against the server once and exits: for cron
jobs and one-off automation. Triggers the script registers (rc.on,
rc.every, rc.cron) are reported as ignored. Exit status 0 on success; on a
Lua error, 1 with the error and its file:line.

The server and credentials come from the environment as for "rclua run"
(RC_URL, RC_USER_ID + RC_TOKEN or RC_USER + RC_PASSWORD / RC_PASSWORD_FILE,
RC_TOTP); see rclua run --help.
`

// defaultExecTimeout bounds a script's top level in exec mode: longer than
// at load in the daemon, since exec scripts do their work at the top level.
const defaultExecTimeout = time.Minute

// execOptions are the flags of "rclua exec".
type execOptions struct {
	url        string
	timeout    time.Duration
	log        logFlags
	secretsDir string
	state      stateFlags
}

// execFlags returns the flag set of "rclua exec" and the options it fills.
func execFlags(getenv func(string) string) (*flag.FlagSet, *execOptions) {
	fs := newFlagSet("exec", execHelp)
	o := &execOptions{}
	fs.StringVar(&o.url, "url", "", "Rocket.Chat server address (env "+envURL+")")
	durationVar(fs, &o.timeout, "timeout", defaultExecTimeout, "`duration` allowed for the script's top level")
	secretsDirVar(fs, &o.secretsDir, getenv)
	o.log.register(fs, getenv)
	o.state.register(fs, getenv, true)
	return fs, o
}

func cmdExec(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, o := execFlags(getenv)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("exec: give exactly one script file (see rclua exec --help)")
	}
	path := fs.Arg(0)
	log, logErr := o.log.newLogger(stderr)
	baseURL, creds, connErr := loadConnection(getenv, o.url)
	// The script's folder stands for the scripts folder: exec of
	// scripts/x.lua shares x's state with the daemon of scripts/.
	stateDir, stateErr := resolveStateDir(o.state.dir, getenv, filepath.Dir(path), false)
	if err := problems(
		stateErr,
		checkStoreLimit(o.state.limit),
		checkDurations(durationRule{name: "timeout", d: o.timeout}),
		logErr,
		checkScriptFile("exec", path),
		connErr,
	); err != nil {
		return err
	}
	db, closeStore, err := openStore(stateDir, o.state.storeOptions())
	if err != nil {
		return err
	}
	defer closeStore()
	keeper := newAuthKeeper(creds, baseURL, log)
	client, err := newClient(baseURL, creds, true, keeper)
	if err != nil {
		return err
	}
	if _, err := authenticate(ctx, client, creds); err != nil {
		if fatal := fatalAuthError(err, creds, baseURL); fatal != nil {
			return fatal
		}
		return fmt.Errorf("cannot reach the Rocket.Chat server at %s: %w", baseURL, err)
	}
	cfg := runtime.Config{LoadTimeout: o.timeout, HandlerTimeout: o.timeout, SecretsDir: o.secretsDir}
	module := luabind.FromClient(client, log)
	module.Store = db.Namespace(runtime.ScriptName(path)) // the daemon's namespace for this script
	err = runtime.Exec(ctx, path, cfg, module, log)
	if lost := keeper.failed(); lost != nil {
		return lost // the server refused the credentials during the run: exit status 3
	}
	logout(ctx, client, creds, log)
	if err != nil {
		return &scriptError{path: path, err: err}
	}
	return nil
}

// checkScriptFile refuses a script path that is missing or not a regular
// file: a folder, or a device or a pipe, which reading would never end.
func checkScriptFile(cmd, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return usagef("%s: %v", cmd, err)
	case fi.IsDir():
		return usagef("%s: %s is a folder: give one script file", cmd, path)
	case !fi.Mode().IsRegular():
		return usagef("%s: %s is not a regular file (%s): give a script file", cmd, path, fileKind(fi.Mode()))
	}
	return nil
}

// scriptError is a script's failure in exec mode (exit status 1). The host
// has logged it already ("script failed", with file:line and the
// traceback), so its message only says that the script failed: the error
// is printed once.
type scriptError struct {
	path string
	err  error
}

func (e *scriptError) Error() string {
	return "exec: " + e.path + ": the script failed (its error is logged above)"
}
func (e *scriptError) Unwrap() error { return e.err }
