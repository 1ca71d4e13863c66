package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
)

// Script is one script loaded as the daemon loads it, in a sandboxed
// state of its own, but driven by its caller: no actor, no timer. Its
// triggers are registered as in the daemon (the host's luabind.Host), and
// its handlers run through the daemon's call path (the handler deadline,
// the memory watchdog, "file:line: message" errors, the same log lines).
// runtime/scripttest runs scripts under test this way, on a fake clock: it
// decides when a timer is due and calls Tick. A Script is used by one
// goroutine at a time; its only goroutine is the memory
// watchdog's (when cfg.MemoryLimit is above zero), which Close ends.
type Script struct {
	L       *lua.LState
	reg     *registry
	cfg     Config
	log     zerolog.Logger
	secrets *luabind.Secrets // redacted from its handlers' errors
	// guard (nil: no watchdog) stops a call when the heap passes
	// cfg.MemoryLimit, as exec's watchdog stops its one call; unwatch
	// ends the watchdog.
	guard   *callGuard
	unwatch func()
}

// LoadScript compiles content as path (the chunk name of its file:line
// messages) and runs its top level in a new state made with opts (Unsafe
// is taken from cfg), with the rc table of deps.Module (nil: no server)
// logging to log, under cfg's load timeout (deps.Sources, Observer and
// Store are not used: give the Module its Store). As in the daemon,
// require loads from the lib/ folder beside path, rc.config is the
// script's section of the settings file there (or deps.Settings, when
// not nil: the file is then not read), and rc.secret reads
// deps.Getenv (nil: an empty environment, never the process's) and
// cfg.SecretsDir. Its post limit is deps.Module.Posts (runtime/scripttest's,
// on its fake clock), else a new one of cfg.PostLimit: a new Script starts
// a new limit. The top level and the handlers run under the memory
// watchdog at cfg.MemoryLimit (default 1 GiB). A failing top level is an
// error "file:line: message" and leaves nothing open.
func LoadScript(ctx context.Context, path string, content []byte, cfg Config, opts sandbox.Options, deps Deps, log zerolog.Logger) (*Script, error) {
	cfg = cfg.withDefaults()
	dir := filepath.Dir(path) // require and settings: the lib/ and rclua.toml beside the script
	name := ScriptName(path)
	set := settings{name: deps.Settings}
	var err error
	if deps.Settings != nil {
		if err := CheckSection(deps.Settings); err != nil {
			return nil, fmt.Errorf("%s: settings: %w", path, err)
		}
	} else if set, err = readSettings(dir); err != nil {
		return nil, err
	}
	opts.Unsafe = cfg.Unsafe
	opts.Modules = newModules(dir).find
	// Secrets come from deps.Getenv and cfg.SecretsDir only: a test never
	// reads the process's environment.
	getenv := deps.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	e := newEnv(cfg, deps.Module, getenv)
	secrets := e.secrets.secretsFor(name, func() []string { return set.allowedSecrets(name) })
	s := &Script{L: sandbox.New(opts), reg: newRegistry(modeRun, log), cfg: cfg, log: log, secrets: secrets}
	if cfg.MemoryLimit > 0 {
		// A test of a script that allocates without bound fails with
		// the memory error at its file:line, as in exec and check,
		// instead of taking the machine's memory until a timeout.
		s.guard, s.unwatch = watchOne(ctx, cfg, log)
	}
	var posts *luabind.PostLimit // the Module's, on the caller's clock, else cfg's
	if deps.Module == nil || deps.Module.Posts == nil {
		posts = cfg.newPostLimit()
	}
	e.openState(s.L, cfg, name, log, s.reg, set.section(name), secrets, posts)
	err = redactErr(secrets, runChunkGuarded(ctx, s.L, path, content, cfg.LoadTimeout, s.guard, kindLoad))
	s.reg.loading = false
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the script's state and ends its memory watchdog.
func (s *Script) Close() {
	s.L.Close()
	if s.unwatch != nil {
		s.unwatch()
		s.unwatch = nil
	}
}

// Handle runs the handlers the script registered for events of kind (a
// luabind.EventKinds name), in registration order, each with its own
// arguments converted from action and raw (see luabind.EventArgs), as the
// daemon's actor does. It returns the errors of the handlers that failed,
// each logged as the daemon logs it.
func (s *Script) Handle(ctx context.Context, kind, action string, raw []byte) []error {
	var errs []error
	for _, t := range s.reg.handlers[kind] {
		if t.isStopped() {
			continue
		}
		args, err := luabind.EventArgs(s.L, kind, action, raw)
		if err != nil {
			return append(errs, fmt.Errorf("%s: %w", t.label, err))
		}
		if err := s.call(ctx, t, args...); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Timers returns the script's rc.every and rc.cron triggers in
// registration order: the i of Tick.
func (s *Script) Timers() []luabind.Trigger {
	out := make([]luabind.Trigger, len(s.reg.timers))
	for i, t := range s.reg.timers {
		out[i] = t.Trigger
	}
	return out
}

// TimerStopped reports whether the script stopped timer i through its
// handle (a stopped timer is never due again).
func (s *Script) TimerStopped(i int) bool { return s.reg.timers[i].isStopped() }

// ErrTimerStopped is Tick's error for a timer the script stopped.
var ErrTimerStopped = errors.New("runtime: the timer was stopped")

// Tick runs the handler of timer i (see Timers) once, as the daemon runs a
// due timer, and returns its error (logged as the daemon logs it).
func (s *Script) Tick(ctx context.Context, i int) error {
	t := s.reg.timers[i]
	if t.isStopped() {
		return ErrTimerStopped
	}
	return s.call(ctx, t)
}

// call runs one handler under the handler deadline and logs its failure
// as actor.call does, the script's secrets redacted.
func (s *Script) call(ctx context.Context, t trigger, args ...lua.LValue) error {
	err := redactErr(s.secrets, pcallGuarded(ctx, s.L, s.cfg.HandlerTimeout, s.guard, kindHandler, t.Fn, args...))
	if err == nil {
		return nil
	}
	if se, ok := err.(*scriptError); ok && se.Timeout {
		s.log.Error().Str("trigger", t.label).Stringer("timeout", s.cfg.HandlerTimeout).
			Str("error", err.Error()).Msg("handler stopped at its deadline")
		return err
	}
	logScriptError(s.log.Error().Str("trigger", t.label), err, "handler failed")
	return err
}
