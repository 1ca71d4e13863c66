package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

const execHelp = `rclua exec [flags] FILE

Runs one script's top level against the server once and exits: for cron
jobs and one-off automation. Triggers the script registers (rc.on,
rc.every, rc.cron) are reported as ignored; with --fire, the rc.every and
rc.cron handlers are called once after the top level, in the order
registered (a daemon's rule, run now). The script is compiled before
the server is reached: a syntax error is reported whatever the server's
state. --timeout bounds the whole run: the login check, the top level and
the wait for the state dir. Exit status 0 on success; on a Lua error, 1
with the error and its file:line; 4 when the server cannot be reached
before the script runs (a temporary failure: try again later); 3 when it
refuses the credentials or the address is wrong (no such host, a
certificate that does not verify, plain HTTP for https, JSON that is not
Rocket.Chat's API; a page that is not JSON is 4); 2 as for rclua run.
A test file (*_test.lua) is refused: rclua test runs those. The output
is the log, on stderr (print is a log line).

rc.store is the script's namespace in the state dir, found as "rclua run"
finds it (the default is beside the script's folder), so a cron-run script
remembers. The store opens on the first rc.store call; while a daemon runs
on that state dir, rc.store calls return nil, err (error_type
"unavailable") and a script that does not use rc.store runs as usual.
Another exec (or rclua store) holding it is waited for, within --timeout.

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
	memory     memoryFlags
	postLimit  postLimit
	fire       bool
}

// execFlags returns the flag set of "rclua exec" and the options it fills.
func execFlags(getenv func(string) string) (*flag.FlagSet, *execOptions) {
	fs := newFlagSet("exec", execHelp)
	o := &execOptions{}
	fs.StringVar(&o.url, "url", "", "Rocket.Chat server address (env "+envURL+")")
	durationVar(fs, &o.timeout, "timeout", defaultExecTimeout, "`duration` allowed for the whole run (login check, top level, state dir lock)")
	fs.BoolVar(&o.fire, "fire", false, "after the top level, call each rc.every and rc.cron handler once, in the order registered")
	secretsDirVar(fs, &o.secretsDir, getenv)
	o.memory.register(fs, getenv, "the script is")
	postLimitVar(fs, &o.postLimit)
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
		checkMemoryLimit(o.memory.limit),
		checkDurations(durationRule{name: "timeout", d: o.timeout}),
		logErr,
		checkScriptFile("exec", path),
		connErr,
	); err != nil {
		return err
	}
	// The store opens on the script's first rc.store call: a script that
	// does not use it runs while a daemon holds the state dir.
	st := &lazyStore{dir: stateDir, opts: o.state.storeOptions(), name: runtime.ScriptName(path)}
	defer st.close()
	// A script that does not compile fails before the server is asked:
	// its file:line, not "cannot reach", whatever the server's state.
	if err := compileScript(path); err != nil {
		log.Error().Str("script", runtime.ScriptName(path)).Str("error", err.Error()).Msg("script failed")
		return &scriptError{path: path, err: err}
	}
	// --timeout bounds the whole run: the login check, the script's top
	// level (which is stopped with its file:line when the time is up) and
	// the wait for the store's lock; a password session's logout after
	// it gets a few seconds of its own.
	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	st.deadline, _ = runCtx.Deadline()
	keeper := newAuthKeeper(creds, baseURL, log)
	client, err := newClient(baseURL, creds, true, keeper)
	if err != nil {
		return err
	}
	if _, err := authenticate(runCtx, client, creds); err != nil {
		if fatal := fatalAuthError(err, creds, baseURL); fatal != nil {
			return fatal
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted while checking the credentials at %s", baseURL)
		}
		if bad := badAddress(err, baseURL); bad != nil {
			return bad // retrying would not help: exit status 3
		}
		if errors.Is(runCtx.Err(), context.DeadlineExceeded) {
			return &unreachableError{fmt.Errorf("cannot reach the Rocket.Chat server at %s within the exec timeout (%v): %w", baseURL, o.timeout, err)}
		}
		return &unreachableError{fmt.Errorf("cannot reach the Rocket.Chat server at %s: %w", baseURL, err)}
	}
	defer o.memory.apply()()
	cfg := runtime.Config{LoadTimeout: o.timeout, HandlerTimeout: o.timeout, SecretsDir: o.secretsDir,
		MemoryLimit: int64(o.memory.limit), PostLimit: int(o.postLimit)}
	module := luabind.FromClient(client, log)
	module.Store = st // the daemon's namespace for this script
	err = runtime.Exec(runCtx, path, cfg, module, runtime.ExecOptions{FireTimers: o.fire}, log)
	if lost := keeper.failed(); lost != nil {
		return lost // the server refused the credentials during the run: exit status 3
	}
	logout(ctx, client, creds, log) // bounded by itself (5s), after the run's time
	if err != nil {
		return &scriptError{path: path, err: err}
	}
	return nil
}

// lazyStore is exec's rc.store: the namespace name of the store in dir,
// opened on the first call. When a daemon holds the state dir, every call
// fails with an unavailableError.
type lazyStore struct {
	dir  string
	opts store.Options
	name string
	// deadline bounds the wait for the lock while a short-lived rclua (an
	// exec, rclua store) holds it: the end of the run.
	deadline time.Time

	once sync.Once
	db   *store.DB
	ns   store.Namespace
	err  error
}

// open opens the store once and returns the namespace or why there is
// none; the wait for another rclua's lock ends with ctx (the call's).
func (l *lazyStore) open(ctx context.Context) (store.Namespace, error) {
	l.once.Do(func() {
		db, daemon, err := openWaiting(ctx, l.dir, l.opts, l.deadline, nil)
		switch {
		case errors.Is(err, store.ErrLocked):
			l.err = &unavailableError{dir: l.dir, daemon: daemon, err: err}
		case err != nil:
			l.err = err
		default:
			l.db, l.ns = db, db.Namespace(l.name)
		}
	})
	return l.ns, l.err
}

// close closes the store if it was opened.
func (l *lazyStore) close() {
	l.once.Do(func() {}) // no open after the run
	if l.db != nil {
		_ = l.db.Close()
	}
}

func (l *lazyStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	ns, err := l.open(ctx)
	if err != nil {
		return nil, false, err
	}
	return ns.Get(ctx, key)
}

func (l *lazyStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ns, err := l.open(ctx)
	if err != nil {
		return err
	}
	return ns.Set(ctx, key, value, ttl)
}

func (l *lazyStore) Delete(ctx context.Context, key string) error {
	ns, err := l.open(ctx)
	if err != nil {
		return err
	}
	return ns.Delete(ctx, key)
}

func (l *lazyStore) Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error {
	ns, err := l.open(ctx)
	if err != nil {
		return err
	}
	return ns.Update(ctx, key, fn)
}

func (l *lazyStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	ns, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	return ns.Keys(ctx, prefix)
}

// unavailableError is exec's rc.store error while another rclua holds
// the state dir: error_type "unavailable" in the script's err.
type unavailableError struct {
	dir    string
	daemon bool  // a daemon holds it (else an rclua that did not end in time)
	err    error // wraps store.ErrLocked
}

func (e *unavailableError) Error() string {
	if e.daemon {
		return "the state dir " + e.dir + " is held by a running rclua daemon: rc.store is unavailable to rclua exec while it runs (stop the daemon, or give exec another --state-dir)"
	}
	return "the state dir " + e.dir + " is held by another rclua (an rclua exec or rclua store that did not end within this run's --timeout): rc.store is unavailable"
}
func (e *unavailableError) Unwrap() error { return e.err }

// ErrorType is "unavailable", the error_type the script sees.
func (e *unavailableError) ErrorType() string { return "unavailable" }

// compileScript reads and compiles the script at path in a sandbox state
// of its own, as the host does before running it: the error of a script
// that does not compile is its "file:line: message".
func compileScript(path string) error {
	content, err := watch.ReadScript(path)
	if err != nil {
		return fmt.Errorf("cannot read the script: %w", err)
	}
	L := sandbox.New(sandbox.Options{})
	defer L.Close()
	_, err = sandbox.Compile(L, path, content)
	return err
}

// checkScriptFile refuses a script path that is missing, not a regular
// file (a folder, or a device or a pipe, which reading would never end)
// or a test file (rclua test runs those).
func checkScriptFile(cmd, path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return usagef("%s: %v", cmd, err)
	case !fi.IsDir() && watch.IsTest(fi.Name()):
		return usagef("%s: %s: a test file, not a script (run it with rclua test)", cmd, path)
	case watch.BadName(fi.Name()):
		return usagef("%s: the script file name %s has control or format characters: rename it", cmd, strconv.Quote(fi.Name()))
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

// badAddress is the error (exit status 3) of a login check that failed
// because of the address itself, which retrying cannot fix: a host name
// that does not exist, a certificate that does not verify, plain HTTP for
// https (fatalAuthError has the answers that are not Rocket.Chat's). nil
// for anything else.
func badAddress(err error, baseURL string) error {
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return refusedf("no such host: check %s (or --url): %w", envURL, err)
	case errors.As(err, &cert), errors.As(err, &unknownCA), errors.As(err, &host):
		return refusedf("the server's TLS certificate does not verify for %s: check %s (or --url), or the machine's CA certificates: %w", baseURL, envURL, err)
	case errors.Is(err, http.ErrSchemeMismatch):
		return refusedf("the server at %s speaks plain HTTP: check the scheme of %s (or --url): %w", baseURL, envURL, err)
	}
	return nil
}
