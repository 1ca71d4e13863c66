package luabind

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule is rc.cron's schedule of a spec of fields (not "@every"):
// robfig/cron's, with the rules of Vixie cron (Debian's cron(8)) where
// daylight saving time moves the clock, for a spec at fixed times (neither
// its minute nor its hour field starts with "*" or "?", and not @hourly): a time
// the clock skips when it moves forward fires at the change, and a time
// the clock repeats when it moves back fires once, the first time (and
// the second time if the schedule starts inside the repeated hour, after
// the first: a daemon started then, like Vixie cron, has not run it). A spec
// with a wildcard there follows the clock as it is ("*/15 * * * *" fires
// every quarter of an hour of the repeated hour too). robfig/cron alone
// skips the first (a daily "30 2 * * *" in Europe/Paris never runs on the
// last Sunday of March) and fires the second twice.
type Schedule struct {
	spec  *cron.SpecSchedule
	fixed bool
}

// newSchedule wraps what cron.ParseStandard made of spec.
func newSchedule(spec string, sched cron.Schedule) cron.Schedule {
	s, ok := sched.(*cron.SpecSchedule)
	if !ok { // @every: a constant delay, no wall clock
		return sched
	}
	return &Schedule{spec: s, fixed: fixedTimes(spec)}
}

// fixedTimes reports whether a spec cron.ParseStandard accepted runs at
// fixed times of day: neither its minute nor its hour field starts with
// "*" ("0 9 * * *", "30 2 * * 1-5", @daily), unlike "*/5 * * * *",
// "0 * * * *" or @hourly.
func fixedTimes(spec string) bool {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		_, spec, _ = strings.Cut(spec, " ")
		spec = strings.TrimSpace(spec)
	}
	if strings.HasPrefix(spec, "@") {
		return spec != "@hourly"
	}
	f := strings.Fields(spec)
	wild := func(field string) bool { return strings.HasPrefix(field, "*") || strings.HasPrefix(field, "?") }
	return len(f) >= 2 && !wild(f[0]) && !wild(f[1])
}

// Location is the zone the schedule reads its fields in.
func (s *Schedule) Location() *time.Location { return s.spec.Location }

// In returns the schedule read in zone loc instead.
func (s *Schedule) In(loc *time.Location) *Schedule {
	c := *s.spec
	c.Location = loc
	return &Schedule{spec: &c, fixed: s.fixed}
}

// maxRepeats bounds the repeated times skipped in a row: a spec fires at
// most 60 times an hour, and no zone goes back more than two hours.
const maxRepeats = 3 * 60

// Next returns the first time after t the schedule fires, the zero time
// if none. t is when the schedule started or last fired: a time the clock
// repeats is skipped only if the clock went back after t (the schedule
// was running at the first one).
func (s *Schedule) Next(t time.Time) time.Time {
	if !s.fixed {
		return s.spec.Next(t)
	}
	from, n := t, s.spec.Next(t)
	for range maxRepeats {
		if n.IsZero() {
			return n
		}
		if at, ok := s.skipped(from, n); ok {
			return at
		}
		if !s.repeated(t, n) {
			return n
		}
		from, n = n, s.spec.Next(n)
	}
	return n
}

// skipped returns the first change of the zone's offset after t and
// before n at which the clock moved forward past a time the schedule
// fires at: that time never came, so it fires at the change.
func (s *Schedule) skipped(t, n time.Time) (time.Time, bool) {
	at := t.In(s.spec.Location)
	for {
		_, end := at.ZoneBounds()
		if end.IsZero() || !end.Before(n) {
			return time.Time{}, false
		}
		_, before := at.Zone()
		_, after := end.Zone()
		if after > before {
			// The wall clock went from end+before to end+after: read the
			// spec on the old offset to find a time in between.
			old := *s.spec
			old.Location = time.FixedZone("", before)
			if m := old.Next(end.Add(-time.Second)); !m.IsZero() && m.Before(end.Add(time.Duration(after-before)*time.Second)) {
				return end, true
			}
		}
		at = end
	}
}

// repeated reports whether n is the second time its wall clock comes: it
// falls in the hour (or so) the clock went back over after since, and the
// schedule fired at the same wall clock before the change.
func (s *Schedule) repeated(since, n time.Time) bool {
	n = n.In(s.spec.Location)
	start, _ := n.ZoneBounds()
	if start.IsZero() || !since.Before(start) {
		return false
	}
	_, now := n.Zone()
	_, before := start.Add(-time.Second).Zone()
	if before <= now {
		return false
	}
	return n.Before(start.Add(time.Duration(before-now) * time.Second))
}
