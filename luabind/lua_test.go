package luabind

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// syncBuffer is a bytes.Buffer safe for the logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// luaEnv is one test's Lua state with the module on a fake.
type luaEnv struct {
	L    *lua.LState
	fake *fake
	logs *syncBuffer
}

func newLuaEnv(t *testing.T) *luaEnv {
	t.Helper()
	e := &luaEnv{L: lua.NewState(), fake: newFake(), logs: &syncBuffer{}}
	t.Cleanup(e.L.Close)
	m := e.fake.module()
	m.Logger = zerolog.New(e.logs).Level(zerolog.DebugLevel).With().Str("script", "test").Logger()
	m.Open(e.L, nil)
	e.L.SetGlobal("fake", e.fake.luaTable(e.L))
	// logs() -> the log lines written so far, decoded.
	e.L.SetGlobal("logs", e.L.NewFunction(func(L *lua.LState) int {
		out := L.NewTable()
		for _, line := range e.logs.lines() {
			v, err := luajson.DecodeBytes(L, []byte(line))
			if err != nil {
				L.RaiseError("log line %q: %v", line, err)
			}
			out.Append(v)
		}
		L.Push(out)
		return 1
	}))
	return e
}

// tObject is the Lua `t`: t:error(msg), t:log(msg), t:eq(got, want [, msg]),
// t:fatal(msg), t:raises(want, f, ...). eq compares scalars with == and
// tables by their JSON. raises calls f(...) and requires that it raise an
// error containing want and located at the calling line of the script
// ("testdata/x_test.lua:12: ...").
func tObject(L *lua.LState, t *testing.T) *lua.LTable {
	obj := L.NewTable()
	where := func(L *lua.LState) string { return L.Where(1) }
	obj.RawSetString("error", L.NewFunction(func(L *lua.LState) int {
		t.Errorf("%s %s", where(L), L.ToStringMeta(L.Get(2)).String())
		return 0
	}))
	obj.RawSetString("fatal", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("fatal: %s", L.ToStringMeta(L.Get(2)).String())
		return 0
	}))
	obj.RawSetString("log", L.NewFunction(func(L *lua.LState) int {
		t.Logf("%s %s", where(L), L.ToStringMeta(L.Get(2)).String())
		return 0
	}))
	obj.RawSetString("eq", L.NewFunction(func(L *lua.LState) int {
		got, want := L.Get(2), L.Get(3)
		if !luaEqual(got, want) {
			t.Errorf("%s %s: got %s, want %s", where(L), L.OptString(4, "t:eq"), show(got), show(want))
		}
		return 0
	}))
	obj.RawSetString("raises", L.NewFunction(func(L *lua.LState) int {
		at := where(L)
		want := L.CheckString(2)
		fn := L.CheckFunction(3)
		args := make([]lua.LValue, 0, L.GetTop()-3)
		for i := 4; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		err := L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true}, args...)
		if err == nil {
			t.Errorf("%s expected an error containing: %s", at, want)
			return 0
		}
		msg := err.Error()
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			msg = ae.Object.String()
		}
		if !strings.Contains(msg, want) {
			t.Errorf("%s error %q does not contain: %s", at, msg, want)
		}
		if !strings.HasPrefix(msg, at+" ") {
			t.Errorf("%s error %q is not located at the calling line", at, msg)
		}
		return 0
	}))
	return obj
}

func luaEqual(a, b lua.LValue) bool {
	ta, oka := a.(*lua.LTable)
	tb, okb := b.(*lua.LTable)
	if oka && okb {
		ja, erra := luajson.Encode(context.Background(), ta)
		jb, errb := luajson.Encode(context.Background(), tb)
		return erra == nil && errb == nil && bytes.Equal(ja, jb)
	}
	return a == b
}

func show(v lua.LValue) string {
	if s, ok := v.(lua.LString); ok {
		return `"` + string(s) + `"`
	}
	if tb, ok := v.(*lua.LTable); ok {
		if j, err := luajson.Encode(context.Background(), tb); err == nil {
			return string(j)
		}
	}
	return v.String()
}

// TestLua runs every test_* function of testdata/*_test.lua as a subtest,
// each in a fresh state with the module on a fake.
func TestLua(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*_test.lua")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no Lua test files")
	for _, file := range files {
		src, err := os.ReadFile(file)
		require.NoError(t, err, file)
		names := luaTestNames(t, file)
		require.NotEmpty(t, names, "%s has no test_* functions", file)
		t.Run(strings.TrimSuffix(filepath.Base(file), ".lua"), func(t *testing.T) {
			for _, name := range names {
				t.Run(name, func(t *testing.T) {
					e := newLuaEnv(t)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					e.L.SetContext(ctx)
					fn, err := e.L.Load(bytes.NewReader(src), file)
					require.NoError(t, err, file)
					e.L.Push(fn)
					require.NoError(t, e.L.PCall(0, 0, nil), file)
					err = e.L.CallByParam(lua.P{Fn: e.L.GetGlobal(name), Protect: true}, tObject(e.L, t))
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				})
			}
		})
	}
}

// luaTestNames loads file in a bare state and lists its test_* globals.
func luaTestNames(t *testing.T, file string) []string {
	t.Helper()
	e := newLuaEnv(t)
	require.NoError(t, e.L.DoFile(file), file)
	var names []string
	e.L.G.Global.ForEach(func(k, v lua.LValue) {
		if s, ok := k.(lua.LString); ok && strings.HasPrefix(string(s), "test_") && v.Type() == lua.LTFunction {
			names = append(names, string(s))
		}
	})
	sort.Strings(names)
	return names
}

func zerologTo(w *syncBuffer) zerolog.Logger { return zerolog.New(w) }
