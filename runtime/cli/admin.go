package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// envAdminAddr is the default of --admin-addr.
const envAdminAddr = "RCLUA_ADMIN_ADDR"

// defaultAdminAddr is the admin endpoint's address unless --admin-addr says
// otherwise: loopback only.
const defaultAdminAddr = "127.0.0.1:9464"

// staleAfter is how long the daemon's loop may go without a heartbeat
// before /healthz answers 503; the loop beats every beatEvery.
const (
	beatEvery  = time.Second
	staleAfter = 15 * time.Second
)

// statusFunc returns the daemon's status document.
type statusFunc func() statusDoc

// statusDoc is what /status and "rclua status --json" show.
type statusDoc struct {
	Version       string       `json:"version"`
	Server        string       `json:"server"`
	User          string       `json:"user"`
	ScriptsDir    string       `json:"scripts_dir"`
	StateDir      string       `json:"state_dir"`
	Started       time.Time    `json:"started"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Ready         bool         `json:"ready"`
	Checks        []readyCheck `json:"checks"`
	Source        sourceDoc    `json:"event_source"`
	// Connecting is set while the daemon is still reaching the server
	// (nothing loaded yet: Scripts is empty).
	Connecting *connectingDoc `json:"connecting,omitempty"`
	Scripts    []scriptDoc    `json:"scripts"`
	// StoreWriteErrors counts the writes of the state dir's store that
	// its file refused since the start (a full disk, a read-only file
	// system): rc.store writes that failed, event cursors not saved.
	StoreWriteErrors uint64 `json:"store_write_errors"`
}

// now is when the daemon made the document.
func (d statusDoc) now() time.Time {
	return d.Started.Add(time.Duration(d.UptimeSeconds * float64(time.Second)))
}

// connectingDoc is the state of a daemon still reaching the server.
type connectingDoc struct {
	Since       time.Time  `json:"since"`
	Attempts    int        `json:"attempts"`             // failed so far
	LastError   string     `json:"last_error,omitempty"` // never a secret
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// readyCheck is one readiness rule and whether it holds.
type readyCheck struct {
	Name   string `json:"name"` // credentials, initial_load, event_source, stopping
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// sourceDoc is the event source's part of the status.
type sourceDoc struct {
	Name   string     `json:"name"`   // realtime or poll
	State  string     `json:"state"`  // connecting, realtime, polling, failing, idle
	Up     bool       `json:"up"`     // events arrive
	Needed bool       `json:"needed"` // a running script listens to its kinds
	Newest *time.Time `json:"newest_update,omitempty"`
}

// scriptDoc is one script's part of the status.
type scriptDoc struct {
	Name     string     `json:"name"`
	State    string     `json:"state"`
	Hash     string     `json:"hash,omitempty"`
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	Triggers []string   `json:"triggers"`
	Timers   []timerDoc `json:"timers,omitempty"`
	// Running is the call the script runs now (a handler, or "load").
	Running        *runningDoc `json:"running,omitempty"`
	LastError      string      `json:"last_error,omitempty"`
	FileBroken     bool        `json:"file_broken"` // the file's newest content failed to load (an older version may run)
	LastErrorAt    *time.Time  `json:"last_error_at,omitempty"`
	Calls          uint64      `json:"calls"`
	Errors         uint64      `json:"errors"`
	Timeouts       uint64      `json:"timeouts"`
	MemoryStops    uint64      `json:"memory_stops"`
	Queued         int         `json:"queued"`
	Disabled       bool        `json:"disabled"`
	BackoffStep    int         `json:"backoff_step,omitempty"`
	BackedOffUntil *time.Time  `json:"backed_off_until,omitempty"`
	// Note says what does not work as the script expects: its message
	// triggers while the event source cannot deliver messages.
	Note string `json:"note,omitempty"`
}

// runningDoc is a call a script runs now.
type runningDoc struct {
	Trigger string    `json:"trigger"` // the handler's trigger label, or "load"
	Since   time.Time `json:"since"`
}

// timerDoc is one rc.every or rc.cron trigger of a script and its next
// tick (absent once stopped).
type timerDoc struct {
	Trigger string     `json:"trigger"`
	Next    *time.Time `json:"next,omitempty"`
}

// messageNote is why a script's message triggers never fire.
type messageNote struct {
	trigger string // the first message trigger's label, with its file:line
	why     string
}

func (n messageNote) String() string {
	return "its message triggers never fire (first: " + n.trigger + "): " + n.why
}

// messageNotes returns a note for each script of list with a message
// trigger while src cannot deliver messages: --events poll, or auto
// polling without a message catch-up (the daemon's has one: its polls
// deliver messages too).
func messageNotes(src source.Source, list []runtime.ScriptStatus) map[string]messageNote {
	if src == nil {
		return nil
	}
	why := ""
	if !slices.Contains(src.Kinds(), source.KindMessage) {
		why = "--events poll polls the subscriptions and cannot deliver messages: run with --events auto or realtime"
	} else if rt, ok := src.(*source.Realtime); ok && rt.State() == source.StatePolling && !rt.PollsMessages() {
		why = "the realtime API is unavailable and --events auto fell back to polling, which cannot deliver messages (until realtime is back)"
	}
	if why == "" {
		return nil
	}
	notes := map[string]messageNote{}
	for _, s := range list {
		if slices.Contains(s.Listens, source.KindMessage) {
			notes[s.Name] = messageNote{trigger: s.FirstHandlers[source.KindMessage], why: why}
		}
	}
	return notes
}

// stateIdle is the state of an event source the host does not run, as no
// running script listens to its kinds.
const stateIdle = "idle"

// stateful is an event source that tells its state (source.Realtime,
// source.Poll).
type stateful interface {
	Name() string
	State() string
	Newest() time.Time
}

// daemonState is what the admin endpoint and the control socket read of
// the running daemon. The admin endpoint serves from before the daemon
// connects: until attach, the host and the source are nil and the status
// says the daemon is connecting.
type daemonState struct {
	mu         sync.RWMutex // guards host, src, user and scriptsDir once the endpoint serves
	host       *runtime.Host
	src        source.Source
	user       string
	scriptsDir string

	attempts  int       // failed connection attempts, guarded by mu
	lastErr   string    // the last one's error, secrets redacted
	lastErrAt time.Time // when it failed

	// persistMu makes each change of the disabled set and its save one
	// step, and keeps a change queued while connecting (control.go) from
	// falling between the daemon's read of the set and attach.
	persistMu sync.Mutex

	keeper   *authKeeper
	server   string
	stateDir string
	store    interface{ WriteErrors() uint64 } // the state dir's store (nil: none)
	started  time.Time
	beat     atomic.Int64 // UnixNano of the daemon loop's last heartbeat
	stopping atomic.Bool  // the shutdown began (beginStop)
	now      func() time.Time
}

// beginStop records that the shutdown began: from now on the daemon is not
// ready (the "stopping" check), while running handlers finish.
func (d *daemonState) beginStop() { d.stopping.Store(true) }

// connectFailed records a failed connection attempt; secrets are the
// strings to redact from its error (a password can be echoed by a proxy).
func (d *daemonState) connectFailed(attempt int, err error, secrets ...string) {
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts, d.lastErr, d.lastErrAt = attempt, msg, d.now()
}

// connecting returns the connection state while nothing is attached.
func (d *daemonState) connecting() *connectingDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return &connectingDoc{Since: d.started, Attempts: d.attempts, LastError: d.lastErr, LastErrorAt: timePtr(d.lastErrAt)}
}

// attach records the script host and the event source once the daemon
// connected, with a fresh beat: the one taken before a long connect would
// make /healthz stale until the loop's first tick.
func (d *daemonState) attach(h *runtime.Host, src source.Source, user, scriptsDir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.heartbeat()
	d.host, d.src, d.user, d.scriptsDir = h, src, user, scriptsDir
}

// attachNew attaches the host newHost makes (with src and user), holding
// persistMu meanwhile: newHost reads the disabled set, which no control
// request changes until the host is attached.
func (d *daemonState) attachNew(newHost func() (*runtime.Host, error), src source.Source, user string) (*runtime.Host, error) {
	d.persistMu.Lock()
	defer d.persistMu.Unlock()
	h, err := newHost()
	if err != nil {
		return nil, err
	}
	d.attach(h, src, user, d.scriptsDir)
	return h, nil
}

// attached returns what attach recorded (a nil host before).
func (d *daemonState) attached() (h *runtime.Host, src source.Source, user, scriptsDir string) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.host, d.src, d.user, d.scriptsDir
}

func (d *daemonState) heartbeat() { d.beat.Store(d.now().UnixNano()) }

// healthy reports whether the daemon's loop beat recently. While it
// connects (nothing attached yet), the connecting loop is its loop: it
// retries with a bounded backoff or gives up, so it counts as healthy.
func (d *daemonState) healthy() (bool, time.Duration) {
	if h, _, _, _ := d.attached(); h == nil {
		return true, 0
	}
	age := d.now().Sub(time.Unix(0, d.beat.Load()))
	return age <= staleAfter, age
}

// source returns the event source's part of the status.
func (d *daemonState) source(src source.Source, status []runtime.ScriptStatus) sourceDoc {
	doc := sourceDoc{Name: runtime.SourceName(src)}
	if src == nil {
		return doc
	}
	for _, s := range status {
		for _, k := range s.Listens {
			for _, sk := range src.Kinds() {
				doc.Needed = doc.Needed || k == sk
			}
		}
	}
	if st, ok := src.(stateful); ok {
		doc.State = st.State()
		if t := st.Newest(); !t.IsZero() {
			doc.Newest = &t
		}
	}
	switch {
	case !doc.Needed:
		// The host runs no source without a listener: what the stopped
		// source last said ("connecting" before it ever ran) is stale.
		doc.State = stateIdle
	case doc.State == source.StateRealtime:
		doc.Up = true
	case doc.State == source.StatePolling:
		doc.Up = true
		if rt, ok := src.(*source.Realtime); ok && rt.Polling() != source.StatePolling {
			doc.Up = false // the fallback's polls fail, or none ended yet
			doc.State = rt.Polling()
		}
	}
	return doc
}

// checks evaluates the readiness rules; h is nil while the daemon
// connects.
func (d *daemonState) checks(h *runtime.Host, src sourceDoc) []readyCheck {
	cred := readyCheck{Name: "credentials", OK: true}
	if err := d.keeper.failed(); err != nil {
		cred.OK, cred.Detail = false, err.Error()
	} else if h == nil {
		cred.OK, cred.Detail = false, "connecting to the server"
	}
	load := readyCheck{Name: "initial_load", OK: true}
	if h == nil {
		load.OK, load.Detail = false, "not started: the daemon is connecting"
	} else {
		select {
		case <-h.Loaded():
		default:
			load.OK, load.Detail = false, "the scripts are still loading"
		}
	}
	ev := readyCheck{Name: "event_source", OK: true}
	switch {
	case !src.Needed:
		ev.Detail = "no running script listens to events"
	case !src.Up:
		ev.OK, ev.Detail = false, sourceDetail(src)
	default:
		ev.Detail = sourceDetail(src)
	}
	stop := readyCheck{Name: "stopping", OK: true}
	if d.stopping.Load() {
		stop.OK, stop.Detail = false, "the daemon is stopping: no new events, running handlers finish"
	}
	return []readyCheck{cred, load, ev, stop}
}

// sourceDetail words the event source's state for /readyz: "realtime:
// the stream is up", "poll: the last poll failed" (the metrics and the
// status document keep the state's one word).
func sourceDetail(src sourceDoc) string {
	var what string
	switch src.State {
	case source.StateRealtime:
		what = "the stream is up"
	case source.StateConnecting:
		what = "connecting"
		if src.Name == "poll" {
			what = "no poll has ended yet"
		}
	case source.StatePolling:
		what = "the last poll succeeded"
	case source.StateFailing:
		what = "the last poll failed"
	default:
		what = src.State
	}
	if src.Name == "realtime" && (src.State == source.StatePolling || src.State == source.StateFailing) {
		what = "the stream is unavailable, polling instead: " + what
	}
	return src.Name + ": " + what
}

// status builds the status document.
func (d *daemonState) status() statusDoc {
	h, src, user, scriptsDir := d.attached()
	var list []runtime.ScriptStatus
	disabled := map[string]bool{}
	running := map[string]runtime.RunningCall{}
	if h != nil {
		list = h.Status()
		for _, n := range h.Disabled() {
			disabled[n] = true
		}
		for _, c := range h.Running() {
			running[c.Script] = c
		}
	}
	now := d.now()
	doc := statusDoc{
		Version: versionString(), Server: d.server, User: user,
		ScriptsDir: scriptsDir, StateDir: d.stateDir, Started: d.started,
		UptimeSeconds: now.Sub(d.started).Seconds(),
		Source:        d.source(src, list),
		Scripts:       make([]scriptDoc, 0, len(list)),
	}
	if d.store != nil {
		doc.StoreWriteErrors = d.store.WriteErrors()
	}
	if h == nil {
		doc.Connecting = d.connecting()
	}
	doc.Checks = d.checks(h, doc.Source)
	doc.Ready = true
	for _, c := range doc.Checks {
		doc.Ready = doc.Ready && c.OK
	}
	notes := messageNotes(src, list)
	for _, s := range list {
		sd := scriptDoc{
			Name: s.Name, State: s.State, Hash: s.Hash, Triggers: s.Triggers,
			LastError: s.LastError, FileBroken: s.FileBroken, Calls: s.Runs, Errors: s.Errors, Timeouts: s.Timeouts, MemoryStops: s.MemoryStops,
			Queued: s.Queued, Disabled: disabled[s.Name], BackoffStep: s.BackoffStep,
			LoadedAt: timePtr(s.LoadedAt), LastErrorAt: timePtr(s.LastErrorAt),
		}
		for _, t := range s.Timers {
			sd.Timers = append(sd.Timers, timerDoc{Trigger: t.Trigger, Next: timePtr(t.Next)})
		}
		if c, ok := running[s.Name]; ok {
			sd.Running = &runningDoc{Trigger: c.Trigger, Since: c.Since}
		}
		if n, ok := notes[s.Name]; ok {
			sd.Note = n.String()
		}
		if s.BackedOffUntil.After(now) {
			sd.BackedOffUntil = timePtr(s.BackedOffUntil)
		}
		if sd.Triggers == nil {
			sd.Triggers = []string{}
		}
		doc.Scripts = append(doc.Scripts, sd)
	}
	return doc
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// adminHandler serves the TCP admin endpoint: read-only (GET and HEAD);
// nothing that changes the daemon is served here (see the control socket).
func adminHandler(d *daemonState, m *metrics) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, age := d.healthy()
		if !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"healthy": false,
				"detail": fmt.Sprintf("the daemon's loop has not run for %v", age.Round(time.Second))})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"healthy": true})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		doc := d.status()
		code := http.StatusOK
		failing := []readyCheck{}
		for _, c := range doc.Checks {
			if !c.OK {
				failing = append(failing, c)
			}
		}
		if !doc.Ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, map[string]any{"ready": doc.Ready, "failing": failing, "checks": doc.Checks})
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.status())
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// checkAdminAddr checks --admin-addr: host:port, or "off".
func checkAdminAddr(addr string) error {
	if addr == "off" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return usagef("--admin-addr %q: want host:port (e.g. %s; port 0 for a free one) or off (or %s)", addr, defaultAdminAddr, envAdminAddr)
	}
	return nil
}

// serveAdmin listens on addr and serves h until ctx ends; explicit says
// the address was chosen (a flag or the environment): then a failure to
// listen is an error, while the default address being taken (another
// daemon on this machine) only turns the endpoint off, with a warning.
// The returned function stops the server and waits for it.
func serveAdmin(ctx context.Context, addr string, explicit bool, h http.Handler, log zerolog.Logger) (stop func(), err error) {
	noop := func() {}
	if addr == "off" {
		log.Info().Msg("admin endpoint off (--admin-addr off)")
		return noop, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		if !explicit {
			log.Warn().Err(err).Str("admin_addr", addr).Msg("admin endpoint off: its default address is taken (set --admin-addr)")
			return noop, nil
		}
		return noop, fmt.Errorf("admin endpoint: %w", err)
	}
	stop = serveHTTP(ln, h, "admin endpoint", log)
	log.Info().Str("admin_addr", ln.Addr().String()).Msg("admin endpoint: /healthz /readyz /metrics /status")
	return stop, nil
}

// serveHTTP serves h on ln from a goroutine of its own (what names it in
// the log line of a failure) until the returned stop, which lets requests
// in flight finish for a second, closes the rest and returns once the
// goroutine ended.
func serveHTTP(ln net.Listener, h http.Handler, what string, log zerolog.Logger) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg(what + " stopped")
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		_ = srv.Close()
		<-done
	}
}
