package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a writer and readers in different
// goroutines (a child's stderr, a logger).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envMap is a getenv reading only m: no test depends on the machine's
// environment.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runResult is what an in-process run returned.
type runResult struct {
	err            error
	stdout, stderr string
}

// runNow calls run to completion with env and args.
func runNow(t *testing.T, env map[string]string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stdout, stderr syncBuffer
	err := run(ctx, args, envMap(env), &stdout, &stderr)
	return runResult{err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, timeout, 20*time.Millisecond, "waiting for %s", what)
}

// waitForText waits until buf contains want.
func waitForText(t testing.TB, buf *syncBuffer, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %q in the output; got:\n%s", want, buf.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
