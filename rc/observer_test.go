package rc

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestObserver: every attempt is reported with its endpoint (never the
// query), status and duration; a transport failure with status 0; a
// rate-limit wait with its length.
func TestObserver(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		seen  []RequestInfo
		waits []time.Duration
	)
	obs := Observer{
		Request: func(ri RequestInfo) { mu.Lock(); seen = append(seen, ri); mu.Unlock() },
		RateLimitWait: func(ep string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			assert.Equal(t, "limited", ep)
			waits = append(waits, d)
		},
	}
	c, mux, _ := setup(t, WithRetry(testPolicy), WithObserver(obs))
	fc := installFakeClock(c, time.Now())
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"success":true}`) })
	var calls atomic.Int32
	mux.HandleFunc("/limited", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(fc.now().Add(2*time.Second).UnixMilli(), 10))
			writeJSON(w, 429, `{"success":false,"error":"slow down"}`)
			return
		}
		writeJSON(w, 200, `{"success":true}`)
	})
	mux.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		conn.Close()
	})
	ctx := context.Background()
	_, err := c.GetRaw(ctx, "ok", map[string][]string{"roomId": {"secret-room"}})
	require.NoError(t, err)
	_, err = c.PostRaw(ctx, "limited", map[string]int{"a": 1})
	require.NoError(t, err)
	_, err = c.PostRaw(ctx, "drop", map[string]int{"a": 1})
	require.Error(t, err)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, seen, 4)
	assert.Equal(t, RequestInfo{Method: "GET", Endpoint: "ok", Status: 200}, zeroDur(seen[0]), "the endpoint without its query")
	assert.Equal(t, RequestInfo{Method: "POST", Endpoint: "limited", Status: 429}, zeroDur(seen[1]))
	assert.Equal(t, RequestInfo{Method: "POST", Endpoint: "limited", Status: 200}, zeroDur(seen[2]))
	assert.Equal(t, RequestInfo{Method: "POST", Endpoint: "drop", Status: 0}, zeroDur(seen[3]), "no response: status 0")
	for _, ri := range seen {
		assert.Positive(t, ri.Duration)
	}
	require.Len(t, waits, 1)
	// X-RateLimit-Reset is whole milliseconds: the reset 2s ahead may come
	// back up to a millisecond early.
	assert.GreaterOrEqual(t, waits[0], 2*time.Second-time.Millisecond)
}

func zeroDur(ri RequestInfo) RequestInfo { ri.Duration = 0; return ri }
