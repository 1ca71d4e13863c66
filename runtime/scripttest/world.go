package scripttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/source"
	"github.com/rclua/rclua/runtime/store"
)

// Limits of one test.
const (
	// maxTicks bounds the timer ticks of one t.advance or t.set_time.
	maxTicks = 100_000
	// maxRounds bounds the rounds of subscription events one action
	// causes (a handler changing a subscription causes another round).
	maxRounds = 100
	// step is what the clock moves by before each round of events, so
	// that the changes of a round come strictly after the cursor.
	step = time.Millisecond
)

// world is one test's fake world: its clock, its fake server, the bot's
// client and the script under test. Only the goroutine running the test
// touches it.
type world struct {
	now     time.Time // the fake clock, in the test's zone
	srv     *rctest.Server
	bot     *rc.Client      // the harness's client, as the bot
	faults  *faults         // of the script's client, under rec
	rec     *recorder       // the script's client's transport: what it did
	http    *http.Transport // the script's, over loopback
	harness *http.Client    // the harness's and the users' (inProcess)
	script  *runtime.Script // nil after a t.restart whose load failed
	down    string          // why script is nil: the failed load's error
	load    func(ctx context.Context) (*runtime.Script, error)
	deps    runtime.Deps    // of load: deps.Settings is t.config's section (nil: rclua.toml's)
	store   *store.DB       // in memory, on the fake clock: the script's rc.store
	space   store.Namespace // the script's namespace of store
	logs    bytes.Buffer    // the script's log lines, JSON

	timers []timer
	cursor time.Time       // subscription changes up to here were delivered
	known  map[string]bool // subscription ids the script has seen exist

	errors []handlerFailure  // not yet returned by t.errors()
	caller func() string     // the test file's "file:line" running a t function ("" when unknown)
	rooms  map[string]string // room id -> label ("#general", "@alice")
	tokens map[string][2]string
}

// timer is one rc.every or rc.cron trigger of the script with its next
// due time (zero: never again).
type timer struct {
	trig luabind.Trigger
	sch  cron.Schedule // Cron: in the test's zone unless the spec names one
	next time.Time
}

// postedMsg, reaction and readCall are what the script did that the
// server accepted.
type postedMsg struct{ id, rid, text, thread string }
type reaction struct {
	id, emoji string
	on        bool
}
type readCall struct {
	rid         string
	unread      bool
	readThreads bool
	firstUnread string
}

// clock returns the fake clock's now.
func (w *world) clock() time.Time { return w.now }

// newWorld starts a fresh fake server on the clock at start and loads the
// script (path, content) against it, with settings as its section of
// settings (nil: its section of rclua.toml).
func newWorld(ctx context.Context, start time.Time, path string, content []byte, cfg runtime.Config, secrets map[string]string, settings map[string]any, account string) (*world, error) {
	w := &world{now: start, known: map[string]bool{}, rooms: map[string]string{}, tokens: map[string][2]string{}}
	if account == accountUser {
		// A personal token's account: the server's default rate limit
		// (facts §4: 10 calls per endpoint and method per address in 60 s),
		// on the fake clock, and no alias or avatar.
		w.srv = rctest.NewServer(rctest.WithClock(w.clock), rctest.WithRateLimit(10, time.Minute),
			rctest.WithRateLimitExempt(func(r *http.Request) bool { return r.RemoteAddr == elsewhere }))
	} else {
		w.srv = rctest.NewServer(rctest.WithClock(w.clock), rctest.WithBotRoles("bot")) // as --dev's bot
	}
	w.harness = &http.Client{Transport: inProcess{w.srv}}
	bot, err := rc.New(w.srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken), rc.WithHTTPClient(w.harness))
	if err != nil {
		w.srv.Close()
		return nil, fmt.Errorf("scripttest: the bot's client: %w", err)
	}
	w.bot = bot
	w.http = &http.Transport{}
	w.faults = &faults{base: w.http, left: map[string]*fault{}}
	w.rec = &recorder{base: w.faults, srv: w.srv}
	scriptClient, err := rc.New(w.srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken),
		rc.WithHTTPClient(&http.Client{Transport: w.rec}))
	if err != nil {
		w.srv.Close()
		return nil, fmt.Errorf("scripttest: the script's client: %w", err)
	}
	// The subscriptions that exist before the script loads.
	upd, _, err := w.subscriptionChanges(ctx, time.Time{})
	if err != nil {
		w.srv.Close()
		return nil, err
	}
	for _, s := range upd {
		w.known[s.id] = true
	}
	m := luabind.FromClient(scriptClient, zerolog.Nop())
	m.Bot = rc.UserRef{ID: rctest.BotUserID, Username: rctest.BotUsername}
	m.Posts = luabind.NewPostLimit(runtime.DefaultPostLimit, time.Minute, w.clock) // as the daemon's, on the fake clock
	w.store = store.OpenMemory(store.Options{Now: w.clock, SweepEvery: -1})        // expiries on the fake clock
	w.space = w.store.Namespace(runtime.ScriptName(path))
	m.Store = w.space
	log := zerolog.New(&w.logs)
	// The script's environment holds only the secrets t.secret gave.
	getenv := func(k string) string {
		name, ok := strings.CutPrefix(k, runtime.SecretEnvPrefix)
		if !ok {
			return ""
		}
		return secrets[strings.ToLower(name)]
	}
	w.deps = runtime.Deps{Module: m, Getenv: getenv, Settings: settings}
	w.load = func(ctx context.Context) (*runtime.Script, error) {
		return runtime.LoadScript(ctx, path, content, cfg, sandbox.Options{Clock: w.clock}, w.deps, log)
	}
	s, err := w.load(ctx)
	if err != nil {
		w.store.Close()
		w.srv.Close()
		return nil, err
	}
	w.started(s)
	w.cursor = w.now
	w.now = w.now.Add(step)
	return w, w.settle(ctx)
}

// started makes s the script under test and starts its timers from the
// clock's now (rc.every: one interval on; rc.cron: its next time).
func (w *world) started(s *runtime.Script) {
	w.script, w.down = s, ""
	w.timers = w.timers[:0]
	for _, t := range s.Timers() {
		tm := timer{trig: t}
		if t.Kind == luabind.Cron {
			tm.sch = inZone(t, w.now.Location())
			tm.next = tm.sch.Next(w.now)
		} else {
			tm.next = w.now.Add(t.Interval)
		}
		w.timers = append(w.timers, tm)
	}
}

// reload loads the script again in a fresh state (with w.deps), as the
// daemon does on a restart (restart) or on a change of its settings: the
// fake server, the store, the clock, the subscriptions the script has
// seen and what the test recorded stay; the top level runs again and the
// timers start again from now. A failed load keeps the running state on a
// settings change, as the daemon's reload does; on a restart the old state
// is closed first, so the script is then down (see world.down).
func (w *world) reload(ctx context.Context, restart bool) error {
	if restart && w.script != nil {
		w.script.Close()
		w.script, w.timers = nil, nil
	}
	s, err := w.load(ctx)
	if err != nil {
		if w.script == nil {
			w.down = err.Error()
		}
		return err
	}
	if w.script != nil {
		w.script.Close()
	}
	w.started(s)
	return w.settle(ctx)
}

// inZone is t's schedule, read in zone unless its spec names one
// (CRON_TZ= or TZ=): the daemon reads such specs in the process's zone,
// a test in its own.
func inZone(t luabind.Trigger, zone *time.Location) cron.Schedule {
	s, ok := t.Schedule.(*luabind.Schedule)
	if !ok || strings.HasPrefix(t.Spec, "CRON_TZ=") || strings.HasPrefix(t.Spec, "TZ=") {
		return t.Schedule
	}
	return s.In(zone)
}

// close ends the world: the script's state, then the server.
func (w *world) close() {
	if w.script != nil {
		w.script.Close()
	}
	w.store.Close()
	w.srv.Close()
	w.http.CloseIdleConnections()
}

// handlerFailure is the error of a handler and the test file's line whose
// t function made it run.
type handlerFailure struct {
	msg string // "file:line: message", of the script
	at  string // "file:line" of the test file; "" when unknown
}

// handlerFailed records the errors of handlers, with the test file's
// line that made them run.
func (w *world) handlerFailed(errs []error) {
	for _, err := range errs {
		f := handlerFailure{msg: err.Error()}
		if w.caller != nil {
			f.at = w.caller()
		}
		w.errors = append(w.errors, f)
	}
}

// advanceTo moves the clock to target, firing every timer due on the way
// in order of due time (registration order for the same time), each with
// the clock at its due time, and delivering the events its handler caused.
func (w *world) advanceTo(ctx context.Context, target time.Time) error {
	for ticks := 0; ; ticks++ {
		i := -1
		for j, t := range w.timers {
			if t.next.IsZero() || t.next.After(target) || w.script.TimerStopped(j) {
				continue
			}
			if i < 0 || t.next.Before(w.timers[i].next) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		if ticks == maxTicks {
			return fmt.Errorf("more than %d timer ticks: move the clock in smaller steps", maxTicks)
		}
		t := &w.timers[i]
		if t.next.After(w.now) {
			w.now = t.next
		}
		if t.sch != nil {
			t.next = t.sch.Next(t.next)
		} else {
			t.next = t.next.Add(t.trig.Interval)
		}
		if err := w.script.Tick(ctx, i); err != nil && !errors.Is(err, runtime.ErrTimerStopped) {
			w.handlerFailed([]error{err})
		}
		if err := w.settle(ctx); err != nil {
			return err
		}
	}
	if target.After(w.now) {
		w.now = target
	}
	return nil
}

// subChange is one entry of subscriptions.get.
type subChange struct {
	id  string
	raw json.RawMessage
}

// subscriptionChanges asks the server, as the bot, for the subscriptions
// changed and removed after since (zero: all).
func (w *world) subscriptionChanges(ctx context.Context, since time.Time) (upd, rem []subChange, err error) {
	body, err := w.bot.Subscriptions.GetRaw(ctx, &rc.GetSubscriptionsOptions{UpdatedSince: since})
	if err != nil {
		return nil, nil, fmt.Errorf("scripttest: subscriptions.get: %w", err)
	}
	var res struct{ Update, Remove []json.RawMessage }
	if err := json.Unmarshal(body, &res); err != nil {
		return nil, nil, fmt.Errorf("scripttest: subscriptions.get: %w", err)
	}
	id := func(raw json.RawMessage) string {
		var v struct {
			ID string `json:"_id"`
		}
		_ = json.Unmarshal(raw, &v)
		return v.ID
	}
	for _, r := range res.Update {
		upd = append(upd, subChange{id(r), r})
	}
	for _, r := range res.Remove {
		rem = append(rem, subChange{id(r), r})
	}
	return upd, rem, nil
}

// settle delivers the bot's subscription changes since the cursor as
// rc.on("subscription") events (inserted for a subscription not seen
// before, updated, removed), round after round while handlers cause more,
// as the daemon's event source would.
func (w *world) settle(ctx context.Context) error {
	for round := 0; ; round++ {
		if round == maxRounds {
			return fmt.Errorf("subscription events still coming after %d rounds: the handlers change subscriptions in a loop", maxRounds)
		}
		upd, rem, err := w.subscriptionChanges(ctx, w.cursor)
		if err != nil {
			return err
		}
		w.cursor = w.now
		w.now = w.now.Add(step)
		if len(upd)+len(rem) == 0 {
			return nil
		}
		for _, s := range upd {
			action := source.ActionUpdated
			if !w.known[s.id] {
				action = source.ActionInserted
				w.known[s.id] = true
			}
			w.handlerFailed(w.script.Handle(ctx, source.KindSubscription, action, s.raw))
		}
		for _, s := range rem {
			if !w.known[s.id] {
				continue // removed before the test saw it
			}
			delete(w.known, s.id)
			w.handlerFailed(w.script.Handle(ctx, source.KindSubscription, source.ActionRemoved, s.raw))
		}
	}
}

// userClient returns a client acting as username, with a new personal
// access token of the fake server.
func (w *world) userClient(ctx context.Context, username string) (*rc.Client, error) {
	cred, ok := w.tokens[username]
	if !ok {
		if _, err := w.bot.GetRaw(ctx, "users.info", url.Values{"username": {username}}); err != nil {
			return nil, fmt.Errorf("unknown user %q (the fake server has alice, bob, carol and admin)", username)
		}
		id, token := w.srv.CreateToken(username)
		cred = [2]string{id, token}
		w.tokens[username] = cred
	}
	return rc.New(w.srv.URL, rc.WithToken(cred[0], cred[1]), rc.WithHTTPClient(w.harness))
}

// The accounts a test's script may run as (t.account).
const (
	accountBot  = "bot"  // a bot account, as --dev's (the default): never rate limited
	accountUser = "user" // a user's personal access token: rate limited
)

// elsewhere is the address the fake server sees the test's own requests
// come from (the harness's reads as the bot, the users' posts): one of
// TEST-NET-1 (RFC 5737), which the script's client (over loopback) cannot
// have. The rate limit exempts it: it counts the script's calls alone.
const elsewhere = "192.0.2.1:40000"

// inProcess is the transport of the test's own requests: the fake
// server's handler serves them in the process, as if from elsewhere.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (res *http.Response, err error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	defer func() {
		// A handler that aborts (http.ErrAbortHandler: a dropped
		// connection) is, over HTTP, a failed request, not a crash.
		if p := recover(); p != nil {
			res, err = nil, fmt.Errorf("scripttest: %s %s: the server aborted the request: %v", r.Method, r.URL.Path, p)
		}
	}()
	in := r.Clone(r.Context())
	in.RemoteAddr = elsewhere
	in.RequestURI = r.URL.RequestURI()
	if in.Body == nil {
		in.Body = http.NoBody // as a server's request has
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, in)
	res = rec.Result()
	res.Request = r
	return res, nil
}

// channel is the chat.postMessage channel for a room a test names:
// "#name" and "@username" as they are, "name" as "#name".
func channel(room string) string {
	if strings.HasPrefix(room, "#") || strings.HasPrefix(room, "@") {
		return room
	}
	return "#" + room
}

// post posts text as username in room (thread: the thread's message id)
// and delivers it to the script's message handlers when the bot is in
// the room, then the subscription changes it caused. It returns the
// message as the server stored it (REST form).
func (w *world) post(ctx context.Context, username, room, text, thread string) (json.RawMessage, error) {
	c, err := w.userClient(ctx, username)
	if err != nil {
		return nil, err
	}
	body, err := c.Chat.PostMessageRaw(ctx, &rc.PostMessage{Channel: channel(room), Text: text, ThreadID: thread})
	if err != nil {
		var re *rc.Error
		if errors.As(err, &re) && re.Type == "invalid-channel" {
			return nil, fmt.Errorf("%s cannot post in %s: no such room (the fake server has #general, #random, #empty, #nosub, ops, "+
				"and a DM with each user: \"@alice\", \"@rclua.bot\"...): %w", username, room, err)
		}
		return nil, fmt.Errorf("%s cannot post in %s: %w", username, room, err)
	}
	return w.deliver(ctx, "chat.postMessage", username, source.ActionCreated, body)
}

// deliver takes the message of body, the answer of endpoint to username's
// post or edit, to the script's message handlers as action when the bot
// is in its room (never the bot's own), lets the subscription changes
// settle, and returns the message as the server stored it.
func (w *world) deliver(ctx context.Context, endpoint, username, action string, body []byte) (json.RawMessage, error) {
	var res struct {
		Message json.RawMessage
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Message) == 0 {
		return nil, fmt.Errorf("%s: no message in %s", endpoint, body)
	}
	var m struct {
		RID string `json:"rid"`
	}
	_ = json.Unmarshal(res.Message, &m)
	if _, member := w.srv.Subscription(rctest.BotUsername, m.RID); member && username != rctest.BotUsername {
		w.handlerFailed(w.script.Handle(ctx, source.KindMessage, action, res.Message))
	}
	return res.Message, w.settle(ctx)
}

// edit has username edit their message id in room rid to text, and
// delivers the edited message to the script's message handlers as
// "updated" when the bot is in the room (the stream sends an edit as the
// whole message, with editedAt), then the subscription changes (none:
// an edit changes no subscription, facts §2.7). It returns the message as
// the server stored it.
func (w *world) edit(ctx context.Context, username, rid, id, text string) (json.RawMessage, error) {
	c, err := w.userClient(ctx, username)
	if err != nil {
		return nil, err
	}
	body, err := c.Chat.UpdateRaw(ctx, &rc.UpdateMessage{RoomID: rid, MessageID: id, Text: text})
	if err != nil {
		return nil, fmt.Errorf("%s cannot edit %s: %w", username, id, err)
	}
	return w.deliver(ctx, "chat.update", username, source.ActionUpdated, body)
}

// roomLabel names a room as tests do: "#name" for a channel or a group,
// "@username" for a direct message (the member who is not the bot), the
// id when the server does not know it.
func (w *world) roomLabel(ctx context.Context, rid string) string {
	if l, ok := w.rooms[rid]; ok {
		return l
	}
	label := rid
	if body, err := w.bot.GetRaw(ctx, "rooms.info", url.Values{"roomId": {rid}}); err == nil {
		var res struct {
			Room struct {
				T         string   `json:"t"`
				Name      string   `json:"name"`
				Usernames []string `json:"usernames"`
			} `json:"room"`
		}
		if json.Unmarshal(body, &res) == nil {
			switch {
			case res.Room.T == "d":
				for _, u := range res.Room.Usernames {
					if u != rctest.BotUsername {
						label = "@" + u
					}
				}
			case res.Room.Name != "":
				label = "#" + res.Room.Name
			}
		}
	}
	w.rooms[rid] = label
	return label
}
