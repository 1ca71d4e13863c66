package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
)

// Deps are the host's dependencies.
type Deps struct {
	// Bindings builds each script's rc table; each script gets a copy
	// logging to its own logger. Nil gives scripts an rc table holding
	// only the triggers.
	Bindings *luabind.Module
	// Subscriptions feeds rc.on("subscription"); nil disables the poller.
	Subscriptions SubscriptionSource
}

func envOf(deps Deps) env {
	return env{module: deps.Bindings, subs: deps.Subscriptions}
}

// New returns a host for the scripts of cfg.ScriptsDir. Zero Config fields
// take their defaults. Nothing starts before Run; a missing scripts folder
// is reported by Run. The error is reserved for configurations New may
// reject in the future; it is always nil now.
func New(cfg Config, deps Deps, log zerolog.Logger) (*Host, error) {
	return newHost(cfg, envOf(deps), log), nil
}

// Exec runs the top level of one script in the sandbox with the real
// bindings, then closes it. Triggers the script registers are validated
// and logged as ignored. The error carries "file:line: message".
func Exec(ctx context.Context, path string, cfg Config, deps Deps, log zerolog.Logger) error {
	cfg = cfg.withDefaults()
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("runtime: exec: %w", err)
	}
	log = log.With().Str("script", scriptBaseName(filepath.Base(path))).Logger()
	return runOnce(ctx, path, content, cfg, envOf(deps), modeExec, log)
}

// Check compiles and loads every given script (a folder stands for its
// *.lua files, see ScriptFiles) in the sandbox, with an offline client
// whose every call fails with "no network in check mode". It returns one
// error per failing script or unusable path, each "file:line: message";
// nil when all pass.
func Check(ctx context.Context, paths []string, cfg Config) []error {
	cfg = cfg.withDefaults()
	e := envOf(Deps{Bindings: luabind.Offline(zerolog.Nop())})
	files, errs := ScriptFiles(paths)
	for _, p := range files {
		content, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if err := runOnce(ctx, p, content, cfg, e, modeCheck, zerolog.Nop()); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// ScriptFiles expands paths into script files as the host sees a scripts
// folder: a file stands for itself; a folder for its *.lua files (not
// recursive; dotfiles, editor temp and swap files skipped), sorted. A
// missing path, or a folder without scripts, is an error naming it.
func ScriptFiles(paths []string) (files []string, errs []error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, pathErr(err)))
			continue
		}
		if !fi.IsDir() {
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
			if !e.IsDir() && scriptName(e.Name()) {
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

// runOnce loads one script in a fresh sandbox and closes it.
func runOnce(ctx context.Context, path string, content []byte, cfg Config, e env, mode triggerMode, log zerolog.Logger) error {
	L := newSandbox(cfg.Unsafe)
	defer L.Close()
	reg := &registry{mode: mode, log: log, loading: true}
	e.openState(L, cfg, log, reg)
	k := kindCheck
	if mode == modeExec {
		k = kindExec
	}
	err := runChunkGuarded(ctx, L, path, content, cfg.LoadTimeout, nil, k)
	if err != nil && mode == modeExec {
		logScriptError(log.Error(), err, "script failed")
	}
	return err
}

// scriptBaseName is the name a script goes by in logs and Status: its
// file name without the extension ("hello.lua" -> "hello").
func scriptBaseName(file string) string {
	return file[:len(file)-len(filepath.Ext(file))]
}
