package luabind

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// MaxDuration bounds every duration the Lua API reads (ParseDuration):
// far beyond any interval or ttl, far from overflowing time.Duration.
const MaxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads a duration as every part of the Lua API takes one
// (rc.every's interval, rc.store's ttl, the test runner's t.advance): a
// number of seconds, or a string of time.ParseDuration ("90s", "1h30m")
// that may start with whole days ("2d", "1d12h"). what names the value in
// the error ("interval", "ttl"). Durations longer than MaxDuration (in
// either direction), NaN and infinities are errors; the caller checks its
// own bounds.
func ParseDuration(v lua.LValue, what string) (time.Duration, error) {
	switch v := v.(type) {
	case lua.LNumber:
		f := float64(v) * float64(time.Second)
		if math.IsNaN(f) || math.Abs(f) > float64(MaxDuration) {
			return 0, fmt.Errorf("%s of %v seconds is out of range: at most 100 years", what, v)
		}
		return time.Duration(f), nil
	case lua.LString:
		s := string(v)
		d, err := parseDays(s)
		if err != nil && !errors.Is(err, errDurationRange) {
			return 0, fmt.Errorf("bad %s %q: want a duration such as \"90s\", \"5m\", \"1h30m\", \"2d\" or a number of seconds (10, not \"10\")", what, clip(s))
		}
		if err != nil || d > MaxDuration || d < -MaxDuration {
			return 0, fmt.Errorf("%s %q is out of range: at most 100 years", what, clip(s))
		}
		return d, nil
	}
	return 0, fmt.Errorf("%s expected (a duration string such as \"5m\" or seconds), got %s", what, typeName(v))
}

// errDurationRange is parseDays' error for a well-formed duration too
// long for time.Duration or MaxDuration.
var errDurationRange = errors.New("duration out of range")

// parseDays is time.ParseDuration of s, which may start with a whole
// number of days ("2d", "1d12h").
func parseDays(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) || s[i] != 'd' {
		return parseGo(s)
	}
	d := MaxDuration + 1
	if days, err := strconv.ParseInt(s[:i], 10, 64); err == nil && days <= int64(MaxDuration/(24*time.Hour)) {
		d = time.Duration(days) * 24 * time.Hour
	}
	if rest := s[i+1:]; rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, fmt.Errorf("signed duration after the days: %q", rest)
		}
		r, err := parseGo(rest)
		if err != nil {
			return 0, err
		}
		d += min(r, MaxDuration+1)
	}
	if d > MaxDuration {
		return 0, errDurationRange
	}
	return d, nil
}

// parseGo is time.ParseDuration, failing with errDurationRange for a
// well-formed duration it cannot hold (one that parses with each run of
// digits made "1").
func parseGo(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return d, nil
	}
	if _, err2 := time.ParseDuration(digitRuns.ReplaceAllString(s, "1")); err2 == nil {
		return 0, errDurationRange
	}
	return 0, err
}

// digitRuns matches each run of decimal digits.
var digitRuns = regexp.MustCompile(`[0-9]+`)
