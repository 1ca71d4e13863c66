package runtime

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/luabind"
)

// trigger modes.
type triggerMode int

const (
	modeRun   triggerMode = iota // register triggers (daemon)
	modeExec                     // validate, log as ignored (exec)
	modeCheck                    // validate only (check)
)

// trigger is one registered handler, as luabind checked it.
type trigger struct {
	luabind.Trigger
	label   string        // for logs: e.g. "every 5m0s (hello.lua:3)"
	stopped chan struct{} // closed by the script's handle:stop()
}

// isStopped reports whether the script stopped t.
func (t trigger) isStopped() bool {
	select {
	case <-t.stopped:
		return true
	default:
		return false
	}
}

// maxTriggers bounds the triggers one script may register (each timer is
// a goroutine; each rc.on handler runs on every event of its kind).
const maxTriggers = 1000

// registry collects the triggers a script registers while loading: it is
// the luabind.Host of one version's state. Only the actor touches it.
type registry struct {
	mode     triggerMode
	log      zerolog.Logger
	loading  bool
	count    int                  // triggers registered, in every mode
	handlers map[string][]trigger // rc.on handlers by event kind
	timers   []trigger            // rc.every and rc.cron
	fire     bool                 // exec: timers are kept, to be called once after the top level
}

var _ luabind.Host = (*registry)(nil)

func newRegistry(mode triggerMode, log zerolog.Logger) *registry {
	return &registry{mode: mode, log: log, loading: true, handlers: map[string][]trigger{}}
}

// Register records t (daemon), logs it as ignored (exec) or only counts it
// (check). It refuses registrations after the top level ran and beyond
// maxTriggers. The stop it returns closes the trigger's stopped channel
// (once, whoever calls it): the actor then skips the trigger's events and
// ticks, and its timer goroutine ends.
func (r *registry) Register(t luabind.Trigger) (func(), error) {
	if !r.loading {
		return nil, errors.New("triggers can only be registered while the script loads (at top level)")
	}
	if r.count >= maxTriggers {
		return nil, fmt.Errorf("too many triggers (the limit is %d per script)", maxTriggers)
	}
	r.count++
	tr := trigger{Trigger: t, label: t.Label(), stopped: make(chan struct{})}
	switch r.mode {
	case modeRun:
		if t.Event != "" {
			r.handlers[t.Event] = append(r.handlers[t.Event], tr)
		} else {
			r.timers = append(r.timers, tr)
		}
	case modeExec:
		switch {
		case r.fire && t.Event == "":
			r.timers = append(r.timers, tr)
		case t.Event == "":
			r.log.Info().Str("trigger", tr.label).Str("hint", "--fire calls it once after the top level").Msg("trigger ignored in exec mode")
		default:
			r.log.Info().Str("trigger", tr.label).Msg("trigger ignored in exec mode")
		}
	}
	var once sync.Once
	return func() { once.Do(func() { close(tr.stopped) }) }, nil
}

// kinds returns the event kinds the script handles.
func (r *registry) kinds() []string {
	out := make([]string, 0, len(r.handlers))
	for k := range r.handlers {
		out = append(out, k)
	}
	return out
}

// firstLabels returns, for each event kind the script handles, the label
// of the trigger registered first for it.
func (r *registry) firstLabels() map[string]string {
	out := make(map[string]string, len(r.handlers))
	for k, list := range r.handlers {
		out[k] = list[0].label
	}
	return out
}

// labels returns the labels of the triggers registered, timers last.
func (r *registry) labels() []string {
	var out []string
	for _, list := range r.handlers {
		for _, t := range list {
			out = append(out, t.label)
		}
	}
	sort.Strings(out)
	for _, t := range r.timers {
		out = append(out, t.label)
	}
	return out
}
