package luabind

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// Host runs the triggers a script registers. rc.on, rc.every, rc.cron,
// rc.hear and rc.respond check their arguments, then hand the registration
// to the state's Host (given to Open); runtime implements it, deciding when
// a trigger fires and what registering means in its mode (the daemon keeps
// it, exec logs it as ignored, check only counts it). luabind never fires
// a trigger.
type Host interface {
	// Register records t and returns the function that stops it: once
	// called, the Host never calls t.Fn again (a call running then
	// finishes). The script calls it through the handle the registration
	// returns (handle:stop()), at most once, from a handler or the top
	// level of the same state. An error (registering after load, too many
	// triggers) raises in the script as "rc.<fn>: <error>", with the
	// registration's file:line.
	Register(t Trigger) (stop func(), err error)
}

// TriggerKind says which function registered a trigger.
type TriggerKind int

// The kinds of triggers.
const (
	On      TriggerKind = iota + 1 // rc.on(event, fn)
	Every                          // rc.every(interval, fn)
	Cron                           // rc.cron(spec, fn)
	Hear                           // rc.hear(pattern, fn)
	Respond                        // rc.respond(pattern, fn)
)

// String returns the Lua function's name: "on", "every", "cron", "hear"
// or "respond".
func (k TriggerKind) String() string {
	switch k {
	case On:
		return "on"
	case Every:
		return "every"
	case Cron:
		return "cron"
	case Hear:
		return "hear"
	case Respond:
		return "respond"
	}
	return fmt.Sprintf("TriggerKind(%d)", int(k))
}

// Trigger is one checked registration. A trigger with an Event runs on
// that kind of event (On, Hear, Respond); the others (Every, Cron) on a
// timer.
type Trigger struct {
	Kind     TriggerKind
	Event    string        // On: the event kind, one of EventKinds; Hear, Respond: "message"
	Pattern  string        // Hear, Respond: the pattern as labels show it: "^!ping" or rc.re("...")
	Interval time.Duration // Every: at least the Module's MinInterval
	Spec     string        // Cron: the spec as the script wrote it
	Schedule cron.Schedule // Cron: the parsed spec
	// Fn is what the host calls: with the event's arguments (EventArgs)
	// for an Event, with none for a timer. It is the script's own function,
	// except for the "message" triggers, where it is a function of luabind
	// that drops what the trigger is not for (the bot's own messages; for
	// hear and respond also edits, system messages and text the pattern
	// does not match) and calls the script's with its arguments.
	Fn    *lua.LFunction
	Where string // the registration's place in the script: "name.lua:3"
}

// Label names the trigger in logs: `on subscription (a.lua:3)`,
// `every 5m0s (a.lua:4)`, `cron "0 9 * * 1-5" (a.lua:5)`,
// `hear "^!ping" (a.lua:6)`, `respond rc.re("deploy (\w+)") (a.lua:7)`.
func (t Trigger) Label() string {
	var what string
	switch t.Kind {
	case On:
		what = "on " + t.Event
	case Every:
		what = "every " + t.Interval.String()
	case Cron:
		what = fmt.Sprintf("cron %q", t.Spec)
	case Hear, Respond:
		what = t.Kind.String() + " " + t.Pattern
	default:
		what = t.Kind.String()
	}
	if t.Where == "" {
		return what
	}
	return what + " (" + t.Where + ")"
}

// eventKind is one event rc.on accepts: its name and how an event of that
// kind becomes the handler's arguments. A new kind of event is one entry
// in events.
type eventKind struct {
	name string
	// params documents the handler's parameters: fn(params).
	params string
	// args converts an event (its action and its JSON object) into the
	// handler's arguments.
	args func(L *lua.LState, action string, raw []byte) ([]lua.LValue, error)
}

// actions are the actions of events (runtime/source's), boxed once:
// actionValue gives a handler's action without an allocation per event.
var actions = [...]lua.LValue{lua.LString("inserted"), lua.LString("updated"), lua.LString("removed"), lua.LString(actionCreated)}

// actionValue returns action as a Lua string.
func actionValue(action string) lua.LValue {
	for _, v := range actions {
		if string(v.(lua.LString)) == action {
			return v
		}
	}
	return lua.LString(action)
}

// events are the event kinds rc.on accepts. Read-only.
var events = []eventKind{
	{
		name:   "subscription",
		params: "action, sub",
		args: func(L *lua.LState, action string, raw []byte) ([]lua.LValue, error) {
			sub, err := luajson.DecodeBytes(L, raw)
			if err != nil {
				return nil, fmt.Errorf("luabind: subscription event: %w", err)
			}
			return []lua.LValue{actionValue(action), sub}, nil
		},
	},
	{
		name:   "message",
		params: "msg, action",
		args:   messageArgs,
	},
}

// EventKinds returns the event names rc.on accepts, in a new slice.
func EventKinds() []string {
	names := make([]string, len(events))
	for i, e := range events {
		names[i] = e.name
	}
	return names
}

// ErrUnknownEvent is EventArgs' error for an event kind rc.on does not know.
var ErrUnknownEvent = errors.New("luabind: unknown event kind")

// EventArgs converts an event of kind (one of EventKinds) into the
// arguments of its handlers, as values of L: for "subscription", (action,
// sub); for "message", (msg, action), msg with the methods msg:reply and
// msg:react when Open installed the rc table in L. The table is decoded
// from raw, which the caller hands over as for luajson.DecodeBytes. Each
// call builds new tables: handlers may change theirs without the next one
// seeing it.
func EventArgs(L *lua.LState, kind, action string, raw []byte) ([]lua.LValue, error) {
	if e := findEvent(kind); e != nil {
		return e.args(L, action, raw)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownEvent, kind)
}

// findEvent returns the entry of events called name, or nil.
func findEvent(name string) *eventKind {
	for i := range events {
		if events[i].name == name {
			return &events[i]
		}
	}
	return nil
}

// knownEvents lists the event names for error messages: `"subscription"`.
func knownEvents() string {
	quoted := make([]string, len(events))
	for i, e := range events {
		quoted[i] = fmt.Sprintf("%q", e.name)
	}
	return strings.Join(quoted, ", ")
}

// installTriggers adds rc.on, rc.every, rc.cron, rc.hear and rc.respond
// to rcT.
func (b *binding) installTriggers(L *lua.LState, rcT *lua.LTable) {
	rcT.RawSetString("on", L.NewFunction(b.on))
	rcT.RawSetString("every", L.NewFunction(b.every))
	rcT.RawSetString("cron", L.NewFunction(b.cron))
	rcT.RawSetString("hear", L.NewFunction(b.hear))
	rcT.RawSetString("respond", L.NewFunction(b.respond))
	methods := namespace(L, "handle", field{"stop", handleStop})
	b.handleMeta = L.CreateTable(0, 3)
	b.handleMeta.RawSetString("__index", methods)
	b.handleMeta.RawSetString("__name", lua.LString("rc.trigger"))
	b.handleMeta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		label := "?"
		if h := handleOf(L.Get(1)); h != nil {
			label = h.label
		}
		L.Push(lua.LString("rc.trigger: " + label))
		return 1
	}))
}

// handle is the Value of the userdata a registration returns.
type handle struct {
	label string
	stop  func() // nil once called
}

// handleOf returns v's handle, or nil when v is none.
func handleOf(v lua.LValue) *handle {
	if ud, ok := v.(*lua.LUserData); ok {
		h, _ := ud.Value.(*handle)
		return h
	}
	return nil
}

// handleStop is
//
//	handle:stop() -> nothing
//
// The trigger never fires again; a second call does nothing.
func handleStop(L *lua.LState) int {
	h := handleOf(L.Get(1))
	if h == nil {
		argError(L, 1, "handle:stop", "a trigger's handle expected (call it as handle:stop()), got "+typeName(L.Get(1)))
	}
	if stop := h.stop; stop != nil {
		h.stop = nil
		stop()
	}
	return 0
}

// register hands t, registered at the caller's file:line, to the host
// and pushes the trigger's handle.
func (b *binding) register(L *lua.LState, t Trigger) int {
	name := "rc." + t.Kind.String()
	if b.host == nil {
		L.RaiseError("%s: no host runs triggers here", name)
	}
	t.Where = strings.TrimSuffix(L.Where(1), ":")
	stop, err := b.host.Register(t)
	if err != nil {
		L.RaiseError("%s: %v", name, err)
	}
	ud := L.NewUserData()
	ud.Value = &handle{label: t.Label(), stop: stop}
	ud.Metatable = b.handleMeta
	L.Push(ud)
	return 1
}

// on is
//
//	rc.on(event, fn) -> handle
//
// event is one of EventKinds ("subscription": fn(action, sub); "message":
// fn(msg, action)).
func (b *binding) on(L *lua.LState) int {
	const fn = "rc.on"
	event := checkArgString(L, 1, fn)
	f := checkFunction(L, 2, fn)
	if findEvent(event) == nil {
		argError(L, 1, fn, fmt.Sprintf("unknown event %q (known: %s)", clip(event), knownEvents()))
	}
	if event == eventMessage {
		return b.register(L, Trigger{Kind: On, Event: event, Fn: b.messageTrigger(L, On, nil, f)})
	}
	return b.register(L, Trigger{Kind: On, Event: event, Fn: f})
}

// every is
//
//	rc.every(interval, fn) -> handle
//
// interval is a Go duration string ("30s", "5m", "3h") or a number of
// seconds, at least the Module's MinInterval.
func (b *binding) every(L *lua.LState) int {
	const fn = "rc.every"
	d, err := ParseInterval(L.Get(1), b.m.MinInterval)
	if err != nil {
		argError(L, 1, fn, err.Error())
	}
	f := checkFunction(L, 2, fn)
	return b.register(L, Trigger{Kind: Every, Interval: d, Fn: f})
}

// ParseInterval is rc.every's reading of its interval v (see
// ParseDuration), at least min. The error is the reason rc.every gives
// ("bad interval ...").
func ParseInterval(v lua.LValue, min time.Duration) (time.Duration, error) {
	d, err := ParseDuration(v, "interval")
	if err != nil {
		return 0, err
	}
	if d < min {
		return 0, fmt.Errorf("interval %v is below the minimum of %v", d, min)
	}
	return d, nil
}

// ParseCron is rc.cron's reading of its spec: a standard five-field cron
// spec (robfig/cron's ParseStandard: also @hourly and the like, and an
// optional CRON_TZ=Zone prefix), at most 256 bytes. A spec of fields is a
// *Schedule (daylight saving time as Vixie cron has it), "@every d" a
// constant delay. The error is the reason rc.cron gives ("bad cron spec
// ...").
func ParseCron(spec string) (cron.Schedule, error) {
	if len(spec) > maxCronSpec { // cron's errors quote the spec
		return nil, fmt.Errorf("bad cron spec %q: longer than %d bytes", clip(spec), maxCronSpec)
	}
	sched, err := cron.ParseStandard(sundaySeven(spec))
	if err != nil {
		return nil, fmt.Errorf("bad cron spec %q: %w", spec, err)
	}
	out := newSchedule(spec, sched)
	if _, ok := out.(*Schedule); ok && out.Next(time.Now()).IsZero() {
		// robfig/cron looks five years ahead: "0 9 31 2 *" (the 31st of
		// February) is none of a script's intent.
		return nil, fmt.Errorf("bad cron spec %q: it never fires (no date in the next five years matches it)", spec)
	}
	return out, nil
}

// sundaySeven returns spec with the 7s of its day-of-week field (Sunday,
// as Vixie cron takes 0-7, in a value, a range or a stepped range) made
// 0s, which robfig/cron takes; a spec without one, or one it cannot read,
// as it is (robfig/cron's error then names what is wrong).
func sundaySeven(spec string) string {
	prefix, rest := "", spec
	if strings.HasPrefix(rest, "CRON_TZ=") || strings.HasPrefix(rest, "TZ=") {
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			return spec
		}
		prefix, rest = rest[:i+1], rest[i+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) != 5 || !strings.Contains(fields[4], "7") {
		return spec
	}
	var parts []string
	days := map[int]bool{}
	for _, part := range strings.Split(fields[4], ",") {
		if !strings.Contains(part, "7") {
			parts = append(parts, part)
			continue
		}
		rng, step := part, 1
		if i := strings.IndexByte(part, '/'); i >= 0 {
			n, err := strconv.Atoi(part[i+1:])
			if err != nil || n <= 0 {
				return spec
			}
			rng, step = part[:i], n
		}
		lo, hi, ok := strings.Cut(rng, "-")
		if !ok {
			hi = lo
		}
		a, errA := strconv.Atoi(lo)
		b, errB := strconv.Atoi(hi)
		if errA != nil || errB != nil || a < 0 || a > b || b > 7 {
			return spec
		}
		for d := a; d <= b; d += step {
			days[d%7] = true
		}
	}
	for d := range 7 {
		if days[d] {
			parts = append(parts, strconv.Itoa(d))
		}
	}
	fields[4] = strings.Join(parts, ",")
	return prefix + strings.Join(fields, " ")
}

// maxCronSpec is the longest spec rc.cron accepts (real ones are a few
// dozen bytes).
const maxCronSpec = 256

// cron is
//
//	rc.cron(spec, fn) -> handle
//
// spec is a standard five-field cron spec (robfig/cron's ParseStandard:
// also @hourly and the like, and an optional CRON_TZ=Zone prefix).
func (b *binding) cron(L *lua.LState) int {
	const fn = "rc.cron"
	spec := checkArgString(L, 1, fn)
	sched, err := ParseCron(spec)
	if err != nil {
		argError(L, 1, fn, err.Error())
	}
	f := checkFunction(L, 2, fn)
	return b.register(L, Trigger{Kind: Cron, Spec: spec, Schedule: sched, Fn: f})
}
