package scripttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// table builds the t table of the test file's state.
func (r *runner) table() *lua.LTable {
	L := r.L
	fns := map[string]lua.LGFunction{
		"start":                r.tStart,
		"secret":               r.tSecret,
		"account":              r.tAccount,
		"config":               r.tConfig,
		"restart":              r.tRestart,
		"post":                 r.tPost,
		"edit":                 r.tEdit,
		"subscribe":            r.tSubscribe,
		"subscription_changed": r.tSubscriptionChanged,
		"subscription_removed": r.tSubscriptionRemoved,
		"advance":              r.tAdvance,
		"set_time":             r.tSetTime,
		"now":                  r.tNow,
		"fail":                 r.tFail,
		"posted":               r.tPosted,
		"reactions":            r.tReactions,
		"reads":                r.tReads,
		"logs":                 r.tLogs,
		"errors":               r.tErrors,
		"store":                r.tStore,
		"eq":                   tEq,
		"ne":                   tNe,
		"ok":                   tOk,
		"contains":             tContains,
	}
	t := L.CreateTable(0, len(fns))
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	luabind.Strict(L, t, "t") // t.postd raises naming t.post, not "attempt to call a nil value"
	return t
}

// fail raises "file:line: msg" at the caller of the t function.
func fail(L *lua.LState, format string, args ...any) {
	L.RaiseError(format, args...)
}

// world returns the running test's world; outside a test it raises.
func (r *runner) world(L *lua.LState, fn string) *world {
	if r.w == nil {
		fail(L, "%s: only inside a test_* function", fn)
	}
	return r.w
}

// running returns the running test's world for fn, a t function that
// drives the script; it raises when there is no test or when the script
// is down (a t.restart whose load failed).
func (r *runner) running(L *lua.LState, fn string) *world {
	w := r.world(L, fn)
	if w.script == nil {
		fail(L, "%s: the script under test is not running: it did not load at t.restart (%s)", fn, w.down)
	}
	return w
}

// parseTime reads a time as tests write it: "2026-12-07T09:00:00" (in
// zone), with seconds or minutes only, a date alone, or with "Z" or an
// offset.
func parseTime(s string, zone *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(zone), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q: want \"2026-12-07T09:00:00\" (in the test's zone) or with Z or an offset", s)
}

// tStart is t.start(time [, zone]): at the test file's top level, where
// every test's clock starts and the zone it reads local times in.
func (r *runner) tStart(L *lua.LState) int {
	if r.w != nil {
		fail(L, "t.start: only at the test file's top level (it sets every test's start)")
	}
	zone := r.start.Location()
	if name := L.OptString(2, ""); name != "" {
		z, err := time.LoadLocation(name)
		if err != nil {
			fail(L, "t.start: unknown time zone %q", name)
		}
		zone = z
	}
	at, err := parseTime(L.CheckString(1), zone)
	if err != nil {
		fail(L, "t.start: %v", err)
	}
	r.start = at
	return 0
}

// tSecret is t.secret(name, value): at the test file's top level, a
// secret every test's script finds as rc.secret(name) finds it in the
// daemon (as if RCLUA_SECRET_<NAME> were set): only a name the script's
// section of rclua.toml allows is handed out, and the value is redacted
// from what the script logs.
func (r *runner) tSecret(L *lua.LState) int {
	if r.w != nil {
		fail(L, "t.secret: only at the test file's top level (the script reads its secrets as it loads)")
	}
	name, value := L.CheckString(1), L.CheckString(2)
	if err := runtime.CheckSecretName(name); err != nil {
		fail(L, "t.secret: %v", err)
	}
	if r.secrets == nil {
		r.secrets = map[string]string{}
	}
	r.secrets[name] = value
	return 0
}

// tAccount is t.account(kind): at the test file's top level, the account
// the script runs as: "bot" (the default, as --dev's: a bot account is
// never rate limited) or "user" (a user's personal access token: the
// fake server applies Rocket.Chat's default rate limit to the script's
// calls, 10 per endpoint and method in 60 s of the fake clock, and
// refuses alias and avatar).
func (r *runner) tAccount(L *lua.LState) int {
	if r.w != nil {
		fail(L, "t.account: only at the test file's top level (it sets every test's account)")
	}
	switch kind := L.CheckString(1); kind {
	case accountBot, accountUser:
		r.account = kind
	default:
		fail(L, "t.account: unknown account %q: want \"bot\" or \"user\"", kind)
	}
	return 0
}

// options reads the table argument of fn, refusing keys not in allowed.
func options(L *lua.LState, fn string, allowed ...string) map[string]string {
	tb := L.CheckTable(1)
	out := map[string]string{}
	tb.ForEach(func(k, v lua.LValue) {
		key := k.String()
		ok := false
		for _, a := range allowed {
			ok = ok || a == key
		}
		if !ok {
			fail(L, "%s: unknown option %q (known: %s)", fn, key, strings.Join(allowed, ", "))
		}
		s, isStr := v.(lua.LString)
		if !isStr {
			fail(L, "%s: option %q: string expected, got %s", fn, key, v.Type())
		}
		out[key] = string(s)
	})
	return out
}

// tPost is t.post{room =, text =, user = "alice", thread = msg_id}.
func (r *runner) tPost(L *lua.LState) int {
	w := r.running(L, "t.post")
	o := options(L, "t.post", "room", "text", "user", "thread")
	if o["room"] == "" || o["text"] == "" {
		fail(L, "t.post: room and text are required")
	}
	user := o["user"]
	if user == "" {
		user = rctest.AliceUsername
	}
	raw, err := w.post(ctxOf(L), user, o["room"], o["text"], o["thread"])
	return pushMessage(L, "t.post", raw, err)
}

// pushMessage pushes the message raw that fn's request returned, or
// fails with its error.
func pushMessage(L *lua.LState, fn string, raw []byte, err error) int {
	var v lua.LValue
	if err == nil {
		v, err = luajson.DecodeBytes(L, raw)
	}
	if err != nil {
		fail(L, "%s: %v", fn, err)
	}
	L.Push(v)
	return 1
}

// tEdit is t.edit(msg, text): the author of msg (a message t.post
// returned) edits it to text; the script's message handlers get the
// edited message as "updated" (rc.hear and rc.respond skip edits). It
// returns the edited message.
func (r *runner) tEdit(L *lua.LState) int {
	w := r.running(L, "t.edit")
	msg := L.CheckTable(1)
	text := L.CheckString(2)
	id, _ := msg.RawGetString("_id").(lua.LString)
	rid, _ := msg.RawGetString("rid").(lua.LString)
	var author lua.LString
	if u, ok := msg.RawGetString("u").(*lua.LTable); ok {
		author, _ = u.RawGetString("username").(lua.LString)
	}
	if id == "" || rid == "" || author == "" {
		fail(L, "t.edit: a message t.post returned expected (with _id, rid and u.username)")
	}
	raw, err := w.edit(ctxOf(L), string(author), string(rid), string(id), text)
	return pushMessage(L, "t.edit", raw, err)
}

// roomID resolves a room a test names ("#general", "general", a room id)
// into its id, through rooms.info as the bot.
func (w *world) roomID(L *lua.LState, fn, room string) string {
	name := strings.TrimPrefix(room, "#")
	for _, q := range []string{"roomName", "roomId"} {
		body, err := w.bot.GetRaw(ctxOf(L), "rooms.info", map[string][]string{q: {name}})
		if err != nil {
			continue
		}
		var res struct {
			Room struct {
				ID string `json:"_id"`
			} `json:"room"`
		}
		if json.Unmarshal(body, &res) == nil && res.Room.ID != "" {
			return res.Room.ID
		}
	}
	fail(L, "%s: unknown room %q", fn, room)
	return ""
}

// tSubscribe is t.subscribe(room): the bot joins room (its subscription
// is inserted).
func (r *runner) tSubscribe(L *lua.LState) int {
	w := r.running(L, "t.subscribe")
	rid := w.roomID(L, "t.subscribe", L.CheckString(1))
	if err := w.srv.AddSubscription(rctest.BotUsername, rid); err != nil {
		fail(L, "t.subscribe: %v", err)
	}
	r.settle(L, w, "t.subscribe")
	return 0
}

// tSubscriptionChanged is t.subscription_changed(room): the script gets
// the bot's subscription of room, as the server has it now, as an
// "updated" event (a snapshot delivered again, as after a reconnect).
func (r *runner) tSubscriptionChanged(L *lua.LState) int {
	const fn = "t.subscription_changed"
	w := r.running(L, fn)
	rid := w.roomID(L, fn, L.CheckString(1))
	body, err := w.bot.Subscriptions.GetOneRaw(ctxOf(L), rid)
	if err != nil {
		fail(L, "%s: %v", fn, err)
	}
	var res struct {
		Subscription json.RawMessage `json:"subscription"`
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Subscription) == 0 || string(res.Subscription) == "null" {
		fail(L, "%s: the bot has no subscription of %s", fn, L.CheckString(1))
	}
	w.handlerFailed(w.script.Handle(ctxOf(L), source.KindSubscription, source.ActionUpdated, res.Subscription))
	r.settle(L, w, fn)
	return 0
}

// tSubscriptionRemoved is t.subscription_removed(room): the bot leaves
// room (its subscription is removed).
func (r *runner) tSubscriptionRemoved(L *lua.LState) int {
	const fn = "t.subscription_removed"
	w := r.running(L, fn)
	rid := w.roomID(L, fn, L.CheckString(1))
	if err := w.srv.RemoveSubscription(rctest.BotUsername, rid); err != nil {
		fail(L, "%s: %v", fn, err)
	}
	r.settle(L, w, fn)
	return 0
}

func (r *runner) settle(L *lua.LState, w *world, fn string) {
	if err := w.settle(ctxOf(L)); err != nil {
		fail(L, "%s: %v", fn, err)
	}
}

// tAdvance is t.advance(duration): the clock moves on, firing the timers
// due on the way.
func (r *runner) tAdvance(L *lua.LState) int {
	w := r.running(L, "t.advance")
	d, err := luabind.ParseDuration(L.Get(1), "duration")
	if err != nil || d < 0 {
		if err == nil {
			err = fmt.Errorf("negative duration %v: the clock only moves forward", d)
		}
		fail(L, "t.advance: %v", err)
	}
	if err := w.advanceTo(ctxOf(L), w.now.Add(d)); err != nil {
		fail(L, "t.advance: %v", err)
	}
	return 0
}

// tSetTime is t.set_time(time): the clock moves on to time, firing the
// timers due on the way.
func (r *runner) tSetTime(L *lua.LState) int {
	w := r.running(L, "t.set_time")
	at, err := parseTime(L.CheckString(1), w.now.Location())
	if err != nil {
		fail(L, "t.set_time: %v", err)
	}
	if at.Before(w.now) {
		fail(L, "t.set_time: %s is before the clock's now (%s): the clock only moves forward", L.CheckString(1), w.now.Format(time.RFC3339))
	}
	if err := w.advanceTo(ctxOf(L), at); err != nil {
		fail(L, "t.set_time: %v", err)
	}
	return 0
}

// tNow is t.now(): the fake clock in Unix seconds (what os.time() gives).
func (r *runner) tNow(L *lua.LState) int {
	L.Push(lua.LNumber(r.now().Unix()))
	return 1
}

// tFail is t.fail(endpoint, status [, error [, times]]): the script's
// requests to endpoint are answered with status and
// {"success":false,"error":error} (times requests; absent: until the
// test ends), before the test server sees them: an endpoint it does not
// serve (rc.get("channels.members")) can fail too. A 429 carries
// X-RateLimit-Reset a minute ahead. A name no request of the script can
// have is refused: one with the /api/v1/ prefix, and a near miss of an
// endpoint the server serves (another case, a typo), which would let the
// test pass without testing the failure.
func (r *runner) tFail(L *lua.LState) int {
	w := r.world(L, "t.fail")
	endpoint := L.CheckString(1)
	if known := rctest.Endpoints(); !slices.Contains(known, endpoint) {
		bare := strings.TrimPrefix(strings.TrimPrefix(endpoint, "/"), "api/v1/")
		near := bare
		if !slices.Contains(known, bare) {
			near = luabind.Suggest(bare, known)
		}
		if near != "" {
			fail(L, "t.fail: unknown endpoint %q (did you mean %s?)", endpoint, near)
		}
		if err := rc.CheckEndpoint(endpoint); err != nil || bare != endpoint {
			fail(L, "t.fail: endpoint %q: give it as the script's requests name it (%q)", endpoint, bare)
		}
	}
	status := L.CheckInt(2)
	if status < 400 || status > 599 {
		fail(L, "t.fail: status %d is not an HTTP error status (400-599)", status)
	}
	msg := L.OptString(3, http.StatusText(status))
	body, _ := json.Marshal(map[string]any{"success": false, "error": msg})
	times := L.OptInt(4, 0)
	if times < 0 {
		fail(L, "t.fail: times %d: want a count of requests, or nothing for every request", times)
	}
	w.faults.set(endpoint, status, body, times)
	return 0
}

// list pushes a new sequence of the rows built by row.
func list[T any](L *lua.LState, rows []T, row func(*lua.LTable, T)) int {
	out := L.CreateTable(len(rows), 0)
	for _, x := range rows {
		tb := L.CreateTable(0, 4)
		row(tb, x)
		out.Append(tb)
	}
	L.Push(out)
	return 1
}

// tPosted is t.posted(): the messages the script posted, oldest first:
// {room = "#general" | "@alice", text = ..., thread = tmid (absent
// outside a thread)}.
func (r *runner) tPosted(L *lua.LState) int {
	w := r.world(L, "t.posted")
	posted, _, _ := w.rec.records()
	return list(L, posted, func(tb *lua.LTable, m postedMsg) {
		tb.RawSetString("room", lua.LString(w.roomLabel(ctxOf(L), m.rid)))
		tb.RawSetString("text", lua.LString(m.text))
		if m.thread != "" {
			tb.RawSetString("thread", lua.LString(m.thread))
		}
	})
}

// tReactions is t.reactions(): the script's reactions, {message = id,
// emoji = "rocket", removed = true (absent when added)}.
func (r *runner) tReactions(L *lua.LState) int {
	w := r.world(L, "t.reactions")
	_, reactions, _ := w.rec.records()
	return list(L, reactions, func(tb *lua.LTable, x reaction) {
		tb.RawSetString("message", lua.LString(x.id))
		tb.RawSetString("emoji", lua.LString(strings.Trim(x.emoji, ":")))
		if !x.on {
			tb.RawSetString("removed", lua.LTrue)
		}
	})
}

// tReads is t.reads(): the rooms the script marked read ({room =,
// read_threads = true (absent when not asked)}) or unread ({room =,
// unread = true}, or {message = id, unread = true}).
func (r *runner) tReads(L *lua.LState) int {
	w := r.world(L, "t.reads")
	_, _, reads := w.rec.records()
	return list(L, reads, func(tb *lua.LTable, x readCall) {
		if x.rid != "" {
			tb.RawSetString("room", lua.LString(w.roomLabel(ctxOf(L), x.rid)))
		}
		if x.firstUnread != "" {
			tb.RawSetString("message", lua.LString(x.firstUnread))
		}
		if x.unread {
			tb.RawSetString("unread", lua.LTrue)
		}
		if x.readThreads {
			tb.RawSetString("read_threads", lua.LTrue)
		}
	})
}

// tLogs is t.logs(): the script's log lines, oldest first: {level =
// "info", message = ..., <fields>} (print logs at info level).
func (r *runner) tLogs(L *lua.LState) int {
	w := r.world(L, "t.logs")
	out := L.CreateTable(0, 0)
	for _, line := range bytes.Split(w.logs.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		v, err := luajson.DecodeBytes(L, line)
		if err != nil {
			fail(L, "t.logs: a log line: %v", err)
		}
		out.Append(v)
	}
	L.Push(out)
	return 1
}

// tErrors is t.errors(): the messages ("file:line: message") of the
// script's handlers that failed since the last call; a test with failures
// it never asked for fails.
func (r *runner) tErrors(L *lua.LState) int {
	w := r.world(L, "t.errors")
	out := L.CreateTable(len(w.errors), 0)
	for _, e := range w.errors {
		out.Append(lua.LString(e.msg))
	}
	w.errors = nil
	L.Push(out)
	return 1
}

// tStore is t.store(key [, value]). With one argument, the value the
// script's rc.store holds under key (as rc.store.get would return it: nil
// when absent or expired on the fake clock), so a test asserts on what the
// script remembered. With two, it seeds the store as rc.store.set(key,
// value) would (the same conversion and limits, no expiry; nil deletes).
func (r *runner) tStore(L *lua.LState) int {
	const fn = "t.store"
	w := r.world(L, fn)
	n := L.GetTop()
	if n < 1 || n > 2 {
		fail(L, "%s: %d arguments: t.store(key) reads, t.store(key, value) seeds the store", fn, n)
	}
	key := L.CheckString(1)
	if key == "" {
		fail(L, "%s: the key must not be empty", fn)
	}
	ctx := ctxOf(L)
	if n == 2 {
		var err error
		if v := L.Get(2); v == lua.LNil {
			err = w.space.Delete(ctx, key)
		} else {
			var raw []byte
			if raw, err = luajson.Encode(ctx, v); err != nil {
				err = fmt.Errorf("cannot store the value of %q: %w", key, err)
			} else {
				err = w.space.Set(ctx, key, raw, 0)
			}
		}
		if err != nil {
			fail(L, "%s: %v", fn, err)
		}
		return 0
	}
	raw, ok, err := w.space.Get(ctx, key)
	if err != nil {
		fail(L, "%s: %v", fn, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	v, err := luajson.DecodeBytes(L, raw)
	if err != nil {
		fail(L, "%s: %s: %v", fn, key, err)
	}
	L.Push(v)
	return 1
}

// tRestart is t.restart(): the daemon restarts. The script's state is
// closed and the script loaded again (its top level runs again, its
// timers start again from the clock's now); the store, the fake server,
// the clock (which does not move) and what the test recorded (t.posted,
// t.logs, t.errors...) stay. When the top level fails, t.restart raises
// its error and the script stays down: the t functions that drive it
// refuse, until a t.restart or t.config loads it.
func (r *runner) tRestart(L *lua.LState) int {
	const fn = "t.restart"
	w := r.world(L, fn)
	if L.GetTop() != 0 {
		fail(L, "%s: takes no arguments", fn)
	}
	if err := w.reload(ctxOf(L), true); err != nil {
		fail(L, "%s: the script under test did not load again: %v", fn, err)
	}
	return 0
}

// msgPrefix is an assertion's message argument at i, followed by ": ".
func msgPrefix(L *lua.LState, i int) string {
	if L.GetTop() >= i && L.Get(i) != lua.LNil {
		return L.ToStringMeta(L.Get(i)).String() + ": "
	}
	return ""
}

// tEq is t.eq(got, want [, msg]): equal values, tables compared deeply.
func tEq(L *lua.LState) int {
	got, want := L.Get(1), L.Get(2)
	if !deepEqual(got, want, nil) {
		fail(L, "%st.eq: got %s, want %s", msgPrefix(L, 3), show(got), show(want))
	}
	return 0
}

// tNe is t.ne(got, other [, msg]): values that differ (deeply).
func tNe(L *lua.LState) int {
	got, other := L.Get(1), L.Get(2)
	if deepEqual(got, other, nil) {
		fail(L, "%st.ne: got %s, want something else", msgPrefix(L, 3), show(got))
	}
	return 0
}

// tOk is t.ok(v [, msg]): v is neither nil nor false.
func tOk(L *lua.LState) int {
	if !lua.LVAsBool(L.Get(1)) {
		fail(L, "%st.ok: got %s", msgPrefix(L, 2), show(L.Get(1)))
	}
	return 0
}

// tContains is t.contains(haystack, needle [, msg]): a string holding
// needle (plain text), or a sequence holding a value deeply equal to it.
func tContains(L *lua.LState) int {
	hay, needle := L.Get(1), L.Get(2)
	switch h := hay.(type) {
	case lua.LString:
		if s, ok := needle.(lua.LString); ok && strings.Contains(string(h), string(s)) {
			return 0
		}
	case *lua.LTable:
		for i := 1; i <= h.Len(); i++ {
			if deepEqual(h.RawGetInt(i), needle, nil) {
				return 0
			}
		}
	default:
		fail(L, "%st.contains: a string or a sequence expected, got %s", msgPrefix(L, 3), hay.Type())
	}
	fail(L, "%st.contains: %s does not contain %s", msgPrefix(L, 3), show(hay), show(needle))
	return 0
}

// sortedKeys returns tb's keys, sequence first, then by their text.
func sortedKeys(tb *lua.LTable) []lua.LValue {
	var keys []lua.LValue
	tb.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	sort.SliceStable(keys, func(i, j int) bool {
		a, an := keys[i].(lua.LNumber)
		b, bn := keys[j].(lua.LNumber)
		switch {
		case an && bn:
			return a < b
		case an != bn:
			return an
		}
		return keys[i].String() < keys[j].String()
	})
	return keys
}
