package rc

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential backoff with jitter: the nominal wait
// before retry number n is Min doubled n-1 times, at most Max, and the wait
// returned is a random duration between half the nominal wait and all of
// it ("equal jitter"; Jitter sets the most taken off at random), so that many clients
// failing together spread out their retries instead of hitting a
// recovering server at the same moment.
//
// It is the one backoff of rclua: the client's retries (RetryPolicy), the
// command's start-up connection loop, the event sources and the pause of
// a script that keeps failing all use it. The zero value waits nothing.
type Backoff struct {
	Min time.Duration // nominal wait before the first retry
	Max time.Duration // cap of the nominal wait; below Min, Min is the cap
	// Jitter is the most of the nominal wait that Delay takes off at
	// random, as a fraction: 0 (or anything outside (0, 1]) means a half.
	// A pause that must stay near its length (a script's back-off of an
	// hour) takes less.
	Jitter float64
}

// Delay returns the wait before retry number attempt (1-based; 0 and
// negative numbers count as 1): the nominal wait less at random up to
// Jitter of it.
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Nominal(attempt)
	if d <= 0 {
		return 0
	}
	f := b.Jitter
	if !(f > 0 && f <= 1) {
		f = 0.5
	}
	// float64(d) rounds, up near the largest Duration, where converting
	// the product back would overflow: compared as floats, a product not
	// below float64(d) takes all of d (no float lies between d and
	// float64(d)). Below the largest Duration so that off+1 does not wrap.
	off := d
	if x := float64(d) * f; x < float64(d) {
		off = time.Duration(x)
	}
	off = min(off, math.MaxInt64-1)
	return d - off + rand.N(off+1)
}

// Nominal returns the wait before retry number attempt without jitter:
// the most Delay returns.
func (b Backoff) Nominal(attempt int) time.Duration {
	d := b.Min
	limit := max(b.Max, b.Min)
	for i := 1; i < attempt && d < limit; i++ {
		if d > limit/2 {
			return limit // doubling would pass the cap (or overflow)
		}
		d *= 2
	}
	return min(d, limit)
}
