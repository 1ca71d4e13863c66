package runtime

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/watch"
)

// Exec runs the top level of one script in the sandbox with the rc table
// of m (nil: no server; m.Store is its rc.store, which the caller picks:
// the namespace of the script's name for rclua exec), then closes it.
// Triggers the script registers are validated and logged as ignored. With
// cfg.MemoryLimit, the memory watchdog stops the top level once the heap
// passes it, as it stops a daemon's handlers. The error carries
// "file:line: message".
func Exec(ctx context.Context, path string, cfg Config, m *luabind.Module, opts ExecOptions, log zerolog.Logger) error {
	cfg = cfg.withDefaults()
	log = log.With().Str("script", ScriptName(path)).Logger()
	content, err := watch.ReadScript(path)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the script") // logged like a script's failure
		return fmt.Errorf("exec: %w", err)
	}
	return runOnce(ctx, path, content, cfg, newEnv(cfg, m, nil), modeExec, opts.FireTimers, log)
}

// ExecOptions are what Exec does beyond the top level.
type ExecOptions struct {
	// FireTimers calls each rc.every and rc.cron handler the script
	// registered once after its top level, in the order registered (one
	// its handle stopped is skipped), each under cfg.HandlerTimeout: a
	// rule's work, run now. The first that fails ends the run with its
	// error.
	FireTimers bool
}

// ScriptName is the name a script goes by in logs, Status and the store:
// its file name without the extension ("hello.lua" -> "hello").
func ScriptName(path string) string {
	return scriptBaseName(filepath.Base(path))
}

// runOnce loads one script in a fresh sandbox (then, with fire, calls
// its timers' handlers once: exec) and closes it.
func runOnce(ctx context.Context, path string, content []byte, cfg Config, e env, mode triggerMode, fire bool, log zerolog.Logger) error {
	dir := filepath.Dir(path) // require and settings: the lib/ and rclua.toml beside the script
	set, err := readSettings(dir)
	if err != nil {
		if mode == modeExec {
			log.Error().Str("error", err.Error()).Msg("settings file does not parse")
		}
		return err
	}
	name := ScriptName(path)
	secrets := e.secrets.secretsFor(name, func() []string { return set.allowedSecrets(name) })
	mods := newModules(dir)
	L := sandbox.New(sandbox.Options{Unsafe: cfg.Unsafe, Modules: mods.find})
	defer L.Close()
	reg := newRegistry(mode, log)
	reg.fire = fire
	e.openState(L, cfg, name, log, reg, set.section(name), secrets, cfg.newPostLimit())
	k := kindCheck
	if mode == modeExec {
		k = kindExec
	}
	var g *callGuard
	if cfg.MemoryLimit > 0 {
		// rclua check loads one script at a time: a top level that
		// allocates without bound is stopped as exec's is, not left to
		// take the CI machine's memory until the load timeout.
		var stop func()
		g, stop = watchOne(ctx, cfg, log)
		defer stop()
	}
	err = redactErr(secrets, runChunkGuarded(ctx, L, path, content, cfg.LoadTimeout, g, k))
	if err != nil && mode == modeExec {
		logScriptError(log.Error(), err, "script failed")
	}
	reg.loading = false
	if err != nil {
		return err
	}
	for _, t := range reg.timers {
		if t.isStopped() {
			continue
		}
		kt := kindExecTimer
		kt.label = t.label
		start := time.Now()
		if err = redactErr(secrets, pcallGuarded(ctx, L, cfg.HandlerTimeout, g, kt, t.Fn)); err != nil {
			logScriptError(log.Error().Str("trigger", t.label), err, "handler failed")
			break
		}
		log.Info().Str("trigger", t.label).Stringer("took", since(start)).Msg("timer fired once")
	}
	return err
}

// watchOne starts a memory watchdog at cfg.MemoryLimit for the one call
// of the guard it returns (the watchdog stops that call, as it stops the
// only handler running in a daemon); stop ends the watchdog.
func watchOne(ctx context.Context, cfg Config, log zerolog.Logger) (g *callGuard, stop func()) {
	w := newMemWatch(cfg.MemoryLimit, log, func() int {
		if g.stop(errMemoryAlone) {
			return 1
		}
		return 0
	})
	if cfg.memRead != nil {
		w.read = cfg.memRead
	}
	g = w.guard()
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { w.run(wctx, cfg.memEvery) })
	return g, func() {
		cancel()
		wg.Wait()
	}
}

// scriptBaseName is the name a script goes by in logs and Status: its
// file name without the extension ("hello.lua" -> "hello").
func scriptBaseName(file string) string {
	return file[:len(file)-len(filepath.Ext(file))]
}

// readSettings reads the settings file of the scripts folder dir; a
// missing file is no settings.
func readSettings(dir string) (settings, error) {
	path := filepath.Join(dir, SettingsFile)
	content, err := watch.ReadScript(path)
	if errors.Is(err, fs.ErrNotExist) {
		return settings{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, pathErr(err))
	}
	return parseSettings(path, content)
}
