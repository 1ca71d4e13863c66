package luabind

import (
	"fmt"
	"math"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// The argument checks of every rc function: each raises, on misuse, "bad
// argument #n to fn (msg)", which gopher-lua prefixes with the calling
// script's file:line. fn is the function's full Lua name (rc.chat.post_message),
// written with a colon for a method (msg:reply, re:match, handle:stop).
// n is always the stack index of the argument.

// argError raises "file:line: bad argument #n to fn (msg)". For a method
// (fn holds a colon) it numbers as Lua's luaL_argerror does: self, stack
// index 1, is "calling fn on bad self (msg)", and the first argument after
// it is #1.
func argError(L *lua.LState, n int, fn, msg string) {
	if strings.Contains(fn, ":") {
		if n == 1 {
			L.RaiseError("calling %s on bad self (%s)", fn, msg)
		}
		n--
	}
	L.RaiseError("bad argument #%d to %s (%s)", n, fn, msg)
}

// typeName names a value's type for error messages.
func typeName(v lua.LValue) string {
	if luajson.IsNull(v) {
		return "rc.json.null"
	}
	return v.Type().String()
}

// checkID returns argument n, which must be a non-empty string.
func checkID(L *lua.LState, n int, fn, name string) string {
	return checkIDValue(L, n, fn, name, L.Get(n))
}

// maxIDBytes bounds an id, a name or an emoji a script gives (a room id
// is 17 to 34 bytes, a room or user name rarely passes 100): a string
// within the 16 MiB cap would otherwise make a request many times its
// size once escaped (JSON, a URL).
const maxIDBytes = 1024

// checkIDValue returns v, an option or argument n, which must be a
// non-empty string of at most maxIDBytes.
func checkIDValue(L *lua.LState, n int, fn, name string, v lua.LValue) string {
	s, ok := v.(lua.LString)
	if !ok {
		argError(L, n, fn, fmt.Sprintf("%s: string expected, got %s", name, typeName(v)))
	}
	if s == "" {
		argError(L, n, fn, name+" must not be empty")
	}
	if len(s) > maxIDBytes {
		argError(L, n, fn, fmt.Sprintf("%s: %d bytes, more than the %d an id or a name may have", name, len(s), maxIDBytes))
	}
	return string(s)
}

// checkString returns v, an option of argument n, which must be a string.
func checkString(L *lua.LState, n int, fn, name string, v lua.LValue) string {
	s, ok := v.(lua.LString)
	if !ok {
		argError(L, n, fn, fmt.Sprintf("%s: string expected, got %s", name, typeName(v)))
	}
	return string(s)
}

// checkArgString returns argument n, which must be a string.
func checkArgString(L *lua.LState, n int, fn string) string {
	s, ok := L.Get(n).(lua.LString)
	if !ok {
		argError(L, n, fn, "string expected, got "+typeName(L.Get(n)))
	}
	return string(s)
}

// checkTable returns argument n, which must be a table.
func checkTable(L *lua.LState, n int, fn string) *lua.LTable {
	tb, ok := L.Get(n).(*lua.LTable)
	if !ok {
		argError(L, n, fn, "table expected, got "+typeName(L.Get(n)))
	}
	return tb
}

// checkFunction returns argument n, which must be a function.
func checkFunction(L *lua.LState, n int, fn string) *lua.LFunction {
	f, ok := L.Get(n).(*lua.LFunction)
	if !ok {
		argError(L, n, fn, "function expected, got "+typeName(L.Get(n)))
	}
	return f
}

// optTable returns argument n as a table, nil when it is absent or nil.
func optTable(L *lua.LState, n int, fn, name string) *lua.LTable {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil
	case *lua.LTable:
		return v
	default:
		argError(L, n, fn, fmt.Sprintf("%s: table expected, got %s", name, typeName(v)))
		return nil
	}
}

// eachOption calls f for every key of the options table tb (argument n);
// keys must be strings.
func eachOption(L *lua.LState, n int, fn string, tb *lua.LTable, f func(key string, v lua.LValue)) {
	for k, v := tb.Next(lua.LNil); k != lua.LNil; k, v = tb.Next(k) {
		ks, ok := k.(lua.LString)
		if !ok {
			argError(L, n, fn, fmt.Sprintf("unknown option %s (option keys are strings)", k.String()))
		}
		f(string(ks), v)
	}
}

// requireOptions raises "<name> is required" for the first of the
// (name, value) pairs of argument 1 whose value is empty.
func requireOptions(L *lua.LState, fn string, pairs ...string) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			argError(L, 1, fn, pairs[i]+" is required")
		}
	}
}

// unknownOption raises for an option key fn does not know.
func unknownOption(L *lua.LState, n int, fn, key string) {
	argError(L, n, fn, fmt.Sprintf("unknown option %q", clip(key)))
}

// checkTime converts an option given as an ISO-8601 string or Unix
// seconds (ParseOptionTime), raising its error.
func checkTime(L *lua.LState, n int, fn, name string, v lua.LValue) time.Time {
	t, err := ParseOptionTime(name, v)
	if err != nil {
		argError(L, n, fn, err.Error())
	}
	return t
}

// ParseOptionTime reads the option name (rc.subscriptions.get's
// updated_since) given as an ISO-8601 string or Unix seconds; the error
// is the reason the function raises with. rclua check uses it on
// constants.
func ParseOptionTime(name string, v lua.LValue) (time.Time, error) {
	switch v := v.(type) {
	case lua.LString:
		t, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: not an ISO-8601 time: %q", name, clip(string(v)))
		}
		return t, nil
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			return time.Time{}, fmt.Errorf("%s: not a Unix time in seconds: %v", name, v)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	default:
		return time.Time{}, fmt.Errorf("%s: ISO-8601 string or Unix seconds expected, got %s", name, typeName(v))
	}
}
