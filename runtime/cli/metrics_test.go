package cli

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
)

// TestMetricsForgetDropsTheScriptsSeries: a script the host forgets
// (runtime.MaxRemoved) leaves no series behind; the others keep theirs.
func TestMetricsForgetDropsTheScriptsSeries(t *testing.T) {
	t.Parallel()
	m := newMetrics(func() statusDoc { return statusDoc{} })
	for _, name := range []string{"gone", "kept"} {
		s := m.Script(name)
		s.Call("every", runtime.CallOK, time.Millisecond)
		s.Call("message", runtime.CallError, time.Millisecond)
		s.BackOff(1, time.Now().Add(time.Minute))
	}
	series := func(script string) int {
		fams, err := m.reg.Gather()
		require.NoError(t, err)
		n := 0
		for _, f := range fams {
			for _, mt := range f.GetMetric() {
				for _, l := range mt.GetLabel() {
					if l.GetName() == "script" && l.GetValue() == script {
						n++
					}
				}
			}
		}
		return n
	}
	require.Equal(t, 6, series("gone"), "calls and durations of two kinds, an error, a back-off")
	m.Forget("gone")
	assert.Zero(t, series("gone"))
	assert.Equal(t, 6, series("kept"))
}

// TestMetricsStoreWriteErrors: the store's refused writes are a counter.
func TestMetricsStoreWriteErrors(t *testing.T) {
	t.Parallel()
	m := newMetrics(func() statusDoc { return statusDoc{StoreWriteErrors: 3} })
	fams, err := m.reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == "rclua_store_write_errors_total" {
			require.Len(t, f.GetMetric(), 1)
			assert.Equal(t, 3.0, f.GetMetric()[0].GetCounter().GetValue())
			return
		}
	}
	t.Fatal("no rclua_store_write_errors_total")
}

// TestMetricsRESTEndpointLabelBounded: endpoints a script calls itself
// (rc.get and rc.post of any name, with a query, a path) all count under
// endpoint="other", through the real client against rctest: the label
// never grows with what scripts call.
func TestMetricsRESTEndpointLabelBounded(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	m := newMetrics(func() statusDoc { return statusDoc{} })
	c, err := rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken), rc.WithObserver(m.rcObserver()))
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 300 {
		_ = c.Get(ctx, fmt.Sprintf("custom.endpoint%d", i), nil, nil)
		_ = c.Post(ctx, fmt.Sprintf("channels.history/%d", i), nil, nil)
	}
	_, err = c.Subscriptions.Get(ctx, nil)
	require.NoError(t, err)
	fams, err := m.reg.Gather()
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range fams {
		if f.GetName() != "rclua_rest_requests_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "endpoint" {
					seen[l.GetValue()] = true
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"other": true, "subscriptions.get": true}, seen)
}
