package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// callError is a failed call of these tests: the Lua error message and
// whether the call's deadline stopped it.
type callError struct {
	Msg     string
	Timeout bool
}

func (e *callError) Error() string { return e.Msg }

// pcall calls fn in L under a fresh deadline of timeout, as a host runs a
// handler; a failure is a *callError (a syntax error stays a *SyntaxError).
func pcall(ctx context.Context, L *lua.LState, timeout time.Duration, fn *lua.LFunction) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	L.SetContext(cctx)
	defer L.RemoveContext()
	L.Push(fn)
	err := L.PCall(0, 0, nil)
	if err == nil {
		return nil
	}
	ce := &callError{Msg: err.Error(), Timeout: errors.Is(cctx.Err(), context.DeadlineExceeded)}
	var aerr *lua.ApiError
	if errors.As(err, &aerr) {
		ce.Msg = aerr.Object.String()
	}
	return ce
}

// runChunk compiles code as name and runs it in L under a deadline.
func runChunk(ctx context.Context, L *lua.LState, name string, code []byte, timeout time.Duration) error {
	fn, err := Compile(L, name, code)
	if err != nil {
		return err
	}
	return pcall(ctx, L, timeout, fn)
}

// runSnippet runs code as the top level of "t.lua" in a fresh sandbox.
func runSnippet(t *testing.T, code string, timeout time.Duration, unsafe bool) error {
	t.Helper()
	L := New(Options{Unsafe: unsafe})
	defer L.Close()
	return runChunk(context.Background(), L, "t.lua", []byte(code), timeout)
}

// runBounded is runSnippet in a goroutine that fails the test, instead of
// hanging it, when the Go side does not return within 20s (a library call
// the deadline cannot interrupt).
func runBounded(t *testing.T, code string, timeout time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		L := New(Options{})
		defer L.Close()
		done <- runChunk(context.Background(), L, "t.lua", []byte(code), timeout)
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still running long after its %v deadline", code, timeout)
		return nil
	}
}

// runAllOK runs testdata/file in a fresh state, whose print collects its
// lines, and checks that it printed "all ok" alone (the Lua 5.1 checks
// of testdata/*.lua end so); it returns the state, closed at the end of
// the test.
func runAllOK(t *testing.T, file string) *lua.LState {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", file))
	require.NoError(t, err)
	L := New(Options{})
	t.Cleanup(L.Close)
	var out []string
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int { out = append(out, L.CheckString(1)); return 0 }))
	fn, err := Compile(L, file, src)
	require.NoError(t, err)
	L.Push(fn)
	if f := Call(L, 0, 0); f != nil {
		t.Fatalf("%s: %v", file, f.Value)
	}
	assert.Equal(t, []string{"all ok"}, out, file)
	return L
}
