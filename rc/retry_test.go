package rc

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testPolicy = RetryPolicy{MaxAttempts: 3, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, MaxRateLimitWait: time.Minute}

func TestRetry(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		policy    *RetryPolicy
		method    string
		failures  []int // statuses answered before a success; 0 drops the connection
		resetIn   time.Duration
		text429   string // 429 body's "error"; with it, no X-RateLimit-Reset header is sent
		retryA    string // a proxy's Retry-After on each 429, when not ""
		wantCalls int
		wantErr   bool
		checkWait func(t *testing.T, waits []time.Duration)
	}{
		{name: "off by default: 429", method: "GET", failures: []int{429}, resetIn: time.Second, wantCalls: 1, wantErr: true},
		{name: "off by default: 503", method: "GET", failures: []int{503}, wantCalls: 1, wantErr: true},
		{
			name: "429 GET waits for reset", policy: &testPolicy, method: "GET", failures: []int{429}, resetIn: 5 * time.Second,
			wantCalls: 2,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.GreaterOrEqual(t, waits[0], 5*time.Second, "waits until the reset")
				assert.Less(t, waits[0], 5*time.Second+testPolicy.MinBackoff, "jitter bounded by MinBackoff")
			},
		},
		{
			name: "429 reset from the body text", policy: &testPolicy, method: "POST", failures: []int{429},
			text429:   "Error, too many requests. Please slow down. You must wait 3 seconds before trying this endpoint again. [error-too-many-requests]",
			wantCalls: 2,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.GreaterOrEqual(t, waits[0], 3*time.Second, "waits the seconds the text gives")
				assert.Less(t, waits[0], 3*time.Second+testPolicy.MinBackoff)
			},
		},
		{
			name: "429 without any reset backs off", policy: &testPolicy, method: "GET", failures: []int{429},
			text429: "Too many requests", wantCalls: 2,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.True(t, waits[0] >= 50*time.Millisecond && waits[0] <= 100*time.Millisecond, "backoff %v", waits[0])
			},
		},
		{
			// The on-call trial: a proxy's Retry-After: 5 on chat.postMessage
			// was ignored for the server's 1 s reset.
			name: "429 Retry-After later than the reset wins", policy: &testPolicy, method: "POST", failures: []int{429, 429},
			resetIn: time.Second, retryA: "5", wantCalls: 3,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 2)
				for _, w := range waits {
					assert.GreaterOrEqual(t, w, 5*time.Second, "waits the Retry-After")
					assert.Less(t, w, 5*time.Second+testPolicy.MinBackoff)
				}
			},
		},
		{
			name: "429 reset later than Retry-After wins", policy: &testPolicy, method: "GET", failures: []int{429},
			resetIn: 4 * time.Second, retryA: "1", wantCalls: 2,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.GreaterOrEqual(t, waits[0], 4*time.Second, "waits the server's reset")
			},
		},
		{
			name: "429 Retry-After only (proxy body)", policy: &testPolicy, method: "POST", failures: []int{429},
			text429: "Too Many Requests", retryA: "7", wantCalls: 2,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 1)
				assert.GreaterOrEqual(t, waits[0], 7*time.Second)
				assert.Less(t, waits[0], 7*time.Second+testPolicy.MinBackoff)
			},
		},
		{name: "429 Retry-After beyond MaxRateLimitWait", policy: &testPolicy, method: "GET", failures: []int{429},
			resetIn: time.Second, retryA: "3600", wantCalls: 1, wantErr: true},
		{name: "429 huge Retry-After", policy: &testPolicy, method: "GET", failures: []int{429},
			text429: "slow down", retryA: "99999999999999999", wantCalls: 1, wantErr: true},
		{name: "one attempt means no retry", policy: &RetryPolicy{MaxAttempts: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, MaxRateLimitWait: time.Minute},
			method: "GET", failures: []int{503}, wantCalls: 1, wantErr: true},
		{name: "429 POST retried too", policy: &testPolicy, method: "POST", failures: []int{429, 429}, resetIn: time.Second, wantCalls: 3},
		{name: "429 beyond MaxRateLimitWait", policy: &testPolicy, method: "GET", failures: []int{429}, resetIn: 2 * time.Minute, wantCalls: 1, wantErr: true},
		{
			name: "503 GET backs off exponentially", policy: &testPolicy, method: "GET", failures: []int{503, 500}, wantCalls: 3,
			checkWait: func(t *testing.T, waits []time.Duration) {
				require.Len(t, waits, 2)
				assert.True(t, waits[0] >= 50*time.Millisecond && waits[0] <= 100*time.Millisecond, "first backoff %v", waits[0])
				assert.True(t, waits[1] >= 100*time.Millisecond && waits[1] <= 200*time.Millisecond, "second backoff %v", waits[1])
			},
		},
		{name: "503 POST not retried", policy: &testPolicy, method: "POST", failures: []int{503}, wantCalls: 1, wantErr: true},
		{name: "400 never retried", policy: &testPolicy, method: "GET", failures: []int{400}, wantCalls: 1, wantErr: true},
		{name: "transport error GET retried", policy: &testPolicy, method: "GET", failures: []int{0}, wantCalls: 2},
		{name: "transport error POST not retried", policy: &testPolicy, method: "POST", failures: []int{0}, wantCalls: 1, wantErr: true},
		{name: "attempts exhausted", policy: &testPolicy, method: "GET", failures: []int{502, 502, 502}, wantCalls: 3, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.policy != nil {
				opts = append(opts, WithRetry(*tt.policy))
			}
			c, mux, _ := setup(t, opts...)
			fc := installFakeClock(c, start)
			var calls atomic.Int32
			mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
				testMethod(t, r, tt.method)
				n := int(calls.Add(1))
				if n > len(tt.failures) {
					writeJSON(w, 200, `{"success":true}`)
					return
				}
				switch st := tt.failures[n-1]; st {
				case 0:
					conn, _, err := w.(http.Hijacker).Hijack()
					require.NoError(t, err)
					conn.Close()
				case 429:
					if tt.retryA != "" {
						w.Header().Set("Retry-After", tt.retryA)
					}
					if tt.text429 != "" {
						writeJSON(w, 429, mustJSON(t, map[string]any{"success": false, "error": tt.text429}))
						break
					}
					w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(fc.now().Add(tt.resetIn).UnixMilli(), 10))
					writeJSON(w, 429, `{"success":false,"error":"Error, too many requests. [error-too-many-requests]"}`)
				default:
					writeJSON(w, st, `{"success":false,"error":"boom"}`)
				}
			})
			var err error
			if tt.method == "GET" {
				_, err = c.GetRaw(context.Background(), "x", nil)
			} else {
				_, err = c.PostRaw(context.Background(), "x", map[string]int{"a": 1})
			}
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.wantCalls, int(calls.Load()), "requests sent")
			if tt.checkWait != nil {
				tt.checkWait(t, fc.slept())
			}
		})
	}
}

func TestRetryPostResendsBody(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(testPolicy))
	fc := installFakeClock(c, time.Now())
	var calls atomic.Int32
	mux.HandleFunc("/subscriptions.read", func(w http.ResponseWriter, r *http.Request) {
		testBody(t, r, `{"rid":"R1"}`)
		if calls.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(fc.now().Add(time.Second).UnixMilli(), 10))
			writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
			return
		}
		writeJSON(w, 200, `{"success":true}`)
	})
	require.NoError(t, c.Subscriptions.Read(context.Background(), "R1", nil))
	assert.Equal(t, int32(2), calls.Load())
}

// TestRetryWaitEndsOnCancel uses the real clock: a long reset, and a cancel
// that must end the wait at once.
func TestRetryWaitEndsOnCancel(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{MaxAttempts: 5, MaxRateLimitWait: time.Hour}))
	var calls atomic.Int32
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(30*time.Minute).UnixMilli(), 10))
		writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
	})
	// Cancel only once the client waits for the reset: cancelling while the
	// first response is still in flight would test something else.
	waiting := make(chan time.Duration, 1)
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waiting <- d
		return sleepContext(ctx, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.GetRaw(ctx, "x", nil)
		done <- err
	}()
	select {
	case d := <-waiting:
		assert.Greater(t, d, 29*time.Minute, "waits for the reset")
	case <-time.After(5 * time.Second):
		t.Fatal("the client never waited")
	}
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, ErrRateLimited, "the last error stays visible")
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not end on cancel")
	}
	assert.Equal(t, int32(1), calls.Load())
}

func TestRetryDeadlineTooShort(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{MaxRateLimitWait: time.Hour}))
	var calls atomic.Int32
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(10*time.Minute).UnixMilli(), 10))
		writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	_, err := c.GetRaw(ctx, "x", nil)
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Less(t, time.Since(begin), 5*time.Second, "no wait that outlives the context")
	assert.Equal(t, int32(1), calls.Load())
}

// TestRetryAfterDeadlineTooShort: a Retry-After, like the server's reset,
// is never waited past the call's deadline.
func TestRetryAfterDeadlineTooShort(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{MaxRateLimitWait: time.Hour}))
	var calls atomic.Int32
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "600")
		writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	begin := time.Now()
	_, err := c.PostRaw(ctx, "x", map[string]int{"a": 1})
	assert.ErrorIs(t, err, ErrRateLimited)
	assert.Less(t, time.Since(begin), 5*time.Second, "no wait that outlives the context")
	assert.Equal(t, int32(1), calls.Load())
}

func TestContextCanceledIsNotError(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(50*time.Millisecond, cancel)
	defer timer.Stop()
	_, err := c.GetRaw(ctx, "x", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	var e *Error
	assert.False(t, errors.As(err, &e))
	assert.NotContains(t, err.Error(), "http://", "no URL in transport errors")
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithTimeout(50*time.Millisecond))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux.HandleFunc("/x", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	_, err := c.GetRaw(context.Background(), "x", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestRequestOf: a failure without the server's answer (the caller's
// deadline during the request, a retry wait cut short) names its method
// and endpoint, never the query; the server's
// own answer (*Error) and client-side refusals do not.
func TestRequestOf(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{MaxRateLimitWait: time.Hour}))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/limited", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "60")
		writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 400, `{"success":false,"error":"nope"}`)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.GetRaw(ctx, "hang", map[string][]string{"roomName": {"hushhush"}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	m, ep, ok := RequestOf(err)
	assert.True(t, ok)
	assert.Equal(t, "GET hang", m+" "+ep)
	assert.NotContains(t, err.Error(), "hushhush")

	ctx2, cancel2 := context.WithCancel(context.Background())
	waiting := make(chan struct{})
	c.sleep = func(ctx context.Context, d time.Duration) error {
		close(waiting)
		return sleepContext(ctx, d)
	}
	go func() { <-waiting; cancel2() }()
	_, err = c.PostRaw(ctx2, "limited", map[string]int{"a": 1})
	require.ErrorIs(t, err, context.Canceled)
	m, ep, ok = RequestOf(err)
	assert.True(t, ok, "a retry wait cut short: %v", err)
	assert.Equal(t, "POST limited", m+" "+ep)

	_, err = c.GetRaw(context.Background(), "bad", nil)
	_, _, ok = RequestOf(err)
	assert.False(t, ok, "the server answered: an *Error")
	_, err = c.GetRaw(context.Background(), "x?y=1", nil)
	_, _, ok = RequestOf(err)
	assert.False(t, ok, "refused before any I/O")
}
