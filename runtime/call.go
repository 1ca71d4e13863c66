package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox"
)

// scriptError is a failure of Lua code: Msg carries "file:line: message",
// Traceback the Lua stack at the error (may be empty).
type scriptError struct {
	Msg       string
	Traceback string
	Timeout   bool
	Memory    bool  // stopped by the memory watchdog
	alone     bool  // Memory, and it was the only call running then
	cause     error // context.DeadlineExceeded or context.Canceled when a deadline or shutdown stopped the call
}

func (e *scriptError) Error() string { return e.Msg }

// Unwrap returns the context error that stopped the call, if any, so
// errors.Is(err, context.DeadlineExceeded) holds for a call stopped at its
// deadline and errors.Is(err, context.Canceled) for one stopped because its
// parent context ended or the daemon shut down.
func (e *scriptError) Unwrap() error { return e.cause }

// callKind describes a guarded call for its error messages: a call stopped
// by its deadline or by its parent context fails with "file:line: stopped:
// <reason>" instead of gopher-lua's "context deadline exceeded".
type callKind struct {
	what    string    // "handler", "load" or "top level" (exec): names the call in memory errors
	label   string    // the handler's trigger label, for Host.Running ("" for a load)
	start   time.Time // when the handler's call started (zero: now), for Host.Running
	overran string    // the reason at the deadline, completed by " (<timeout>)"
	ended   string    // the reason when the parent context ended or the host stopped the call
}

// Call kinds of the daemon, of exec and of check.
var (
	kindLoad = callKind{what: "load",
		overran: "the top level ran longer than the load timeout", ended: "the daemon is shutting down"}
	// kindModules is a reload's second call: the modules the running
	// version required, loaded again after the new top level (see
	// actor.reloadModules), within the load timeout.
	kindModules = callKind{what: "load",
		overran: "the top level and the modules the running version required ran longer than the load timeout", ended: "the daemon is shutting down"}
	kindHandler = callKind{what: "handler",
		overran: "the handler ran longer than the handler timeout", ended: "the daemon is shutting down"}
	kindExec = callKind{what: "top level",
		overran: "the top level ran longer than the exec timeout", ended: "interrupted"}
	kindExecTimer = callKind{what: "handler",
		overran: "the handler ran longer than the exec timeout", ended: "interrupted"}
	kindCheck = callKind{what: "load",
		overran: "the top level ran longer than the load timeout", ended: "interrupted"}
)

// Causes with which the host stops a running call through its callGuard.
var (
	errShutdown  = errors.New("runtime: the daemon is shutting down")
	errMemoryCap = errors.New("runtime: memory limit exceeded")
	// errMemoryAlone is errMemoryCap for the only call running when the
	// watchdog stopped the calls: the one that grew the heap (only Lua
	// calls grow it much), which counts toward its script's back-off.
	errMemoryAlone = fmt.Errorf("%w (the only call running)", errMemoryCap)
)

// callGuard lets the host stop the call (handler or top level) an actor is
// running: at the end of the shutdown grace, and when the memory watchdog
// finds the heap over the limit. The call's own context carries its
// deadline (in the daemon a callContext, timed by the guard's callTimer:
// this is every handler's hot path); the guard cancels it and remembers
// why. Each actor has two (its handlers', its trial loads'); only the
// goroutine running the call sets and clears it, the host and the
// watchdog stop it.
type callGuard struct {
	w *memWatch // nil when the watchdog is off
	// calls times its calls whose parent is never done (see callTimer).
	calls *callTimer

	mu     sync.Mutex
	cancel context.CancelFunc // of the running call; nil when idle
	cause  error              // why the running call was stopped; nil while it was not
	closed error              // set by close: every later call is stopped at once
	label  string             // the running call's trigger label ("" for a load)
	since  time.Time          // when the running call started
}

// set registers the running call's cancel func; the watchdog samples the
// heap while at least one call is registered. After close, the call is
// stopped at once.
func (g *callGuard) set(cancel context.CancelFunc) { g.setCall(cancel, "", time.Time{}) }

// setCall is set for a call that Host.Running names by label (a trigger's
// label; "" for a script's top level), started at start.
func (g *callGuard) setCall(cancel context.CancelFunc, label string, start time.Time) {
	g.mu.Lock()
	g.cancel, g.cause, g.label, g.since = cancel, nil, label, start
	if g.closed != nil {
		g.cause = g.closed
		cancel()
	}
	g.mu.Unlock()
	if g.w != nil {
		g.w.callStarted()
	}
}

// clear unregisters the call and returns why it was stopped (nil: it was
// not).
func (g *callGuard) clear() error {
	g.mu.Lock()
	cause := g.cause
	g.cancel, g.cause = nil, nil
	g.mu.Unlock()
	if g.w != nil {
		g.w.running.Add(-1)
		if errors.Is(cause, errMemoryCap) {
			g.w.unwound()
		}
	}
	return cause
}

// running returns the running call's label and start; ok false when
// idle.
func (g *callGuard) running() (label string, since time.Time, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.label, g.since, g.cancel != nil
}

// RunningCall is a call a script runs now: one of its handlers, or its top
// level while it loads.
type RunningCall struct {
	Script  string    // the script's name
	Trigger string    // the handler's trigger label, e.g. `every 5m0s (a.lua:9)`; "load" for the top level
	Since   time.Time // when the call started
}

// Running returns the calls the scripts run now, sorted by script name:
// what a shutdown waits for. Reading it costs a lock per script.
func (h *Host) Running() []RunningCall {
	h.mu.Lock()
	var calls []RunningCall
	for a := range h.live {
		for _, g := range a.guards() {
			if label, since, ok := g.running(); ok {
				if label == "" {
					label = "load"
				}
				calls = append(calls, RunningCall{Script: a.st.name, Trigger: label, Since: since})
			}
		}
	}
	h.mu.Unlock()
	slices.SortFunc(calls, func(x, y RunningCall) int {
		return cmp.Or(cmp.Compare(x.Script, y.Script), x.Since.Compare(y.Since))
	})
	return calls
}

// stop cancels the running call, if any, with cause; it reports whether it
// did. A call already stopped is not stopped again.
func (g *callGuard) stop(cause error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancel == nil || g.cause != nil {
		return false
	}
	g.cause = cause
	if errors.Is(cause, errMemoryCap) && g.w != nil {
		g.w.pending.Add(1)
	}
	g.cancel()
	return true
}

// busy reports whether a call is registered and not stopped yet.
func (g *callGuard) busy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cancel != nil && g.cause == nil
}

// stoppedBy returns why the running call was stopped (nil: it was not).
func (g *callGuard) stoppedBy() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cause
}

// close stops the running call with cause and every call set after it.
func (g *callGuard) close(cause error) {
	g.mu.Lock()
	g.closed = cause
	g.mu.Unlock()
	g.stop(cause)
}

// runChunk compiles content and runs its top level under a deadline, as a
// daemon load (kindLoad).
func runChunk(ctx context.Context, L *lua.LState, name string, content []byte, timeout time.Duration) error {
	return runChunkGuarded(ctx, L, name, content, timeout, nil, kindLoad)
}

// runChunkGuarded is runChunk with the top level registered in g (nil:
// none) and errors worded for k.
func runChunkGuarded(ctx context.Context, L *lua.LState, name string, content []byte, timeout time.Duration, g *callGuard, k callKind) error {
	fn, err := sandbox.Compile(L, name, content)
	if err != nil {
		return &scriptError{Msg: err.Error()}
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
// none) while it runs, so the host can stop it, and errors worded for k.
// The error of a call the memory watchdog stopped is the memory error,
// naming the call as k.what ("handler", "load", "top level"), with Memory set.
func pcallGuarded(ctx context.Context, L *lua.LState, timeout time.Duration, g *callGuard, k callKind, fn *lua.LFunction, args ...lua.LValue) (err error) {
	var cctx context.Context
	var cancel context.CancelFunc
	if g != nil && ctx.Done() == nil {
		c := g.calls.begin(ctx, timeout)
		defer g.calls.end(c)
		cctx, cancel = c, g.calls.cancel
	} else {
		cctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if g != nil {
		start := k.start
		if start.IsZero() { // a load: the handler's caller has the time already (a clock read costs as much as the guard)
			start = time.Now()
		}
		g.setCall(cancel, k.label, start)
		defer func() { // runs last, after the recover below
			if cause := g.clear(); err != nil && errors.Is(cause, errMemoryCap) {
				me := g.w.memoryError(err, k.what)
				me.alone = cause == errMemoryAlone
				err = me
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
	if f := sandbox.Call(L, len(args), 0); f != nil {
		se := &scriptError{Msg: errorMessage(L, f), Traceback: f.Traceback}
		explainStop(se, ctx, cctx, g.stoppedBy(), timeout, k)
		return se
	}
	return nil
}

// maxErrorText caps the text of an error value a script raised.
const maxErrorText = 4 << 10

// positioned matches an error message that starts with a position
// ("name:line:"), as error() at a level and gopher-lua's own errors write.
var positioned = regexp.MustCompile(`^[^\s:][^:\n]*:\d+:`)

// errorMessage is the text of a failed call: "file:line: message" whenever
// a Lua frame was running. Values other than strings are described (a
// table's __tostring is used when it works), and the position of the
// innermost Lua frame is added where the value carries none (error("x", 0),
// error({}), error(nil), a Go panic).
func errorMessage(L *lua.LState, f *sandbox.Failure) string {
	var msg string
	switch v := f.Value.(type) {
	case lua.LString:
		msg = string(v)
	case lua.LNumber:
		msg = v.String()
	case *lua.LNilType:
		msg = "error object is nil"
	default:
		msg = describeErrorValue(L, v)
	}
	if len(msg) > maxErrorText {
		msg = msg[:maxErrorText] + "... (truncated)"
	}
	if f.Where != "" && !positioned.MatchString(msg) {
		msg = f.Where + " " + msg
	}
	return msg
}

// describeErrorValue is the text of an error value that is not a string or
// a number: its __tostring result when it has one that works, else its
// type, and for a table its first fields (error{message = ..., code = ...}
// is a common way to raise).
func describeErrorValue(L *lua.LState, v lua.LValue) string {
	desc := fmt.Sprintf("error object is a %s value", v.Type())
	mt := L.GetMetaField(v, "__tostring")
	if mt == lua.LNil {
		if tb, ok := v.(*lua.LTable); ok {
			if fields := describeFields(tb); fields != "" {
				return desc + ": " + fields
			}
		}
		return desc
	}
	L.Push(mt)
	L.Push(v)
	if f := sandbox.Call(L, 1, 1); f != nil {
		reason := "failed"
		if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
			reason = "did not finish before the deadline"
		} else if s, ok := f.Value.(lua.LString); ok {
			reason = "failed: " + string(s)
		}
		return fmt.Sprintf("%s (its __tostring %s)", desc, reason)
	}
	s, ok := L.Get(-1).(lua.LString)
	L.Pop(1)
	if !ok {
		return desc + " (its __tostring returned no string)"
	}
	return string(s)
}

// Bounds of describeFields: the fields shown and the bytes of a string.
const (
	maxErrorFields   = 8
	maxErrorFieldLen = 200
)

// describeFields shows tb's first fields, raw (no metamethod runs),
// "{message = "disk full", code = 3, details = <table>}": strings quoted
// and clipped, numbers and booleans as they are, other values by type;
// "" for an empty table.
func describeFields(tb *lua.LTable) string {
	var b strings.Builder
	n := 0
	for k, v := tb.Next(lua.LNil); k != lua.LNil; k, v = tb.Next(k) {
		if n == maxErrorFields {
			b.WriteString(", ...")
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		switch k := k.(type) {
		case lua.LString:
			b.WriteString(clipText(string(k), maxErrorFieldLen))
		default:
			fmt.Fprintf(&b, "[%s]", describeField(k))
		}
		b.WriteString(" = ")
		b.WriteString(describeField(v))
	}
	if n == 0 {
		return ""
	}
	return "{" + b.String() + "}"
}

// describeField is one value of describeFields.
func describeField(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return strconv.Quote(clipText(string(v), maxErrorFieldLen))
	case lua.LNumber, lua.LBool:
		return v.String()
	default:
		return "<" + v.Type().String() + ">"
	}
}

// clipText cuts s to at most n bytes, on a UTF-8 boundary, marking the cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// explainStop rewrites the message of a call stopped by a context: the
// "context deadline exceeded" (or "context canceled") gopher-lua raised,
// which names neither the limit nor the cause, becomes "stopped: <reason>"
// after the file:line prefix, and the context error becomes the cause.
// stopped is why the host stopped the call through its guard (nil: it did
// not). A call the memory watchdog stopped gets the watchdog's own message
// instead (see memWatch.memoryError); it is left alone here.
func explainStop(se *scriptError, ctx, cctx context.Context, stopped error, timeout time.Duration, k callKind) {
	var cause error
	var reason string
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The parent's deadline (exec's, which bounds the whole run)
		// is the call's timeout too.
		cause, reason = context.DeadlineExceeded, fmt.Sprintf("%s (%v)", k.overran, timeout)
		se.Timeout = true
	case ctx.Err() != nil:
		cause, reason = ctx.Err(), k.ended
	case errors.Is(stopped, errShutdown):
		cause, reason = context.Canceled, k.ended
	case errors.Is(stopped, errMemoryCap):
		return
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		cause, reason = context.DeadlineExceeded, fmt.Sprintf("%s (%v)", k.overran, timeout)
		se.Timeout = true
	default:
		return
	}
	// The raised text is the context's own error: the call's
	// ("deadline exceeded", "context canceled") or the parent's, with
	// luabind's note of the request it cut short, if any: "context
	// deadline exceeded (waiting for GET subscriptions.get)".
	for _, raised := range []error{cctx.Err(), ctx.Err()} {
		if raised == nil {
			continue
		}
		msg, note := se.Msg, ""
		if i := strings.LastIndex(msg, raised.Error()+" (waiting for "); i >= 0 && strings.HasSuffix(msg, ")") {
			msg, note = msg[:i+len(raised.Error())], msg[i+len(raised.Error()):]
		}
		if prefix, ok := strings.CutSuffix(msg, raised.Error()); ok {
			se.Msg, se.cause = prefix+"stopped: "+reason+note, cause
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
