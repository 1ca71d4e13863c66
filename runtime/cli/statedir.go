package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/runtime/store"
)

// Environment of the state dir.
const (
	envStateDir     = "RCLUA_STATE_DIR"
	envSystemdState = "STATE_DIRECTORY" // set by systemd for StateDirectory=
)

// defaultStateName is the state dir's name beside the scripts folder when
// nothing else names one: <parent of scripts>/.rclua-state.
const defaultStateName = ".rclua-state"

// defaultStoreLimit is --store-limit's default (see store.DefaultMaxTotalBytes).
const defaultStoreLimit = byteSize(store.DefaultMaxTotalBytes)

// stateFlags are --state-dir and --store-limit.
type stateFlags struct {
	dir   string
	limit byteSize
}

func (s *stateFlags) register(fs *flag.FlagSet, getenv func(string) string, withLimit bool) {
	fs.StringVar(&s.dir, "state-dir", getenv(envStateDir), "folder of the persistent state, rc.store and the event cursors (env "+envStateDir+
		"; default $"+envSystemdState+" when systemd sets it, else "+defaultStateName+" beside the scripts folder; --dev: a temporary one)")
	s.limit = defaultStoreLimit
	if withLimit {
		fs.Var(&s.limit, "store-limit", "the `size` of one script's rc.store keys and values together, each key counting "+strconv.Itoa(store.EntryOverhead)+" bytes more (e.g. 1MiB, 16MiB)")
	}
}

// checkStoreLimit refuses "off" and sizes too small for one value.
func checkStoreLimit(b byteSize) error {
	if b < 1<<10 {
		return usagef("--store-limit %s: want a size of at least 1KiB such as 1MiB (there is no off)", b.String())
	}
	return nil
}

// storeOptions are the store's options for --store-limit.
func (s *stateFlags) storeOptions() store.Options {
	return store.Options{MaxTotalBytes: int64(s.limit)}
}

// resolveStateDir returns the absolute state dir: given (--state-dir or
// RCLUA_STATE_DIR) when set; "" with --dev (the caller makes a temporary
// one); $STATE_DIRECTORY (its first entry) when systemd sets it; else
// .rclua-state in the parent of scriptsDir.
func resolveStateDir(given string, getenv func(string) string, scriptsDir string, dev bool) (string, error) {
	dir := given
	switch {
	case dir != "":
		if strings.TrimSpace(dir) != dir {
			return "", usagef("state dir %q has white space around it: set --state-dir (or %s) to the folder's name", dir, envStateDir)
		}
	case dev:
		return "", nil
	case getenv(envSystemdState) != "":
		dir, _, _ = strings.Cut(getenv(envSystemdState), ":")
	default:
		abs, err := filepath.Abs(scriptsDir)
		if err != nil {
			return "", fmt.Errorf("state dir: %w", err)
		}
		dir = filepath.Join(filepath.Dir(abs), defaultStateName)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("state dir: %w", err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return "", usagef("state dir %s is not a folder: set --state-dir (or %s) to a folder", abs, envStateDir)
	}
	return abs, nil
}

// openStore opens the store of dir (a temporary one, removed by the
// returned cleanup, when dir is ""), refusing clearly when another rclua
// daemon holds it (a short-lived rclua is waited for up to lockWait).
func openStore(ctx context.Context, dir string, opts store.Options, log zerolog.Logger) (*store.DB, func(), error) {
	cleanup := func() {}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rclua-dev-state-")
		if err != nil {
			return nil, nil, fmt.Errorf("temporary state dir: %w", err)
		}
		dir, cleanup = tmp, func() { _ = os.RemoveAll(tmp) }
	}
	db, _, err := openWaiting(ctx, dir, opts, time.Now().Add(lockWait), func() {
		log.Info().Str("state_dir", dir).Stringer("wait", lockWait).
			Msg("another rclua (an exec or rclua store: no daemon answers on its control socket) holds the state dir: waiting for it")
	})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); cleanup() }, nil
}

// lockWait is how long rclua run waits for the state dir's lock while a
// short-lived rclua (an exec from cron, rclua store) holds it.
const lockWait = 10 * time.Second

// openWaiting opens the store of dir. While another rclua holds its lock
// and no daemon answers on the state dir's control socket (an exec or
// rclua store, which end soon), it waits for the lock until deadline or
// ctx's end, calling waiting once; a daemon's lock fails at once, with
// daemon true.
func openWaiting(ctx context.Context, dir string, opts store.Options, deadline time.Time, waiting func()) (*store.DB, bool, error) {
	for first := true; ; first = false {
		db, err := store.Open(dir, opts) // waits opts.LockTimeout for the lock
		switch {
		case !errors.Is(err, store.ErrLocked):
			return db, false, err
		case daemonAnswers(dir):
			return nil, true, err
		case ctx.Err() != nil:
			return nil, false, fmt.Errorf("%w (stopped waiting for it: %w)", err, ctx.Err())
		case !time.Now().Before(deadline):
			return nil, false, err
		}
		if first && waiting != nil {
			waiting()
		}
	}
}

// daemonAnswers reports whether a daemon answers on the control socket
// of stateDir.
func daemonAnswers(stateDir string) bool {
	c, err := net.DialTimeout("unix", filepath.Join(stateDir, controlSocket), time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
