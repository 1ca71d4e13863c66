package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// envStateDir is the default of --state-dir.
const envStateDir = "RCLUA_STATE_DIR"

// stateDirName is the state folder beside the scripts folder by default.
const stateDirName = ".rclua-state"

// stateDirFlag registers --state-dir on fs; resolveStateDir turns what it
// holds into the folder.
func stateDirFlag(fs *flag.FlagSet, p *string, getenv func(string) string) {
	fs.StringVar(p, "state-dir", getenv(envStateDir), "the daemon's state `folder`: the control socket, the disabled scripts (env "+envStateDir+"; default $STATE_DIRECTORY under systemd, else "+stateDirName+" beside the scripts folder)")
}

// resolveStateDir returns the state folder, as an absolute path: dir
// (--state-dir or RCLUA_STATE_DIR) when set; else, with dev, a fresh
// temporary folder (cleanup removes it); else systemd's $STATE_DIRECTORY
// (StateDirectory=, the first of a list); else stateDirName beside the
// scripts folder. It does not create the folder (see ensureStateDir).
func resolveStateDir(dir string, getenv func(string) string, scripts string, dev bool) (path string, cleanup func(), err error) {
	cleanup = func() {}
	switch {
	case dir != "":
	case dev:
		tmp, err := os.MkdirTemp("", "rclua-dev-state-")
		if err != nil {
			return "", cleanup, fmt.Errorf("state folder for --dev: %w", err)
		}
		return tmp, func() { os.RemoveAll(tmp) }, nil
	case getenv("STATE_DIRECTORY") != "":
		dir, _, _ = strings.Cut(getenv("STATE_DIRECTORY"), ":")
	default:
		abs, err := filepath.Abs(scripts)
		if err != nil {
			return "", cleanup, fmt.Errorf("state folder: %w", err)
		}
		dir = filepath.Join(filepath.Dir(abs), stateDirName)
	}
	if strings.TrimSpace(dir) != dir {
		return "", cleanup, usagef("state folder %q has white space around it: set --state-dir (or %s) to the folder's name", dir, envStateDir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", cleanup, fmt.Errorf("state folder: %w", err)
	}
	return abs, cleanup, nil
}

// ensureStateDir creates the state folder (only its owner may enter a new
// one) and refuses one that is not a folder.
func ensureStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usagef("state folder %s cannot be created: %v (set --state-dir or %s)", dir, pathErr(err), envStateDir)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("state folder: %v", err)
	}
	if !st.IsDir() {
		return usagef("state folder %s is not a folder (set --state-dir or %s)", dir, envStateDir)
	}
	return nil
}
