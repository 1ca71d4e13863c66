package rc

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 100 * time.Millisecond, Max: 400 * time.Millisecond}
	for attempt, nominal := range map[int]time.Duration{-1: 100, 0: 100, 1: 100, 2: 200, 3: 400, 4: 400, 10: 400, 1000: 400} {
		nominal *= time.Millisecond
		assert.Equal(t, nominal, b.Nominal(attempt), "nominal wait of attempt %d", attempt)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Delay(attempt)
			assert.GreaterOrEqual(t, d, nominal/2, "attempt %d: at least half the nominal wait", attempt)
			assert.LessOrEqual(t, d, nominal, "attempt %d: never more than the nominal wait", attempt)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 10, "attempt %d: the waits are jittered", attempt)
	}
}

func TestBackoffEdges(t *testing.T) {
	t.Parallel()
	assert.Zero(t, Backoff{}.Delay(3), "the zero value waits nothing")
	assert.Equal(t, time.Second, Backoff{Min: time.Second}.Nominal(5), "a Max below Min caps at Min")
	// A huge Max never overflows: the doubling stops at the cap.
	b := Backoff{Min: time.Second, Max: time.Duration(1<<63 - 1)}
	assert.Positive(t, b.Delay(200))
	assert.Positive(t, b.Nominal(200))
	assert.Equal(t, time.Nanosecond, Backoff{Min: time.Nanosecond, Max: time.Nanosecond}.Delay(1), "a 1ns wait has no room for jitter")
}

// TestBackoffJitter: Jitter bounds how much of the nominal wait is taken
// off; a value outside (0, 1] is the default half.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	nominal := time.Hour
	for _, c := range []struct {
		jitter float64
		least  time.Duration
	}{{0.2, 48 * time.Minute}, {1, 0}, {0, 30 * time.Minute}, {-1, 30 * time.Minute}, {7, 30 * time.Minute}} {
		b := Backoff{Min: nominal, Max: nominal, Jitter: c.jitter}
		low := nominal
		for range 500 {
			d := b.Delay(1)
			assert.GreaterOrEqual(t, d, c.least, "jitter %v", c.jitter)
			assert.LessOrEqual(t, d, nominal, "jitter %v", c.jitter)
			low = min(low, d)
		}
		assert.Less(t, low, c.least+(nominal-c.least)/4, "jitter %v: the waits spread down toward the bound", c.jitter)
	}
}

// TestBackoffHugeWaits: a nominal wait near the largest Duration, with
// the whole of it as jitter, neither panics nor returns a negative or
// larger wait (float rounding once took the jitter past the wait).
func TestBackoffHugeWaits(t *testing.T) {
	t.Parallel()
	for _, b := range []Backoff{
		{Min: math.MaxInt64, Jitter: 1},
		{Min: math.MaxInt64 - 1, Jitter: 1},
		{Min: 1 << 62, Max: math.MaxInt64, Jitter: 1},
		{Min: math.MaxInt64, Jitter: 0.999999},
		{Min: math.MaxInt64},
	} {
		for attempt := 1; attempt < 70; attempt += 17 {
			low := b.Nominal(attempt)
			for range 50 {
				var d time.Duration
				require.NotPanics(t, func() { d = b.Delay(attempt) }, "%+v attempt %d", b, attempt)
				require.GreaterOrEqual(t, d, time.Duration(0), "%+v attempt %d", b, attempt)
				require.LessOrEqual(t, d, b.Nominal(attempt), "%+v attempt %d", b, attempt)
				low = min(low, d)
			}
			// The jitter is kept too (an overflow once clamped it to none):
			// 50 draws all in the top quarter of the nominal wait are odds
			// of at most 2^-50 (a jitter of a half).
			assert.Less(t, low, b.Nominal(attempt)-b.Nominal(attempt)/4, "%+v attempt %d: the waits spread", b, attempt)
		}
	}
}
