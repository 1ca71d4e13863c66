package rc

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSubscriptionsGetServerTime: Get reports the server's clock from the
// response's Date header (that of the attempt that succeeded), and zero
// when the response has none.
func TestSubscriptionsGetServerTime(t *testing.T) {
	t.Parallel()
	c, mux, _ := setup(t, WithRetry(RetryPolicy{MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	installFakeClock(c, time.Now())
	serverNow := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	var calls atomic.Int32
	mux.HandleFunc("GET /subscriptions.get", func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch {
		case r.URL.Query().Has("updatedSince"):
			w.Header()["Date"] = nil // net/http then sends none
		case n == 1:
			w.Header().Set("Date", serverNow.Add(-time.Hour).Format(http.TimeFormat))
			http.Error(w, `{"success":false}`, http.StatusBadGateway)
			return
		default:
			w.Header().Set("Date", serverNow.Format(http.TimeFormat))
		}
		_, _ = w.Write([]byte(`{"update":[],"remove":[],"success":true}`))
	})
	res, err := c.Subscriptions.Get(context.Background(), nil)
	require.NoError(t, err)
	assert.Equal(t, int32(2), calls.Load(), "a retried 502, then the answer")
	assert.True(t, serverNow.Equal(res.ServerTime), "the Date of the answer: %v", res.ServerTime)

	res, err = c.Subscriptions.Get(context.Background(), &GetSubscriptionsOptions{UpdatedSince: serverNow})
	require.NoError(t, err)
	assert.True(t, res.ServerTime.IsZero(), "no Date header: zero, got %v", res.ServerTime)
}
