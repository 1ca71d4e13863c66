package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
