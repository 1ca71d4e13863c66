package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/rclua/rclua/luabind"
)

// scriptError is a failure of Lua code: Msg carries "file:line: message",
// Traceback the Lua stack at the error (may be empty).
type scriptError struct {
	Msg       string
	Traceback string
	Timeout   bool
	Memory    bool  // stopped by the memory watchdog
	cause     error // context.DeadlineExceeded or context.Canceled when a deadline or shutdown stopped the call
}

func (e *scriptError) Error() string { return e.Msg }

// Unwrap returns the context error that stopped the call, if any, so
// errors.Is(err, context.DeadlineExceeded) holds for a call stopped at its
// deadline and errors.Is(err, context.Canceled) for one stopped because its
// parent context ended.
func (e *scriptError) Unwrap() error { return e.cause }

// callKind describes a guarded call for its error messages: a call stopped
// by its deadline or by its parent context fails with "file:line: stopped:
// <reason>" instead of gopher-lua's "context deadline exceeded".
type callKind struct {
	what    string // "handler" or "load": names the call in memory errors
	overran string // the reason at the deadline, completed by " (<timeout>)"
	ended   string // the reason when the parent context ended
}

// Call kinds of the daemon, of exec and of check.
var (
	kindLoad = callKind{what: "load",
		overran: "the top level ran longer than the load timeout", ended: "the daemon is shutting down"}
	kindHandler = callKind{what: "handler",
		overran: "the handler ran longer than the handler timeout", ended: "the daemon is shutting down"}
	kindExec = callKind{what: "load",
		overran: "the top level ran longer than the exec timeout", ended: "interrupted"}
	kindCheck = callKind{what: "load",
		overran: "the top level ran longer than the load timeout", ended: "interrupted"}
)

// compile parses content under the chunk name, formatting syntax errors
// as "name:line: message".
func compile(L *lua.LState, name string, content []byte) (*lua.LFunction, error) {
	fn, err := L.Load(bytes.NewReader(content), name)
	if err == nil {
		return fn, nil
	}
	var perr *parse.Error
	var aerr *lua.ApiError
	if errors.As(err, &aerr) && aerr.Cause != nil {
		errors.As(aerr.Cause, &perr)
	}
	if perr != nil {
		line := perr.Pos.Line
		if line <= 0 {
			line = bytes.Count(content, []byte("\n")) + 1
			return nil, &scriptError{Msg: fmt.Sprintf("%s:%d: %s at end of file", name, line, perr.Message)}
		}
		return nil, &scriptError{Msg: fmt.Sprintf("%s:%d: %s near '%s'", name, line, perr.Message, perr.Token)}
	}
	if aerr != nil && aerr.Cause != nil {
		return nil, &scriptError{Msg: fmt.Sprintf("%s: %s", name, strings.TrimSpace(aerr.Cause.Error()))}
	}
	return nil, &scriptError{Msg: fmt.Sprintf("%s: %s", name, strings.TrimSpace(err.Error()))}
}

// runChunk compiles content and runs its top level under a deadline, as a
// daemon load (kindLoad).
func runChunk(ctx context.Context, L *lua.LState, name string, content []byte, timeout time.Duration) error {
	return runChunkGuarded(ctx, L, name, content, timeout, nil, kindLoad)
}

// runChunkGuarded is runChunk with the top level registered in g (nil:
// none) and errors worded for k.
func runChunkGuarded(ctx context.Context, L *lua.LState, name string, content []byte, timeout time.Duration, g *callGuard, k callKind) error {
	fn, err := compile(L, name, content)
	if err != nil {
		return err
	}
	return pcallGuarded(ctx, L, timeout, g, k, fn)
}

// pcall calls fn in protected mode with a fresh deadline, as a handler
// (kindHandler); Go panics in functions called from Lua are recovered by
// PCall and returned as errors.
func pcall(ctx context.Context, L *lua.LState, timeout time.Duration, fn *lua.LFunction, args ...lua.LValue) error {
	return pcallGuarded(ctx, L, timeout, nil, kindHandler, fn, args...)
}

// pcallGuarded is pcall with the call's cancel func registered in g (nil:
// none) while it runs, so the memory watchdog can stop it, and errors
// worded for k. The error of a call the watchdog stopped is the memory
// error, naming the call as k.what ("handler" or "load"), with Memory set.
func pcallGuarded(ctx context.Context, L *lua.LState, timeout time.Duration, g *callGuard, k callKind, fn *lua.LFunction, args ...lua.LValue) (err error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if g != nil {
		g.set(cancel)
		defer func() { // runs last, after the recover below
			if g.clear() && err != nil {
				err = g.w.memoryError(err, k.what)
			}
		}()
	}
	L.SetContext(cctx)
	defer L.RemoveContext()
	defer func() {
		// Belt and braces: PCall recovers panics in Lua and Go functions;
		// anything escaping it is still turned into an error.
		if r := recover(); r != nil {
			err = &scriptError{Msg: fmt.Sprintf("panic: %v", r)}
		}
	}()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if perr := L.PCall(len(args), 0, nil); perr != nil {
		se := &scriptError{Msg: perr.Error()}
		var aerr *lua.ApiError
		if errors.As(perr, &aerr) {
			se.Msg = aerr.Object.String()
			se.Traceback = aerr.StackTrace
			if aerr.Type == lua.ApiErrorPanic {
				se.Msg = "panic in Go function: " + se.Msg
			}
		}
		se.Timeout = errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		explainStop(se, ctx, cctx, timeout, k)
		return se
	}
	return nil
}

// explainStop rewrites the message of a call stopped by a context: the
// "context deadline exceeded" (or "context canceled") gopher-lua raised,
// which names neither the limit nor the cause, becomes "stopped: <reason>"
// after the file:line prefix, and the context error becomes the cause. A
// call cancelled with its parent alive was stopped by the memory watchdog,
// whose own message replaces this one; it is left alone.
func explainStop(se *scriptError, ctx, cctx context.Context, timeout time.Duration, k callKind) {
	var cause error
	var reason string
	switch {
	case ctx.Err() != nil:
		cause, reason = ctx.Err(), k.ended
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		cause, reason = context.DeadlineExceeded, fmt.Sprintf("%s (%v)", k.overran, timeout)
	default:
		return
	}
	// The raised text is the context's own error: the call's
	// ("deadline exceeded") or, after the parent ended, the parent's.
	for _, raised := range []error{cctx.Err(), ctx.Err()} {
		if raised == nil {
			continue
		}
		if prefix, ok := strings.CutSuffix(se.Msg, raised.Error()); ok {
			se.Msg, se.cause = prefix+"stopped: "+reason, cause
			return
		}
	}
}

// logScriptError logs a Lua error with its message and traceback fields.
func logScriptError(ev *zerolog.Event, err error, msg string) {
	var se *scriptError
	if errors.As(err, &se) && se.Traceback != "" {
		ev = ev.Str("traceback", se.Traceback)
	}
	ev.Str("error", err.Error()).Msg(msg)
}

// trigger modes.
type triggerMode int

const (
	modeRun   triggerMode = iota // register triggers (daemon)
	modeExec                     // validate, log as ignored (exec)
	modeCheck                    // validate only (check)
)

// trigger is one registered handler, as luabind checked it.
type trigger struct {
	luabind.Trigger
	label string // for logs: e.g. "every 5m0s (hello.lua:3)"
}

// maxTriggers bounds the triggers one script may register (each timer is
// a goroutine; each rc.on handler runs on every event).
const maxTriggers = 1000

// registry collects the triggers a script registers while loading: it is
// the luabind.Host of one version's state.
type registry struct {
	mode    triggerMode
	log     zerolog.Logger
	loading bool
	count   int // triggers registered, in every mode
	subs    []trigger
	timers  []trigger
}

var _ luabind.Host = (*registry)(nil)

// Register records t (daemon), logs it as ignored (exec) or only counts it
// (check). It refuses registrations after the top level ran and beyond
// maxTriggers.
func (r *registry) Register(t luabind.Trigger) error {
	if !r.loading {
		return errors.New("triggers can only be registered while the script loads (at top level)")
	}
	if r.count >= maxTriggers {
		return fmt.Errorf("too many triggers (the limit is %d per script)", maxTriggers)
	}
	r.count++
	tr := trigger{Trigger: t, label: t.Label()}
	switch r.mode {
	case modeRun:
		if t.Kind == luabind.On {
			r.subs = append(r.subs, tr)
		} else {
			r.timers = append(r.timers, tr)
		}
	case modeExec:
		r.log.Info().Str("trigger", tr.label).Msg("trigger ignored in exec mode")
	}
	return nil
}
