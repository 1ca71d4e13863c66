package runtime

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/watch"
)

// Exec runs the top level of one script in the sandbox with the rc table
// of m (nil: no server; m.Store is its rc.store, which the caller picks:
// the namespace of the script's name for rclua exec), then closes it. Triggers the script registers are
// validated and logged as ignored. The error carries "file:line: message".
func Exec(ctx context.Context, path string, cfg Config, m *luabind.Module, log zerolog.Logger) error {
	cfg = cfg.withDefaults()
	log = log.With().Str("script", scriptBaseName(filepath.Base(path))).Logger()
	content, err := watch.ReadScript(path)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the script") // logged like a script's failure
		return fmt.Errorf("runtime: exec: %w", err)
	}
	return runOnce(ctx, path, content, cfg, env{module: m}, modeExec, log)
}

// ScriptName is the name a script goes by in logs, Status and the store:
// its file name without the extension ("hello.lua" -> "hello").
func ScriptName(path string) string {
	return scriptBaseName(filepath.Base(path))
}

// runOnce loads one script in a fresh sandbox and closes it.
func runOnce(ctx context.Context, path string, content []byte, cfg Config, e env, mode triggerMode, log zerolog.Logger) error {
	L := sandbox.New(sandbox.Options{Unsafe: cfg.Unsafe})
	defer L.Close()
	e.openScript(L, cfg, ScriptName(path), log, newRegistry(mode, log))
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
