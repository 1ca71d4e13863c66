package luabind

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/runtime/sandbox"
)

// logTable is rc.log: the script's logger.
func (b *binding) logTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.log",
		field{"debug", b.logAt(zerolog.DebugLevel, "rc.log.debug")},
		field{"info", b.logAt(zerolog.InfoLevel, "rc.log.info")},
		field{"warn", b.logAt(zerolog.WarnLevel, "rc.log.warn")},
		field{"error", b.logAt(zerolog.ErrorLevel, "rc.log.error")},
	)
}

// logAt returns
//
//	rc.log.<level>(msg [, fields]) -> nothing
//
// which logs msg with the fields of the table fields (string keys; tables
// are logged as JSON) through the Module's logger. The line's text (msg,
// keys and values) is at most 16 MiB.
func (b *binding) logAt(level zerolog.Level, fn string) lua.LGFunction {
	return func(L *lua.LState) int {
		var msg string
		switch v := L.Get(1).(type) {
		case lua.LString:
			msg = string(v)
		case lua.LNumber:
			msg = sandbox.NumberText(v)
		default:
			argError(L, 1, fn, "msg: string expected, got "+typeName(v))
		}
		size := newBudget(L, fn, "log line")
		size.add(len(msg))
		fields := optTable(L, 2, fn, "fields")
		if fields != nil { // checked whatever the level, so misuse shows in any setup
			for k, v := fields.Next(lua.LNil); k != lua.LNil; k, v = fields.Next(k) {
				ks, ok := k.(lua.LString)
				if !ok {
					argError(L, 2, fn, fmt.Sprintf("fields: key %s is not a string", k.String()))
				}
				size.add(len(ks) + scalarSize(v))
			}
		}
		ev := b.m.Logger.WithLevel(level)
		if ev == nil {
			return 0
		}
		msg = b.redact(msg)
		if fields != nil {
			for k, v := fields.Next(lua.LNil); k != lua.LNil; k, v = fields.Next(k) {
				b.logField(L, ev, size, string(k.(lua.LString)), v)
			}
		}
		ev.Msg(msg)
		return 0
	}
}

// scalarSize is the logged size of v, counted before logging: a string's
// length, a little for other values; tables are counted when encoded.
func scalarSize(v lua.LValue) int {
	if s, ok := v.(lua.LString); ok {
		return len(s) + 4
	}
	return 8
}

// reservedLogKeys are the keys every line of a script's log has already:
// a field of that name would repeat the key, and a reader keeping the last
// one would take the line for another level, script or message.
var reservedLogKeys = map[string]bool{
	zerolog.LevelFieldName: true, zerolog.MessageFieldName: true, zerolog.TimestampFieldName: true, "script": true,
}

// logField adds the field k = v to ev, counting a table's JSON in size. A
// reserved key is logged as "field.<key>".
func (b *binding) logField(L *lua.LState, ev *zerolog.Event, size *budget, k string, v lua.LValue) {
	k = b.redact(k)
	if reservedLogKeys[k] {
		k = "field." + k
	}
	switch v := v.(type) {
	case lua.LString:
		ev.Str(k, b.redact(string(v)))
	case lua.LNumber:
		if text := v.String(); b.redact(text) != text { // a secret's digits
			ev.Str(k, b.redact(text))
			return
		}
		// Integral values in int64's range log as integers; the
		// conversion of anything outside it would be undefined.
		if f := float64(v); f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			ev.Int64(k, int64(f))
		} else {
			ev.Float64(k, f)
		}
	case lua.LBool:
		ev.Bool(k, bool(v))
	case *lua.LTable:
		raw, err := luajson.Encode(ctxOf(L), v)
		var ee *luajson.EncodeError
		switch {
		case err == nil:
			size.add(len(raw))
			ev.RawJSON(k, b.m.Secrets.redactJSON(raw))
		case errors.As(err, &ee): // not JSON (a function in it, a cycle): its address
			ev.Str(k, v.String())
		default: // too large, or past the deadline
			L.RaiseError("%s: field %q: %v", size.fn, clip(k), err)
		}
	default:
		if luajson.IsNull(v) {
			ev.RawJSON(k, []byte("null"))
		} else {
			ev.Str(k, v.String())
		}
	}
}

// print is
//
//	print(...) -> nothing
//
// which logs its arguments, converted with tostring and separated by tabs,
// at info level: at most 16 MiB of text.
func (b *binding) print(L *lua.LState) int {
	n := L.GetTop()
	size := newBudget(L, "print", "output")
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteByte('\t')
		}
		var s string
		if n, ok := L.Get(i).(lua.LNumber); ok {
			s = sandbox.NumberText(n) // as tostring writes it
		} else {
			s = L.ToStringMeta(L.Get(i)).String()
		}
		size.add(len(s) + 1)
		sb.WriteString(s)
	}
	b.m.Logger.Info().Msg(b.redact(sb.String()))
	return 0
}
