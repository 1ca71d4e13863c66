package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/realtime"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

const runHelp = `rclua run [flags]

Runs the daemon: loads every *.lua file of the scripts folder, runs the
triggers they register (rc.on, rc.every, rc.cron) and reloads a script when
its file changes. SIGHUP reloads every script; SIGINT and SIGTERM stop it,
letting running handlers finish within --shutdown-timeout.

The server and the bot's credentials come from the environment:
  RC_URL                       server address (or --url), e.g. https://chat.example.com
  RC_USER_ID + RC_TOKEN        a personal access token (recommended), or
  RC_USER + RC_PASSWORD        a password login (or RC_PASSWORD_FILE: a file holding it),
  RC_TOTP                      with a two-factor code when the account needs one
  RCLUA_SCRIPTS, RCLUA_EVENTS, RCLUA_LOG_LEVEL, RCLUA_LOG_FORMAT   defaults for the flags of the same name
  RCLUA_SECRETS_DIR (or CREDENTIALS_DIRECTORY)   default of --secrets-dir
  RCLUA_SECRET_<NAME>   the secret <name> for rc.secret (before --secrets-dir)

With --dev, rclua starts a fake Rocket.Chat server in the process (demo users,
rooms and simulated activity) and runs the scripts against it: no server or
credentials needed.
`

// runOptions are the flags of "rclua run".
type runOptions struct {
	url             string
	scripts         string
	events          string
	catchUp         time.Duration
	pollInterval    time.Duration
	debounce        time.Duration
	loadTimeout     time.Duration
	handlerTimeout  time.Duration
	shutdownTimeout time.Duration
	memory          memoryFlags
	postLimit       postLimit
	dev             bool
	devAddr         string
	devActivity     time.Duration
	secretsDir      string
	adminAddr       string
	explicitAdmin   bool // --admin-addr or its variable was given
	log             logFlags
	state           stateFlags
	stateDir        string // resolved absolute state dir; "" with --dev: a temporary one
}

// runFlags returns the flag set of "rclua run" and the options it fills;
// getenv gives the defaults taken from the environment.
func runFlags(getenv func(string) string) (*flag.FlagSet, *runOptions) {
	fs := newFlagSet("run", runHelp)
	o := &runOptions{}
	fs.StringVar(&o.url, "url", "", "Rocket.Chat server address (env "+envURL+")")
	fs.StringVar(&o.scripts, "scripts", envOr(getenv, envScripts, defaultScripts), "scripts folder (env "+envScripts+")")
	fs.StringVar(&o.events, "events", envOr(getenv, envEvents, defaultEvents), "how rc.on handlers learn of changes: auto (the realtime API, or polling when the server does not upgrade to a websocket), realtime or poll (env "+envEvents+")")
	durationVar(fs, &o.catchUp, "catch-up", defaultCatchUp, "how far back (a `duration`) the changes and messages missed while the realtime API was disconnected, or rclua stopped, are still delivered; older ones are skipped")
	durationVar(fs, &o.pollInterval, "poll-interval", defaultPollInterval, "`duration` between two polls of the subscriptions for rc.on handlers (and, while --events auto polls, of the messages of the rooms that changed), at least 1s (--dev lowers the default to 2s)")
	durationVar(fs, &o.debounce, "debounce", defaultDebounce, "`duration` of quiet after a file change before reloading it")
	durationVar(fs, &o.loadTimeout, "load-timeout", defaultLoadTimeout, "`duration` allowed for a script's top level at load")
	durationVar(fs, &o.handlerTimeout, "handler-timeout", defaultHandlerTimeout, "`duration` allowed for each handler call")
	durationVar(fs, &o.shutdownTimeout, "shutdown-timeout", defaultShutdownTimeout, "on SIGINT/SIGTERM, the `duration` running handlers may take to finish")
	o.memory.register(fs, getenv, "running handlers are")
	postLimitVar(fs, &o.postLimit)
	fs.BoolVar(&o.dev, "dev", false, "run against a fake Rocket.Chat server started in the process")
	fs.StringVar(&o.devAddr, "dev-addr", "", "address of the --dev server (default 127.0.0.1:3000, or a free port if that is busy)")
	durationVar(fs, &o.devActivity, "dev-activity", defaultDevActivity, "with --dev, the `duration` between two messages of the demo users, at least 100ms")
	secretsDirVar(fs, &o.secretsDir, getenv)
	fs.StringVar(&o.adminAddr, "admin-addr", envOr(getenv, envAdminAddr, defaultAdminAddr), "`host:port` of the admin HTTP endpoint (/healthz, /readyz, /metrics, /status), or off (env "+envAdminAddr+")")
	o.log.register(fs, getenv)
	o.state.register(fs, getenv, true)
	return fs, o
}

// Floors of the daemon's duration flags.
const (
	minPollInterval = time.Second
	minDevActivity  = 100 * time.Millisecond
)

func cmdRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, o := runFlags(getenv)
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("run: unexpected argument %q (see rclua run --help)", fs.Arg(0))
	}
	if o.dev && !flagWasSet(fs, "poll-interval") {
		o.pollInterval = defaultDevPollInterval
	}
	// Every problem is collected and reported at once.
	log, logErr := o.log.newLogger(stderr)
	errs := []error{
		checkDurations(
			durationRule{name: "poll-interval", d: o.pollInterval, min: minPollInterval, why: "each poll is a request to the server"},
			durationRule{name: "catch-up", d: o.catchUp},
			durationRule{name: "debounce", d: o.debounce},
			durationRule{name: "load-timeout", d: o.loadTimeout},
			durationRule{name: "handler-timeout", d: o.handlerTimeout},
			durationRule{name: "shutdown-timeout", d: o.shutdownTimeout},
			durationRule{name: "dev-activity", d: o.devActivity, min: minDevActivity, why: "each tick posts a message on the fake server"},
		),
		checkMemoryLimit(o.memory.limit),
		checkEvents(o.events),
		logErr,
		checkScriptsDir(o.scripts),
		checkAdminAddr(o.adminAddr),
		checkStoreLimit(o.state.limit),
	}
	var stateErr error
	o.stateDir, stateErr = resolveStateDir(o.state.dir, getenv, o.scripts, o.dev)
	errs = append(errs, stateErr)
	var (
		baseURL string
		creds   credentials
	)
	if o.dev {
		if o.url != "" {
			errs = append(errs, usagef("--dev and --url contradict each other: --dev runs its own fake server (use --dev-addr to choose its address)"))
		}
		errs = append(errs, checkDevAddr(o.devAddr))
	} else {
		for _, name := range []string{"dev-addr", "dev-activity"} {
			if flagWasSet(fs, name) {
				errs = append(errs, usagef("--%s needs --dev", name))
			}
		}
		var err error
		baseURL, creds, err = loadConnection(getenv, o.url)
		errs = append(errs, err)
	}
	if err := problems(errs...); err != nil {
		return err
	}
	if o.dev && (getenv(envURL) != "" || getenv(envUserID) != "" || getenv(envUser) != "") {
		log.Info().Msg("--dev: ignoring RC_URL and the credentials in the environment")
	}
	o.explicitAdmin = flagWasSet(fs, "admin-addr") || getenv(envAdminAddr) != ""
	return daemon(ctx, *o, baseURL, creds, log)
}

// checkScriptsDir fails clearly when the scripts folder is missing, is not
// a folder or cannot be read.
func checkScriptsDir(dir string) error {
	const set = "set --scripts (or " + envScripts + ")"
	if dir == "" {
		return usagef("the scripts folder's name is empty: %s to a folder of *.lua files", set)
	}
	if strings.TrimSpace(dir) != dir {
		return usagef("scripts folder %q has white space around it (a line break from an env file?): %s to the folder's name", dir, set)
	}
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return usagef("scripts folder %s does not exist: create it or %s", dir, set)
	}
	if err != nil {
		return usagef("scripts folder: %v", err)
	}
	if !st.IsDir() {
		return usagef("scripts folder %s is not a folder: %s to a folder of *.lua files", dir, set)
	}
	f, err := os.Open(dir)
	if err == nil {
		_, err = f.Readdirnames(1)
		f.Close()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return usagef("scripts folder %s cannot be read: %v", dir, pathErr(err))
	}
	return nil
}

// checkEvents checks --events.
func checkEvents(mode string) error {
	switch mode {
	case eventsAuto, eventsRealtime, eventsPoll:
		return nil
	}
	return usagef("--events %q: want auto, realtime or poll (--events or %s)", mode, envEvents)
}

// checkDevAddr checks --dev-addr: host:port, port 0 for a free one, "" for
// the default.
func checkDevAddr(addr string) error {
	if addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 {
		return usagef("--dev-addr %q: want host:port with a port from 0 (a free one) to 65535, e.g. 127.0.0.1:3000", addr)
	}
	return nil
}

// pathErr drops the path an *fs.PathError repeats, since the message names
// it already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// daemon runs the script host until ctx ends (SIGINT/SIGTERM).
func daemon(ctx context.Context, o runOptions, baseURL string, creds credentials, log zerolog.Logger) error {
	// Take SIGHUP before anything else: from here on it reloads, never kills.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The store first: its file lock keeps a second daemon off the state
	// dir before it connects to anything.
	db, closeStore, err := openStore(ctx, o.stateDir, o.state.storeOptions(), log)
	if err != nil {
		return err
	}
	defer closeStore()
	log.Info().Str("state_dir", filepath.Dir(db.Path())).Msg("store opened")

	var dev *devServer
	if o.dev {
		var err error
		dev, err = startDev(o.devAddr, log)
		if err != nil {
			return err
		}
		defer dev.close()
		baseURL, creds = dev.url(), dev.credentials()
		if o.stateDir == "" { // a temporary state dir: the control commands need its name
			log.Info().Msg("--dev: control this daemon with: rclua status --state-dir " + filepath.Dir(db.Path()) +
				" (and reload, disable, enable, store with the same --state-dir)")
		}
	}

	// The status and metrics of the running daemon (admin.go).
	// The admin endpoint serves from here on, so /healthz answers and
	// /readyz says "connecting" while the server is being reached.
	stateDir := filepath.Dir(db.Path()) // --dev's temporary one too
	scriptsDir, err := filepath.Abs(o.scripts)
	if err != nil {
		return fmt.Errorf("scripts folder: %w", err)
	}
	keeper := newAuthKeeper(creds, baseURL, log)
	state := &daemonState{server: baseURL, stateDir: stateDir, scriptsDir: scriptsDir, keeper: keeper, store: db, started: time.Now(), now: time.Now}
	state.heartbeat()
	mets := newMetrics(state.status)
	stopAdmin, err := serveAdmin(ctx, o.adminAddr, o.explicitAdmin, adminHandler(state, mets), log)
	if err != nil {
		return err
	}
	defer stopAdmin()
	// The control socket too: rclua status says "connecting" (and why)
	// while the server is being reached, enable and disable are saved for
	// the load, and rclua store reads the store, open already.
	stopControl, err := serveControl(stateDir, withStoreRoutes(controlHandler(state, log), db), log)
	if err != nil {
		return err
	}
	defer stopControl()
	client, err := newClient(baseURL, creds, true, keeper, rc.WithObserver(mets.rcObserver()))
	if err != nil {
		return err
	}
	log.Info().Str("server", baseURL).Str("auth", creds.String()).Str("version", versionString()).Msg("connecting")
	me, err := connect(ctx, client, creds, baseURL, connectBackoff(), log, func(attempt int, err error) {
		state.connectFailed(attempt, err, creds.token, creds.password, creds.totp)
	})
	if err != nil {
		return err
	}
	if me == nil { // stopped while waiting for the server
		log.Info().Msg("stopped before the server answered")
		return nil
	}
	defer func() {
		if keeper.failed() == nil { // a lost session has nothing to log out
			logout(ctx, client, creds, log)
		}
	}()

	defer o.memory.apply()()
	cfg := runtime.Config{
		ScriptsDir:      scriptsDir,
		Debounce:        o.debounce,
		LoadTimeout:     o.loadTimeout,
		HandlerTimeout:  o.handlerTimeout,
		ShutdownTimeout: o.shutdownTimeout,
		MemoryLimit:     int64(o.memory.limit),
		PostLimit:       int(o.postLimit),
		SecretsDir:      o.secretsDir,
	}
	// The event cursors live in the store, so a restart catches up on what
	// changed while the daemon was down (within --catch-up). Not with
	// --dev: every start has a new fake server, which a cursor of the last
	// one does not describe (in memory, a source started again in this
	// process still resumes).
	var cursors source.Cursors = db
	if o.dev {
		cursors = &source.MemCursors{}
	}
	events := eventSource(o, baseURL, client, me.ID, cursors, source.PollOptions{
		Interval: o.pollInterval, Log: log,
		// The keeper decides when the credentials are lost (a refused
		// token, a refused new login, sessions ended again and again); the
		// daemon then stops on keeper.lost. A 401 it did not judge lost (a
		// permission denial on 9.x, a new session ended once) is retried,
		// and a login the realtime API refused is followed by a REST query,
		// which renews a password session or makes the keeper judge.
		Fatal: func(error) bool { return keeper.failed() != nil },
	})
	module := luabind.FromClient(client, log)
	module.Bot = rc.UserRef{ID: me.ID, Username: me.Username} // the message triggers know the bot's messages
	deps := runtime.Deps{Module: module, Sources: []source.Source{events}, Observer: mets, Store: db}
	// The disabled set is read as the host is attached, with no change
	// of it in between: one queued while connecting applies at the load.
	host, err := state.attachNew(func() (*runtime.Host, error) {
		disabled, err := loadDisabled(stateDir)
		if err != nil {
			return nil, err
		}
		cfg.Disabled = disabled
		host, err := runtime.New(cfg, deps, log)
		if err != nil {
			return nil, fmt.Errorf("script host: %w", err)
		}
		return host, nil
	}, events, me.Username)
	if err != nil {
		return err
	}
	beat := time.NewTicker(beatEvery)
	defer beat.Stop()

	hostCtx, stopHost := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHost()
	done := make(chan error, 1)
	go func() { done <- host.Run(hostCtx) }()
	// The loop's beat is the host's own liveness stamp once it has one, so
	// /healthz goes stale when the host is stuck, not only this loop.
	hostBeat := func() {
		if alive := host.Alive(); !alive.IsZero() {
			state.beat.Store(alive.UnixNano())
			return
		}
		state.heartbeat()
	}

	// Each script whose message triggers cannot fire is warned of once,
	// and told when they can again (auto back to realtime).
	noted := map[string]messageNote{}
	warnNotes := func() {
		_, src, _, _ := state.attached()
		list := host.Status()
		notes := messageNotes(src, list)
		for name, n := range notes {
			if noted[name] != n {
				log.Warn().Str("script", name).Str("trigger", n.trigger).Str("why", n.why).Msg("this script's message triggers never fire")
			}
		}
		if len(notes) == 0 { // the source delivers messages (again)
			for _, st := range list {
				if _, was := noted[st.Name]; was && slices.Contains(st.Listens, source.KindMessage) {
					log.Info().Str("script", st.Name).Msg("this script's message triggers fire again")
				}
			}
		}
		noted = notes
	}

	// stopErr is why the daemon stops on its own: the credentials were
	// lost (exit status 3). nil: a signal stops it (exit status 0).
	var stopErr error
	for loading := true; loading; {
		loading = false
		select {
		case <-beat.C:
			hostBeat()
			loading = true
		case <-host.Loaded():
			logStartup(log, baseURL, me.Username, scriptsDir, host.Status())
			warnNotes()
			if dev != nil {
				dev.startActivity(o.devActivity)
			}
		case err := <-done:
			return hostEnded(err, keeper)
		case <-keeper.lost:
			stopErr = keeper.failed()
		case <-ctx.Done():
		}
	}

	for ctx.Err() == nil && stopErr == nil {
		select {
		case <-beat.C:
			hostBeat()
			warnNotes()
		case <-hup:
			log.Info().Msg("SIGHUP: reloading every script")
			host.ReloadAll()
		case err := <-done:
			return hostEnded(err, keeper)
		case <-keeper.lost:
			stopErr = keeper.failed()
		case <-ctx.Done():
		}
	}

	if stopErr != nil {
		log.Error().Err(stopErr).Msg("the server refused the credentials: stopping")
	}
	state.beginStop()
	log.Info().Stringer("shutdown_timeout", o.shutdownTimeout).Strs("running", runningCalls(host)).
		Msg("stopping: no new events; letting running handlers finish")
	stopHost()
	// The host cancels handlers still running after the shutdown timeout;
	// the margin covers closing their states and the watcher.
	t := time.NewTimer(o.shutdownTimeout + time.Second)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) && stopErr == nil {
			log.Warn().Err(err).Msg("script host stopped with an error")
		}
		log.Info().Msg("stopped")
	case <-t.C:
		log.Warn().Stringer("shutdown_timeout", o.shutdownTimeout).Strs("running", runningCalls(host)).
			Msg("handlers still running after the shutdown timeout; exiting anyway")
	}
	return stopErr
}

// runningCalls names the calls the scripts run now, for the shutdown's
// log lines: "script: trigger (for 2s)".
func runningCalls(h *runtime.Host) []string {
	calls := h.Running()
	names := make([]string, 0, len(calls))
	for _, c := range calls {
		names = append(names, fmt.Sprintf("%s: %s (for %s)", c.Script, c.Trigger, time.Since(c.Since).Round(time.Second)))
	}
	return names
}

// eventSource is the source of rc.on events --events names: a Poll, or a
// Realtime logging in with the client's current token through its HTTP
// client (TLS and proxy settings), polling as its fallback for auto, with
// the messages of every room but the bot's (botID) own. cursors, when not
// nil, keeps its cursor across restarts, for this server and bot only: a
// restart catches up within --catch-up.
func eventSource(o runOptions, baseURL string, client *rc.Client, botID string, cursors source.Cursors, poll source.PollOptions) source.Source {
	if cursors != nil {
		poll.Cursors, poll.CursorName = cursors, source.CursorName(baseURL, botID)
	}
	poll.CatchUp = o.catchUp
	if o.events == eventsPoll {
		return source.NewPoll(client.Subscriptions, poll)
	}
	return source.NewRealtime(client.Subscriptions, source.RealtimeOptions{
		URL:   baseURL,
		Token: func() string { _, tok := client.AuthToken(); return tok },
		Dial: []realtime.Option{realtime.WithHTTPClient(client.HTTPClient()),
			realtime.WithUserAgent(userAgent())},
		Fallback: o.events == eventsAuto,
		UserID:   botID,
		History:  client.Chat,
		Rooms:    client.Rooms,
		CatchUp:  o.catchUp,
		Poll:     poll,
	})
}

// hostEnded is the error for a host that stopped on its own: the refusal
// of the credentials when that stopped it (its poller got a 401 it could
// not renew), else the host's error.
func hostEnded(err error, keeper *authKeeper) error {
	if lost := keeper.failed(); lost != nil {
		return lost
	}
	if errors.Is(err, rc.ErrUnauthorized) {
		keeper.lose(err)
		return keeper.failed()
	}
	if err != nil {
		return fmt.Errorf("script host: %w", err)
	}
	return errors.New("script host stopped unexpectedly")
}

// logStartup writes the start-up line: server (never a secret), scripts
// folder and the scripts loaded.
func logStartup(log zerolog.Logger, server, username, dir string, status []runtime.ScriptStatus) {
	var loaded, failed, disabled []string
	for _, s := range status {
		switch s.State {
		case runtime.StateRunning:
			loaded = append(loaded, s.Name)
		case runtime.StateDisabled: // an operator's choice, not a failure
			disabled = append(disabled, s.Name)
		default:
			failed = append(failed, s.Name)
		}
	}
	ev := log.Info()
	if len(failed) > 0 {
		ev = log.Warn()
	}
	ev = ev.Str("server", server).
		Str("user", username).
		Str("scripts_dir", dir).
		Int("loaded", len(loaded)).
		Str("scripts", strings.Join(loaded, ","))
	if len(failed) > 0 {
		ev = ev.Int("failed", len(failed)).Str("failed_scripts", strings.Join(failed, ","))
	}
	if len(disabled) > 0 {
		ev = ev.Int("disabled", len(disabled)).Str("disabled_scripts", strings.Join(disabled, ","))
	}
	ev.Msg("rclua started")
	if len(status) == 0 {
		log.Warn().Str("scripts_dir", dir).Msg("no *.lua scripts in the scripts folder yet: add one there, it loads on its own (see the examples in scripts/)")
	}
}
