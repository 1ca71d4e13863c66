package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// benchSource hands its emit function to the benchmark.
type benchSource struct {
	mu   sync.Mutex
	emit source.Emit
	ctx  context.Context
}

func (s *benchSource) Kinds() []string { return []string{source.KindSubscription} }

func (s *benchSource) Run(ctx context.Context, emit source.Emit) error {
	s.mu.Lock()
	s.emit, s.ctx = emit, ctx
	s.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (s *benchSource) get() (source.Emit, context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emit, s.ctx
}

// benchHost runs a host of n scripts, each with an empty subscription
// handler, fed by a benchSource, observed by obs (nil: none).
func benchHost(tb testing.TB, n int, obs runtime.Observer) (*runtime.Host, *benchSource) {
	tb.Helper()
	dir := tb.TempDir()
	for i := range n {
		require.NoError(tb, os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%04d.lua", i)),
			[]byte(`rc.on("subscription", function(action, sub) end)
rc.every("1h", function() end)`), 0o644))
	}
	src := &benchSource{}
	deps := runtime.Deps{Sources: []source.Source{src}}
	if obs != nil {
		deps.Observer = obs
	}
	h, err := runtime.New(runtime.Config{ScriptsDir: dir, Rescan: time.Hour, MemoryLimit: -1}, deps, zerolog.Nop())
	require.NoError(tb, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	tb.Cleanup(func() { cancel(); <-done })
	<-h.Loaded()
	deadline := time.Now().Add(30 * time.Second)
	for e, _ := src.get(); e == nil; e, _ = src.get() {
		if time.Now().After(deadline) {
			tb.Fatal("the source never ran")
		}
		goruntime.Gosched()
	}
	return h, src
}

// runs is the handler calls of every script.
func runs(h *runtime.Host) uint64 {
	var n uint64
	for _, s := range h.Status() {
		n += s.Runs
	}
	return n
}

// BenchmarkHandlerCallMetrics is the cost of one handler call (an event
// through the host to an empty Lua handler) without an observer and with
// the Prometheus one: the difference is what metrics add per call
// (target: at most 1 µs).
//
//	go test -run='^$' -bench=HandlerCallMetrics -benchmem ./runtime/cli
func BenchmarkHandlerCallMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run("metrics="+map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			var obs runtime.Observer
			if on {
				d := &daemonState{now: time.Now}
				obs = newMetrics(d.status)
			}
			h, src := benchHost(b, 1, obs)
			emit, ctx := src.get()
			ids := make([]string, 4096)
			for i := range ids {
				ids[i] = strconv.Itoa(i)
			}
			raw := []byte(`{"_id":"x"}`)
			// A b.N loop rather than b.Loop, which stops the clock when it
			// returns false: the events still queued (up to the queue's
			// length) are handled inside the timed region.
			b.ResetTimer()
			for i := range b.N {
				_ = emit(ctx, source.Event{Kind: source.KindSubscription, Action: source.ActionInserted, ID: ids[i%len(ids)], Raw: raw})
			}
			for runs(h) < uint64(b.N) { // every event handled before the clock stops
				goruntime.Gosched()
			}
			b.StopTimer()
		})
	}
}

// scrapeHost is a daemon state of n scripts whose handlers ran once each,
// with its metrics.
func scrapeHost(tb testing.TB, n int) (*metrics, http.Handler) {
	d := &daemonState{now: time.Now, started: time.Now()}
	m := newMetrics(func() statusDoc { return d.status() })
	h, src := benchHost(tb, n, m)
	d.host, d.src = h, src
	d.keeper = newAuthKeeper(credentials{}, "", zerolog.Nop())
	emit, ctx := src.get()
	require.NoError(tb, emit(ctx, source.Event{Kind: source.KindSubscription, Action: source.ActionInserted, ID: "x", Raw: []byte(`{"_id":"x"}`)}))
	deadline := time.Now().Add(time.Minute)
	for runs(h) < uint64(n) {
		if time.Now().After(deadline) {
			tb.Fatal("the handlers did not all run")
		}
		goruntime.Gosched()
	}
	return m, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func scrapeOnce(h http.Handler) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.Len()
}

// BenchmarkScrape1000Scripts is a /metrics scrape of a daemon with 1,000
// loaded scripts whose handlers ran (target: at most 50 ms; allocations
// per scrape do not grow: see TestScrapeAllocationsSteady).
//
//	go test -run='^$' -bench=Scrape1000Scripts -benchmem ./runtime/cli
func BenchmarkScrape1000Scripts(b *testing.B) {
	_, h := scrapeHost(b, 1000)
	b.ReportMetric(float64(scrapeOnce(h)), "bytes/scrape")
	b.ResetTimer()
	for b.Loop() {
		scrapeOnce(h)
	}
}

// TestScrapeAllocationsSteady: scraping again and again allocates the
// same each time (nothing accumulates between scrapes).
func TestScrapeAllocationsSteady(t *testing.T) { // not parallel: it counts allocations
	_, h := scrapeHost(t, 100)
	scrapeOnce(h)
	first := testing.AllocsPerRun(5, func() { scrapeOnce(h) })
	later := testing.AllocsPerRun(20, func() { scrapeOnce(h) })
	require.LessOrEqual(t, later, first*1.02+5, "allocations per scrape: first %v, later %v", first, later)
}

// BenchmarkObserverCall is what the Prometheus observer adds to one
// handler call, alone: a counter, a histogram observation and the
// back-off bookkeeping's call (the end-to-end figure of
// BenchmarkHandlerCallMetrics is noisier).
//
//	go test -run='^$' -bench=ObserverCall -benchmem ./runtime/cli
func BenchmarkObserverCall(b *testing.B) {
	m := newMetrics(func() statusDoc { return statusDoc{} })
	so := m.Script("bench")
	for b.Loop() {
		so.Call("subscription", runtime.CallOK, 150*time.Microsecond)
	}
}
