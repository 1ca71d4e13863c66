package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
	"github.com/rclua/rclua/runtime/store"
	"github.com/rclua/rclua/runtime/watch"
)

// The state folder's files.
const (
	controlSocket = "control.sock"  // the control socket (mode 0600)
	disabledFile  = "disabled.json" // the disabled scripts: {"disabled": ["name", ...]}
)

// disabledSet is the content of disabledFile.
type disabledSet struct {
	Disabled []string `json:"disabled"`
}

// loadDisabled reads the disabled scripts of the state folder (none when
// the file does not exist).
func loadDisabled(stateDir string) ([]string, error) {
	path := filepath.Join(stateDir, disabledFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("disabled scripts: %w", err)
	}
	var set disabledSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("disabled scripts: %s: %w (fix or delete the file)", path, err)
	}
	return set.Disabled, nil
}

// saveDisabled writes the disabled scripts atomically: a temporary file
// renamed over the old one, so a crash leaves the old set or the new one.
func saveDisabled(stateDir string, names []string) error {
	if names == nil {
		names = []string{}
	}
	data, err := json.MarshalIndent(disabledSet{Disabled: names}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(stateDir, ".disabled-*.json")
	if err != nil {
		return fmt.Errorf("saving the disabled scripts: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename: fails harmlessly
	if _, err = tmp.Write(append(data, '\n')); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(stateDir, disabledFile))
	}
	if err != nil {
		return fmt.Errorf("saving the disabled scripts: %w", err)
	}
	return nil
}

// controlRequest is the body of the control socket's POST requests.
type controlRequest struct {
	Scripts []string `json:"scripts"`
}

// controlReply is the control socket's answer to a POST.
type controlReply struct {
	Error string `json:"error,omitempty"`
	Done  string `json:"done,omitempty"`
}

// notReadyError is a control request's error while the daemon connects
// or loads its scripts: 503, and the command exits 1.
type notReadyError struct{ msg string }

func (e *notReadyError) Error() string { return e.msg }

// reloadWait bounds a named reload's wait for its outcome, within the
// control client's 30 s: a top level slower than that is still loading
// when the command answers (rclua status shows the outcome).
const reloadWait = 25 * time.Second

// reloadError is a named reload that did not load every script: 422, and
// the command exits 1 with it.
type reloadError struct{ err error }

func (e *reloadError) Error() string { return e.err.Error() }
func (e *reloadError) Unwrap() error { return e.err }

// controlHandler serves the control socket: GET /status, POST /reload,
// /disable, /enable. It serves from before the daemon reached the server:
// until the scripts are loaded, reload is refused (*notReadyError), and
// before the host is attached, enable and disable change the saved set,
// which the load applies.
func controlHandler(d *daemonState, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.status())
	})
	act := func(path string, one bool, do func(ctx context.Context, names []string) (string, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			var req controlRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
				writeJSON(w, http.StatusBadRequest, controlReply{Error: "bad request: " + err.Error()})
				return
			}
			if one && len(req.Scripts) != 1 {
				writeJSON(w, http.StatusBadRequest, controlReply{Error: "name one script"})
				return
			}
			for i, n := range req.Scripts { // "a.lua" is script "a": replies and logs name what is stored
				req.Scripts[i] = strings.TrimSuffix(n, ".lua")
			}
			done, err := do(r.Context(), req.Scripts)
			if err != nil {
				code := http.StatusInternalServerError
				switch {
				case errors.Is(err, runtime.ErrUnknownScript):
					code = http.StatusNotFound
				case errors.As(err, new(*notReadyError)):
					code = http.StatusServiceUnavailable
				case errors.As(err, new(*reloadError)):
					code = http.StatusUnprocessableEntity
				}
				writeJSON(w, code, controlReply{Error: err.Error()})
				return
			}
			log.Info().Str("command", strings.TrimPrefix(path, "/")).Strs("scripts", req.Scripts).Msg("control socket: " + done)
			writeJSON(w, http.StatusOK, controlReply{Done: done})
		})
	}
	act("/reload", false, func(ctx context.Context, names []string) (string, error) {
		h, err := d.loadedHost()
		if err != nil {
			return "", err
		}
		if len(names) == 0 {
			if err := h.Reload(); err != nil {
				return "", err
			}
			return "reloading every script", nil
		}
		// A named reload waits for its outcome, so that a broken file
		// fails the command (exit 1) instead of only the daemon's log.
		ctx, cancel := context.WithTimeout(ctx, reloadWait)
		defer cancel()
		outs, err := h.ReloadWait(ctx, names...)
		if err != nil {
			return "", err
		}
		var loaded []string
		var failed []error
		for _, o := range outs {
			if o.Loaded {
				loaded = append(loaded, o.Script)
			} else {
				failed = append(failed, fmt.Errorf("%s: not reloaded: %w", o.Script, o.Err))
			}
		}
		if len(failed) > 0 {
			if len(loaded) > 0 {
				failed = append([]error{fmt.Errorf("reloaded %s", strings.Join(loaded, ", "))}, failed...)
			}
			return "", &reloadError{errors.Join(failed...)}
		}
		return "reloaded " + strings.Join(loaded, ", "), nil
	})
	persist := func(disable bool, what string) func(context.Context, []string) (string, error) {
		return func(_ context.Context, names []string) (string, error) {
			d.persistMu.Lock()
			defer d.persistMu.Unlock()
			h, _, _, _ := d.attached()
			if h == nil {
				return d.queueDisabled(names[0], disable, what)
			}
			if _, err := d.loadedHost(); err != nil {
				return "", err
			}
			change := h.Enable
			if disable {
				change = h.Disable
			}
			if err := change(names[0]); err != nil {
				return "", err
			}
			if err := saveDisabled(d.stateDir, h.Disabled()); err != nil {
				return "", fmt.Errorf("%s %s, but %w: a restart will not remember it", what, names[0], err)
			}
			return what + " " + names[0], nil
		}
	}
	act("/disable", true, persist(true, "disabled"))
	act("/enable", true, persist(false, "enabled"))
	return mux
}

// loadedHost returns the script host once its scripts are loaded, else
// a *notReadyError saying what the daemon is doing.
func (d *daemonState) loadedHost() (*runtime.Host, error) {
	h, _, _, _ := d.attached()
	if h == nil {
		return nil, &notReadyError{"the daemon is connecting to " + d.server + "; try again once it is ready (rclua status shows its state)"}
	}
	select {
	case <-h.Loaded():
		return h, nil
	default:
		return nil, &notReadyError{"the daemon is loading its scripts; try again once it is ready"}
	}
}

// queueDisabled disables or enables the script name in the saved set
// while the daemon connects (persistMu held, no host yet): the load
// applies it. The name must be a script of the scripts folder.
func (d *daemonState) queueDisabled(name string, disable bool, what string) (string, error) {
	name = strings.TrimSuffix(name, ".lua")
	file := filepath.Join(d.scriptsDir, name+".lua")
	if strings.ContainsAny(name, `/\`) || !watch.IsScript(name+".lua") {
		return "", fmt.Errorf("%q is not a script name (want a file name of the scripts folder, with or without .lua): %w", name, runtime.ErrUnknownScript)
	}
	if fi, err := os.Stat(file); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("script %q: %w in %s (no %s)", name, runtime.ErrUnknownScript, d.scriptsDir, filepath.Base(file))
	}
	set, err := loadDisabled(d.stateDir)
	if err != nil {
		return "", err
	}
	kept := set[:0:0]
	for _, n := range set {
		if n != name {
			kept = append(kept, n)
		}
	}
	if disable {
		kept = append(kept, name)
		sort.Strings(kept)
	}
	if err := saveDisabled(d.stateDir, kept); err != nil {
		return "", err
	}
	if disable {
		return fmt.Sprintf("%s %s (saved: the daemon is still connecting to %s and will not load it)", what, name, d.server), nil
	}
	return fmt.Sprintf("%s %s (saved: the daemon is still connecting to %s and will load it)", what, name, d.server), nil
}

// withStoreRoutes adds to the control socket's handler h its read-only
// store routes, which rclua store list and get use while the daemon holds
// the store's lock: GET /store/list (the scripts with state), GET
// /store/list?script=S (S's live keys) and GET /store/get?script=S&key=K
// (K's value). There are no write routes.
func withStoreRoutes(h http.Handler, db *store.DB) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	rd := fileReader{db}
	reply := func(w http.ResponseWriter, v any, err error) {
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, controlReply{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, v)
	}
	mux.HandleFunc("GET /store/list", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if !q.Has("script") {
			v, err := rd.scripts(r.Context())
			reply(w, v, err)
			return
		}
		v, err := rd.entries(r.Context(), q.Get("script"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /store/get", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("script") == "" || q.Get("key") == "" {
			writeJSON(w, http.StatusBadRequest, controlReply{Error: "give script and key"})
			return
		}
		v, err := rd.value(r.Context(), q.Get("script"), q.Get("key"))
		reply(w, v, err)
	})
	return mux
}

// serveControl listens on the control socket of stateDir (mode 0600: only
// the daemon's user, or root, can connect) and serves h. A socket left by
// a daemon that died is replaced; one a running daemon answers on is
// refused. The returned function stops the server, waits for it and
// removes the socket.
func serveControl(stateDir string, h http.Handler, log zerolog.Logger) (stop func(), err error) {
	path := filepath.Join(stateDir, controlSocket)
	// sun_path is 104 bytes on the BSDs, 108 on Linux; the socket is made
	// in a temporary folder beside it first (listenPrivate).
	if n := len(path) + len("/.control-1234567890"); n > 104 {
		return nil, usagef("control socket %s: the path is too long for a Unix socket: choose a --state-dir at least %d bytes shorter", path, n-104)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("another rclua daemon is running with the state folder %s (its control socket answers): stop it, or give this one another --state-dir", stateDir)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := listenPrivate(stateDir, path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	serving := serveHTTP(ln, h, "control socket", log)
	log.Debug().Str("socket", path).Msg("control socket listening")
	return func() {
		serving()
		_ = os.Remove(path)
	}, nil
}

// listenPrivate listens on a Unix socket at path that nobody but the
// process's user could connect to at any moment: it is made in a new
// folder of mode 0700, given mode 0600, then renamed into place.
func listenPrivate(stateDir, path string) (net.Listener, error) {
	tmp, err := os.MkdirTemp(stateDir, ".control-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	first := filepath.Join(tmp, controlSocket)
	ln, err := net.Listen("unix", first)
	if err != nil {
		return nil, err
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // the path moves: stop removes it
	if err = os.Chmod(first, 0o600); err == nil {
		err = os.Rename(first, path)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

const controlHelp = `rclua status [--json] [flags]
rclua reload [flags] [SCRIPT...]
rclua disable [flags] SCRIPT
rclua enable [flags] SCRIPT

Control the running daemon through its control socket (control.sock in its
state folder, which only the daemon's user can open):
  status    each script's state (version hash, since when, triggers, last
            error, calls, errors, queue, disabled or backed off) and the
            daemon's (server, user, event source, readiness, uptime)
  reload    load the named scripts (all with none) from disk again; a
            named one that does not load (its top level fails, it is
            disabled, it still loads after 25 s) fails the command
  disable   stop a script and keep it stopped, across restarts, until enable
  enable    load a disabled script again

The socket answers while the daemon is still reaching the server: status
then says so (server, since when, last error), reload is refused, and
disable and enable are saved at once and apply when the scripts load.

Find the daemon with the same --state-dir (or RCLUA_STATE_DIR, or
$STATE_DIRECTORY) it runs with, or the same --scripts when it uses the
default state folder beside it.
`

// daemonDirFlags find a daemon's state dir: --state-dir, or the default
// beside its --scripts folder (the control and store commands).
type daemonDirFlags struct {
	state   stateFlags
	scripts string
}

func (d *daemonDirFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	d.state.register(fs, getenv, false)
	fs.StringVar(&d.scripts, "scripts", envOr(getenv, envScripts, defaultScripts), "the daemon's scripts folder, beside which its default state dir is (env "+envScripts+")")
}

// controlOpts are the flags of status, reload, disable and enable.
type controlOpts struct {
	daemonDirFlags
	asJSON bool // status only
}

// controlFlags returns the flag set of the control command cmd and the
// options it fills.
func controlFlags(cmd string, getenv func(string) string) (*flag.FlagSet, *controlOpts) {
	fs := newFlagSet(cmd, controlHelp)
	o := &controlOpts{}
	o.register(fs, getenv)
	if cmd == "status" {
		fs.BoolVar(&o.asJSON, "json", false, "print the status as JSON")
	}
	return fs, o
}

// cmdControl runs status, reload, disable or enable.
func cmdControl(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, o := controlFlags(cmd, getenv)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	state, scripts, asJSON := o.state, o.scripts, o.asJSON
	names := fs.Args()
	switch {
	case cmd == "status" && len(names) > 0:
		return usagef("status: unexpected argument %q (see rclua status --help)", names[0])
	case (cmd == "disable" || cmd == "enable") && len(names) != 1:
		return usagef("%s: name one script, e.g. rclua %s greeter (see rclua %s --help)", cmd, cmd, cmd)
	}
	dir, err := resolveStateDir(state.dir, getenv, scripts, false)
	if err != nil {
		return err
	}
	c := newControlClient(dir)
	if cmd == "status" {
		var doc statusDoc
		if err := c.get(ctx, "/status", &doc); err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(doc)
		}
		printStatus(stdout, doc)
		return nil
	}
	if names == nil {
		names = []string{}
	}
	var reply controlReply
	if err := c.post(ctx, "/"+cmd, controlRequest{Scripts: names}, &reply); err != nil {
		return err
	}
	fmt.Fprintln(stdout, reply.Done)
	return nil
}

// controlClient talks to a daemon's control socket.
type controlClient struct {
	path string
	hc   *http.Client
}

func newControlClient(stateDir string) *controlClient {
	path := filepath.Join(stateDir, controlSocket)
	var d net.Dialer
	return &controlClient{path: path, hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

// refused is the one message for a daemon that cannot be reached.
func (c *controlClient) refused(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("no rclua daemon is running with the state folder %s (no control socket answers at %s): start one with rclua run, or give the daemon's --state-dir (a --dev daemon logs its temporary one at start)", filepath.Dir(c.path), c.path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("the control socket %s is not yours: run this as the daemon's user (or root)", c.path)
	}
	return fmt.Errorf("control socket %s: %w", c.path, err)
}

func (c *controlClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://rclua"+path, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *controlClient) post(ctx context.Context, path string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://rclua"+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *controlClient) do(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.refused(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("control socket %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var reply controlReply
		if json.Unmarshal(data, &reply) == nil && reply.Error != "" {
			return errors.New(reply.Error)
		}
		return fmt.Errorf("control socket %s: %s", c.path, resp.Status)
	}
	return json.Unmarshal(data, out)
}

// sourceState is the event source's state for the status header, in
// parentheses after its name: "realtime (connected)", "realtime (polling:
// realtime unavailable)", "realtime (idle: no script listens)".
func sourceState(s sourceDoc) string {
	var parts []string
	switch {
	case !s.Needed:
		return " (idle: no script listens)"
	case s.State == source.StateRealtime:
		parts = append(parts, "connected")
	case s.State == source.StatePolling && s.Name == "realtime": // --events auto fell back
		parts = append(parts, "polling: realtime unavailable")
	case s.State != "":
		parts = append(parts, s.State)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// printStatus writes doc for people. Text that scripts or the server
// choose (errors, trigger labels, notes, check details) has its control
// and other non-printing characters escaped as the console log does
// (consoleEscape), so that it cannot colour the terminal, forge a line
// or break the table.
func printStatus(w io.Writer, doc statusDoc) {
	esc := func(s string) string { return consoleEscape(s, false, false) }
	ready := "ready"
	if !doc.Ready {
		var failing []string
		for _, c := range doc.Checks {
			if !c.OK {
				failing = append(failing, c.Name+" ("+c.Detail+")")
			}
		}
		ready = "NOT READY: " + esc(strings.Join(failing, "; "))
	}
	src := doc.Source.Name + sourceState(doc.Source)
	user := doc.User
	if user == "" {
		user = "-"
	}
	fmt.Fprintf(w, "rclua %s  server %s  user %s  up %s  %s\n", doc.Version, esc(doc.Server), esc(user),
		(time.Duration(doc.UptimeSeconds) * time.Second).String(), ready)
	if c := doc.Connecting; c != nil {
		fmt.Fprintf(w, "connecting to %s since %s (%d failed attempts)", esc(doc.Server), c.Since.Local().Format(time.DateTime), c.Attempts)
		if c.LastError != "" {
			fmt.Fprintf(w, "; last error at %s: %s", c.LastErrorAt.Local().Format(time.TimeOnly), esc(c.LastError))
		}
		fmt.Fprintf(w, "\nscripts: %s  state: %s\nno script is loaded until the server answers\n", esc(doc.ScriptsDir), esc(doc.StateDir))
		return
	}
	fmt.Fprintf(w, "event source: %s\nscripts: %s  state: %s\n", esc(src), esc(doc.ScriptsDir), esc(doc.StateDir))
	if doc.StoreWriteErrors > 0 {
		fmt.Fprintf(w, "state dir: %d writes refused by its file since the start (a full disk? see the log)\n", doc.StoreWriteErrors)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCRIPT\tSTATE\tVERSION\tSINCE\tCALLS\tERRORS\tTIMEOUTS\tMEMORY\tQUEUED\tTRIGGERS")
	scripts := append([]scriptDoc(nil), doc.Scripts...)
	sort.Slice(scripts, func(i, j int) bool { return scripts[i].Name < scripts[j].Name })
	for _, s := range scripts {
		state := s.State
		if s.BackedOffUntil != nil {
			state = fmt.Sprintf("backed off (step %d, until %s)", s.BackoffStep, s.BackedOffUntil.Local().Format(time.TimeOnly))
		}
		if s.FileBroken && s.State == runtime.StateRunning {
			state += " (file broken)" // an older version runs: see the last error
		}
		hash, since := "-", "-"
		if len(s.Hash) >= 12 {
			hash = s.Hash[:12]
		}
		if s.LoadedAt != nil {
			since = s.LoadedAt.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\n", esc(s.Name), esc(state), hash, since, s.Calls, s.Errors, s.Timeouts, s.MemoryStops, s.Queued, esc(strings.Join(s.Triggers, ", ")))
	}
	tw.Flush()
	for _, s := range scripts {
		if r := s.Running; r != nil {
			fmt.Fprintf(w, "\n%s: running %s for %s", esc(s.Name), esc(r.Trigger), max(0, doc.now().Sub(r.Since)).Round(time.Millisecond))
		}
		for _, t := range s.Timers {
			switch {
			case t.Next == nil:
			case s.BackedOffUntil != nil: // its ticks wait for the pause's end
				fmt.Fprintf(w, "\n%s: %s paused until %s (back-off)", esc(s.Name), esc(t.Trigger), s.BackedOffUntil.Local().Format(time.DateTime))
			default:
				fmt.Fprintf(w, "\n%s: next %s at %s (in %s)", esc(s.Name), esc(t.Trigger), t.Next.Local().Format(time.DateTime),
					max(0, t.Next.Sub(doc.now())).Round(time.Second))
			}
		}
		if s.LastError != "" {
			at := ""
			if s.LastErrorAt != nil {
				at = " at " + s.LastErrorAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(w, "\n%s: last error%s: %s", esc(s.Name), at, esc(s.LastError))
		}
		if s.Note != "" {
			fmt.Fprintf(w, "\n%s: note: %s", esc(s.Name), esc(s.Note))
		}
	}
	if len(scripts) > 0 {
		fmt.Fprintln(w)
	}
}
