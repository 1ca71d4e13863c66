package luabind

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
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
// are logged as JSON) through the Module's logger.
func (b *binding) logAt(level zerolog.Level, fn string) lua.LGFunction {
	return func(L *lua.LState) int {
		var msg string
		switch v := L.Get(1).(type) {
		case lua.LString:
			msg = string(v)
		case lua.LNumber:
			msg = v.String()
		default:
			argError(L, 1, fn, "msg: string expected, got "+typeName(v))
		}
		fields := optTable(L, 2, fn, "fields")
		if fields != nil { // checked whatever the level, so misuse shows in any setup
			for k, _ := fields.Next(lua.LNil); k != lua.LNil; k, _ = fields.Next(k) {
				if _, ok := k.(lua.LString); !ok {
					argError(L, 2, fn, fmt.Sprintf("fields: key %s is not a string", k.String()))
				}
			}
		}
		ev := b.m.Logger.WithLevel(level)
		if ev == nil {
			return 0
		}
		if fields != nil {
			for k, v := fields.Next(lua.LNil); k != lua.LNil; k, v = fields.Next(k) {
				logField(ev, string(k.(lua.LString)), v)
			}
		}
		ev.Msg(msg)
		return 0
	}
}

func logField(ev *zerolog.Event, k string, v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		ev.Str(k, string(v))
	case lua.LNumber:
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
		if raw, err := luajson.Encode(context.Background(), v); err == nil {
			ev.RawJSON(k, raw)
		} else {
			ev.Str(k, v.String())
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
// at info level.
func (b *binding) print(L *lua.LState) int {
	n := L.GetTop()
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		if i > 1 {
			sb.WriteByte('\t')
		}
		sb.WriteString(L.ToStringMeta(L.Get(i)).String())
	}
	b.m.Logger.Info().Msg(sb.String())
	return 0
}
