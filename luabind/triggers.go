package luabind

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
)

// Host runs the triggers a script registers. rc.on, rc.every and rc.cron
// check their arguments, then hand the registration to the state's Host
// (given to Open); runtime implements it, deciding when a trigger fires
// and what registering means in its mode (the daemon keeps it, exec logs
// it as ignored, check only counts it). luabind never fires a trigger.
type Host interface {
	// Register records t. An error (registering after load, too many
	// triggers) raises in the script as "rc.<fn>: <error>", with the
	// registration's file:line.
	Register(t Trigger) error
}

// TriggerKind says which function registered a trigger.
type TriggerKind int

// The kinds of triggers.
const (
	On    TriggerKind = iota + 1 // rc.on(event, fn)
	Every                        // rc.every(interval, fn)
	Cron                         // rc.cron(spec, fn)
)

// String returns the Lua function's name: "on", "every" or "cron".
func (k TriggerKind) String() string {
	switch k {
	case On:
		return "on"
	case Every:
		return "every"
	case Cron:
		return "cron"
	}
	return fmt.Sprintf("TriggerKind(%d)", int(k))
}

// Trigger is one checked registration.
type Trigger struct {
	Kind     TriggerKind
	Event    string         // On: the event kind, one of EventKinds
	Interval time.Duration  // Every: at least the Module's MinInterval
	Spec     string         // Cron: the spec as the script wrote it
	Schedule cron.Schedule  // Cron: the parsed spec
	Fn       *lua.LFunction // the handler
	Where    string         // the registration's place in the script: "name.lua:3"
}

// Label names the trigger in logs: `on subscription (a.lua:3)`,
// `every 5m0s (a.lua:4)`, `cron "0 9 * * 1-5" (a.lua:5)`.
func (t Trigger) Label() string {
	var what string
	switch t.Kind {
	case On:
		what = "on " + t.Event
	case Every:
		what = "every " + t.Interval.String()
	case Cron:
		what = fmt.Sprintf("cron %q", t.Spec)
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
			return []lua.LValue{lua.LString(action), sub}, nil
		},
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
// arguments of its rc.on handlers, as values of L: for "subscription",
// (action, sub), sub decoded from raw, which the caller hands over as for
// luajson.DecodeBytes. Each call builds new tables: handlers may change
// theirs without the next one seeing it.
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

// installTriggers adds rc.on, rc.every and rc.cron to rcT.
func (b *binding) installTriggers(L *lua.LState, rcT *lua.LTable) {
	rcT.RawSetString("on", L.NewFunction(b.on))
	rcT.RawSetString("every", L.NewFunction(b.every))
	rcT.RawSetString("cron", L.NewFunction(b.cron))
}

// register hands t, registered at the caller's file:line, to the host.
func (b *binding) register(L *lua.LState, t Trigger) {
	name := "rc." + t.Kind.String()
	if b.host == nil {
		L.RaiseError("%s: no host runs triggers here", name)
	}
	t.Where = strings.TrimSuffix(L.Where(1), ":")
	if err := b.host.Register(t); err != nil {
		L.RaiseError("%s: %v", name, err)
	}
}

// on is
//
//	rc.on(event, fn) -> nothing
//
// event is one of EventKinds ("subscription": fn(action, sub)).
func (b *binding) on(L *lua.LState) int {
	const fn = "rc.on"
	event := checkArgString(L, 1, fn)
	f := checkFunction(L, 2, fn)
	if findEvent(event) == nil {
		argError(L, 1, fn, fmt.Sprintf("unknown event %q (known: %s)", clip(event), knownEvents()))
	}
	b.register(L, Trigger{Kind: On, Event: event, Fn: f})
	return 0
}

// every is
//
//	rc.every(interval, fn) -> nothing
//
// interval is a Go duration string ("30s", "5m", "3h") or a number of
// seconds, at least the Module's MinInterval.
func (b *binding) every(L *lua.LState) int {
	const fn = "rc.every"
	var d time.Duration
	switch v := L.Get(1).(type) {
	case lua.LString:
		var err error
		if d, err = time.ParseDuration(string(v)); err != nil {
			argError(L, 1, fn, fmt.Sprintf("bad interval %q: want a duration such as \"5m\" or seconds", clip(string(v))))
		}
	case lua.LNumber:
		d = time.Duration(float64(v) * float64(time.Second))
	default:
		argError(L, 1, fn, "interval expected (a duration string such as \"5m\" or seconds), got "+typeName(v))
	}
	if d < b.m.MinInterval {
		argError(L, 1, fn, fmt.Sprintf("interval %v is below the minimum of %v", d, b.m.MinInterval))
	}
	f := checkFunction(L, 2, fn)
	b.register(L, Trigger{Kind: Every, Interval: d, Fn: f})
	return 0
}

// maxCronSpec is the longest spec rc.cron accepts (real ones are a few
// dozen bytes).
const maxCronSpec = 256

// cron is
//
//	rc.cron(spec, fn) -> nothing
//
// spec is a standard five-field cron spec (robfig/cron's ParseStandard:
// also @hourly and the like, and an optional CRON_TZ=Zone prefix).
func (b *binding) cron(L *lua.LState) int {
	const fn = "rc.cron"
	spec := checkArgString(L, 1, fn)
	if len(spec) > maxCronSpec { // cron's errors quote the spec
		argError(L, 1, fn, fmt.Sprintf("bad cron spec %q: longer than %d bytes", clip(spec), maxCronSpec))
	}
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		argError(L, 1, fn, fmt.Sprintf("bad cron spec %q: %v", spec, err))
	}
	f := checkFunction(L, 2, fn)
	b.register(L, Trigger{Kind: Cron, Spec: spec, Schedule: sched, Fn: f})
	return 0
}
