package cli

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// metrics is the daemon's Prometheus registry (its own: nothing is
// registered globally) and the runtime.Observer and rc.Observer feeding
// it. Labels are bounded sets only: a script's name (a file of the scripts
// folder), a trigger or event kind, a source, an outcome, a REST endpoint
// of knownEndpoints (any other is "other": scripts choose the endpoints of
// rc.get and rc.post) and a status class. No room, user, message or id.
type metrics struct {
	reg *prometheus.Registry

	calls     *prometheus.CounterVec   // script, trigger
	errors    *prometheus.CounterVec   // script, trigger, reason
	duration  *prometheus.HistogramVec // script, trigger
	backoffs  *prometheus.CounterVec   // script
	received  *prometheus.CounterVec   // source, kind
	delivered *prometheus.CounterVec   // source, kind
	coalesced *prometheus.CounterVec   // source, kind
	dropped   *prometheus.CounterVec   // source, kind
	reloads   *prometheus.CounterVec   // result
	memStops  *prometheus.CounterVec   // what
	requests  *prometheus.CounterVec   // endpoint, class
	reqDur    *prometheus.HistogramVec // endpoint
	rlWaits   *prometheus.CounterVec   // endpoint
	rlSeconds *prometheus.CounterVec   // endpoint
}

// handlerBuckets cover handlers from a millisecond to the default
// handler timeout (30s).
var handlerBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30}

// knownEndpoints are the REST endpoints that get their own label value.
var knownEndpoints = map[string]bool{
	"login": true, "logout": true, "me": true,
	"chat.postMessage": true, "chat.update": true, "chat.delete": true, "chat.react": true, "chat.syncMessages": true,
	"subscriptions.get": true, "subscriptions.getOne": true, "subscriptions.read": true, "subscriptions.unread": true,
	"rooms.info": true, "rooms.get": true, "users.info": true, "channels.list": true,
}

// newMetrics returns the registry, with the Go and process collectors and
// the gauges that status computes at each scrape.
func newMetrics(st statusFunc) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.calls = counter("rclua_handler_calls_total", "Handler calls, by script and trigger kind.", "script", "trigger")
	m.errors = counter("rclua_handler_errors_total", "Handler calls that failed, by script, trigger kind and reason (error, timeout, memory).", "script", "trigger", "reason")
	m.duration = histogram("rclua_handler_duration_seconds", "Handler call durations, by script and trigger kind.", handlerBuckets, "script", "trigger")
	m.backoffs = counter("rclua_script_backoffs_total", "Times a script's triggers were paused because its handlers kept failing.", "script")
	m.received = counter("rclua_events_received_total", "Events the event source emitted, by source and kind.", "source", "kind")
	m.delivered = counter("rclua_events_delivered_total", "Events queued for a script (one per listening script), by source and kind.", "source", "kind")
	m.coalesced = counter("rclua_events_coalesced_total", "Events merged into a queued event of the same object, by source and kind.", "source", "kind")
	m.dropped = counter("rclua_events_dropped_total", "Events never handled (their script stopped first, or a message came while it was backed off), by source and kind.", "source", "kind")
	m.reloads = counter("rclua_script_loads_total", "Loads of a script file, by result (ok, failed, unchanged).", "result")
	m.memStops = counter("rclua_memory_watchdog_stops_total", "What the memory watchdog stopped: running calls (calls) or a script's state (evict).", "what")
	m.requests = counter("rclua_rest_requests_total", "REST request attempts, by endpoint and status class (2xx, 4xx, 5xx, error).", "endpoint", "class")
	m.reqDur = histogram("rclua_rest_request_duration_seconds", "REST request attempt durations, by endpoint.", prometheus.DefBuckets, "endpoint")
	m.rlWaits = counter("rclua_rest_rate_limit_waits_total", "Waits for a rate-limit window to reset, by endpoint.", "endpoint")
	m.rlSeconds = counter("rclua_rest_rate_limit_wait_seconds_total", "Time spent waiting for rate-limit windows to reset, by endpoint.", "endpoint")
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&statusCollector{status: st},
	)
	return m
}

// Script is the runtime.Observer's per-script observer.
func (m *metrics) Script(name string) runtime.ScriptObserver {
	return &scriptMetrics{m: m, name: name, byTrigger: map[string]*triggerMetrics{}}
}

// Event counts an event by outcome.
func (m *metrics) Event(src, kind, outcome string) {
	var c *prometheus.CounterVec
	switch outcome {
	case runtime.EventReceived:
		c = m.received
	case runtime.EventDelivered:
		c = m.delivered
	case runtime.EventCoalesced:
		c = m.coalesced
	case runtime.EventDropped:
		c = m.dropped
	default:
		return
	}
	c.WithLabelValues(src, kind).Inc()
}

// Reload counts a load by result.
func (m *metrics) Reload(_, result string) { m.reloads.WithLabelValues(result).Inc() }

// Forget drops the series of a script the host no longer lists.
func (m *metrics) Forget(script string) {
	l := prometheus.Labels{"script": script}
	m.calls.DeletePartialMatch(l)
	m.errors.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.backoffs.DeletePartialMatch(l)
}

// MemoryStop counts what the memory watchdog stopped.
func (m *metrics) MemoryStop(what string, n int) {
	if n > 0 {
		m.memStops.WithLabelValues(what).Add(float64(n))
	}
}

// rcObserver is the client's observer feeding the REST metrics.
func (m *metrics) rcObserver() rc.Observer {
	return rc.Observer{
		Request: func(ri rc.RequestInfo) {
			ep := endpointLabel(ri.Endpoint)
			m.requests.WithLabelValues(ep, statusClass(ri.Status)).Inc()
			m.reqDur.WithLabelValues(ep).Observe(ri.Duration.Seconds())
		},
		RateLimitWait: func(endpoint string, d time.Duration) {
			ep := endpointLabel(endpoint)
			m.rlWaits.WithLabelValues(ep).Inc()
			m.rlSeconds.WithLabelValues(ep).Add(d.Seconds())
		},
	}
}

func endpointLabel(ep string) string {
	if knownEndpoints[ep] {
		return ep
	}
	return "other"
}

// statusClass is "2xx" ... "5xx" for a status, "error" without one.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status/100) + "xx"
}

// scriptMetrics is one script lifetime's observer. The host calls it from
// that script's actor goroutine only, so its cache needs no lock.
type scriptMetrics struct {
	m         *metrics
	name      string
	byTrigger map[string]*triggerMetrics
}

// triggerMetrics are the series of one script and trigger kind, looked up
// once: a call then costs two atomic adds and a histogram observation.
type triggerMetrics struct {
	calls    prometheus.Counter
	duration prometheus.Observer
	errors   map[string]prometheus.Counter // by reason
}

func (s *scriptMetrics) Call(trigger, outcome string, d time.Duration) {
	t := s.byTrigger[trigger]
	if t == nil {
		t = &triggerMetrics{
			calls:    s.m.calls.WithLabelValues(s.name, trigger),
			duration: s.m.duration.WithLabelValues(s.name, trigger),
			errors:   map[string]prometheus.Counter{},
		}
		s.byTrigger[trigger] = t
	}
	t.calls.Inc()
	t.duration.Observe(d.Seconds())
	if outcome == runtime.CallOK {
		return
	}
	c := t.errors[outcome]
	if c == nil {
		c = s.m.errors.WithLabelValues(s.name, trigger, outcome)
		t.errors[outcome] = c
	}
	c.Inc()
}

func (s *scriptMetrics) BackOff(step int, until time.Time) {
	if !until.IsZero() {
		s.m.backoffs.WithLabelValues(s.name).Inc()
	}
}

// statusCollector turns the status document into gauges at each scrape.
type statusCollector struct{ status statusFunc }

var (
	descScripts   = prometheus.NewDesc("rclua_scripts", "Scripts by state (running, failed, stopped, disabled); each script counts once.", []string{"state"}, nil)
	descPaused    = prometheus.NewDesc("rclua_scripts_backed_off", "Running scripts whose triggers are paused by their back-off.", nil, nil)
	descBackedOff = prometheus.NewDesc("rclua_script_backed_off", "1 while the script's triggers are paused by its back-off, else 0.", []string{"script"}, nil)
	descNeeded    = prometheus.NewDesc("rclua_event_source_needed", "1 while a running script listens to the event source's kinds (the source runs only then), else 0.", []string{"source"}, nil)
	descQueued    = prometheus.NewDesc("rclua_script_queued_events", "Events waiting for the script (queued, or held while backed off).", []string{"script"}, nil)
	descStoreErrs = prometheus.NewDesc("rclua_store_write_errors_total", "Writes of the state dir's store that its file refused (a full disk, a read-only file system): rc.store writes that failed, event cursors not saved.", nil, nil)
	descBroken    = prometheus.NewDesc("rclua_script_file_broken", "1 while the script file's newest content failed to load (an older version may still run), else 0.", []string{"script"}, nil)
	descUp        = prometheus.NewDesc("rclua_event_source_up", "1 while the event source delivers events (realtime connected, or polling successfully), else 0.", []string{"source"}, nil)
	descState     = prometheus.NewDesc("rclua_event_source_state", "The event source's state: 1 for the current one (connecting, realtime, polling, failing, idle).", []string{"source", "state"}, nil)
	descLag       = prometheus.NewDesc("rclua_event_source_lag_seconds", "Now minus the newest server _updatedAt the event source saw (grows while nothing changes).", []string{"source"}, nil)
	descReady     = prometheus.NewDesc("rclua_ready", "1 while /readyz answers 200, else 0.", nil, nil)
	descUptime    = prometheus.NewDesc("rclua_uptime_seconds", "Seconds since the daemon started.", nil, nil)
)

func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descScripts, descPaused, descBackedOff, descQueued, descBroken, descStoreErrs, descNeeded, descUp, descState, descLag, descReady, descUptime} {
		ch <- d
	}
}

// sourceStates are the states rclua_event_source_state reports.
var sourceStates = []string{source.StateConnecting, source.StateRealtime, source.StatePolling, source.StateFailing, stateIdle}

func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	doc := c.status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	states := map[string]int{runtime.StateRunning: 0, runtime.StateFailed: 0, runtime.StateStopped: 0, runtime.StateDisabled: 0}
	paused := 0
	for i := range doc.Scripts {
		s := &doc.Scripts[i]
		states[s.State]++
		off := 0.0
		if s.BackedOffUntil != nil {
			off = 1
			paused++
		}
		gauge(descBackedOff, off, s.Name)
		gauge(descQueued, float64(s.Queued), s.Name)
		gauge(descBroken, b2f(s.FileBroken), s.Name)
	}
	for st, n := range states {
		gauge(descScripts, float64(n), st)
	}
	gauge(descPaused, float64(paused))
	if src := doc.Source; src.Name != "" {
		gauge(descNeeded, b2f(src.Needed), src.Name)
		gauge(descUp, b2f(src.Up), src.Name)
		for _, st := range sourceStates {
			gauge(descState, b2f(src.State == st), src.Name, st)
		}
		if src.Newest != nil {
			gauge(descLag, time.Since(*src.Newest).Seconds(), src.Name)
		}
	}
	ch <- prometheus.MustNewConstMetric(descStoreErrs, prometheus.CounterValue, float64(doc.StoreWriteErrors))
	gauge(descReady, b2f(doc.Ready))
	gauge(descUptime, doc.UptimeSeconds)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
