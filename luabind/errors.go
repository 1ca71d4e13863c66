package luabind

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// newErrorMeta builds the metatable of b's error tables: tostring(err) and
// "..." .. err give err.message (the concatenation at most 16 MiB).
func newErrorMeta(L *lua.LState, b *binding) *lua.LTable {
	mt := L.CreateTable(0, 3)
	mt.RawSetString("__name", lua.LString("rc.error"))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(b.errMessage(L, L.Get(1))))
		return 1
	}))
	mt.RawSetString("__concat", L.NewFunction(func(L *lua.LState) int {
		a, c := b.errMessage(L, L.Get(1)), b.errMessage(L, L.Get(2))
		newBudget(L, "rc.error", "concatenation").add(len(a) + len(c))
		L.Push(lua.LString(a + c))
		return 1
	}))
	return mt
}

// errMessage renders one operand of __concat/__tostring: an error table's
// message, or the value's own string form.
func (b *binding) errMessage(L *lua.LState, v lua.LValue) string {
	if tb, ok := v.(*lua.LTable); ok {
		if mt, ok := tb.Metatable.(*lua.LTable); ok && mt == b.errMeta {
			return lua.LVAsString(tb.RawGetString("message"))
		}
	}
	switch v.(type) {
	case lua.LString, lua.LNumber:
		return lua.LVAsString(v)
	}
	L.RaiseError("attempt to concatenate a %s value", v.Type())
	return ""
}

// errorTable converts a client error into the err table scripts see:
//
//	{status = 429, error = "...", error_type = "...", message = "...",
//	 retry_after = 42, details = {...}}
//
// status is 0 for transport and context errors; error_type is then
// "canceled", "timeout", "decode" (a malformed response), "unavailable"
// (the Module lacks the service), "limit" (a request body over
// rc.MaxRequestBody, never sent) or "transport", or the error's own
// ErrorType() when it has one (rc.store's "limit", "type", "store").
func (b *binding) errorTable(L *lua.LState, err error) *lua.LTable {
	tb := L.CreateTable(0, 6)
	tb.Metatable = b.errMeta
	tb.RawSetString("message", lua.LString(err.Error()))
	var re *rc.Error
	if errors.As(err, &re) {
		tb.RawSetString("status", lua.LNumber(re.Status))
		tb.RawSetString("error", lua.LString(re.Message))
		tb.RawSetString("error_type", lua.LString(re.Type))
		if re.Details != nil {
			if v, derr := detailsValue(L, re.Details); derr == nil {
				tb.RawSetString("details", v)
			}
		}
		if ra, ok := retryAfter(re, time.Now()); ok {
			tb.RawSetString("retry_after", lua.LNumber(ra))
		}
		return tb
	}
	tb.RawSetString("status", lua.LNumber(0))
	tb.RawSetString("error", lua.LString(err.Error()))
	var typed interface{ ErrorType() string } // rc.store's errors
	if errors.As(err, &typed) {
		tb.RawSetString("error_type", lua.LString(typed.ErrorType()))
		return tb
	}
	var se *luajson.SyntaxError
	var le *luajson.LimitError
	switch {
	case errors.As(err, &se) || errors.As(err, &le) || errors.Is(err, errNotObject) || errors.Is(err, errNoMember) ||
		errors.Is(err, luajson.ErrTooLarge):
		tb.RawSetString("error_type", lua.LString("decode"))
	case errors.Is(err, errUnavailable):
		tb.RawSetString("error_type", lua.LString("unavailable"))
	case errors.Is(err, rc.ErrRequestTooLarge):
		tb.RawSetString("error_type", lua.LString("limit"))
	case errors.Is(err, context.Canceled):
		tb.RawSetString("error_type", lua.LString("canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		tb.RawSetString("error_type", lua.LString("timeout"))
	default:
		tb.RawSetString("error_type", lua.LString("transport"))
	}
	return tb
}

// retryAfter is the wait, in whole seconds rounded up, that a rate-limit
// error asks for; ok is false when the error is not a rate limit.
func retryAfter(re *rc.Error, now time.Time) (float64, bool) {
	var d time.Duration
	switch {
	case re.RetryAfter > 0:
		d = re.RetryAfter
	case !re.Reset.IsZero():
		d = re.Reset.Sub(now)
	case errors.Is(re, rc.ErrRateLimited): // status 429 or errorType error-too-many-requests
		d = 0
	default:
		return 0, false
	}
	return math.Max(0, math.Ceil(d.Seconds())), true
}

// detailsValue converts an error's details map to Lua through JSON.
func detailsValue(L *lua.LState, details map[string]any) (lua.LValue, error) {
	b, err := json.Marshal(details)
	if err != nil {
		return lua.LNil, err
	}
	return luajson.DecodeBytes(L, b)
}
