package source

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/realtime"
)

// countUpgrades is a transport counting the websocket dials (GET
// /websocket) it carries; while down is set it fails them with a network
// error, as a network that lost its route to the server.
type countUpgrades struct {
	base http.RoundTripper
	n    atomic.Int64
	down atomic.Bool
}

func (c *countUpgrades) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/websocket" {
		c.n.Add(1)
		if c.down.Load() {
			return nil, errors.New("test: network unreachable")
		}
	}
	return c.base.RoundTrip(req)
}

// countDials makes opts dial the realtime API through a copy of the REST
// client's HTTP client that counts the dials.
func (s *rtServer) countDials(opts *RealtimeOptions) *countUpgrades {
	hc := *s.client.HTTPClient()
	c := &countUpgrades{base: hc.Transport}
	if c.base == nil {
		c.base = http.DefaultTransport
	}
	hc.Transport = c
	opts.Dial = append(opts.Dial, realtime.WithHTTPClient(&hc))
	return c
}

// fallbackWaits are the retry_in of the fallback's log lines (its warning
// and the debug lines of the failed retries), in order.
func fallbackWaits(t *testing.T, logs *logBuf) []time.Duration {
	t.Helper()
	logs.mu.Lock()
	text := bytes.Clone(logs.buf.Bytes())
	logs.mu.Unlock()
	var out []time.Duration
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			RetryIn string `json:"retry_in"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		switch line.Message {
		case "realtime events unavailable: polling subscriptions.get instead (and, for message events, the rooms that changed), trying realtime again now and then",
			"realtime events still unavailable: polling on":
			d, err := time.ParseDuration(line.RetryIn)
			require.NoError(t, err, "retry_in of %q", sc.Text())
			out = append(out, d)
		}
	}
	return out
}

// TestRealtimeFallbackRetriesSoon: with the default cap (5m) and a short
// first wait, a refused upgrade that is accepted again after a few retries
// has realtime back at once, not after the cap; one warning all along.
func TestRealtimeFallbackRetriesSoon(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs))
	opts.Fallback, opts.RetryMin = true, 20*time.Millisecond
	dials := s.countDials(&opts)
	src := NewRealtime(s.client.Subscriptions, opts)
	require.Equal(t, DefaultCatchUp/2, src.opts.Retry, "the cap is the default: half the catch-up window")
	r := runRealtime(t, src)
	waitUntil(t, "polling, realtime tried again twice and refused", func() bool {
		return r.src.State() == StatePolling && logs.count("realtime events still unavailable") >= 2
	})
	require.GreaterOrEqual(t, dials.n.Load(), int64(3))

	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 1) // within waitUntil's 30s: far under the cap
	assert.Equal(t, 1, logs.count("realtime events unavailable: polling subscriptions.get instead"), "one warning")
	assert.Equal(t, 1, logs.count("realtime events restored"))
	assert.GreaterOrEqual(t, logs.count("realtime events still unavailable"), 2, "each failed retry a debug line")
}

// TestRealtimeFallbackBacksOff: the waits between tries of realtime while
// polling double from RetryMin (jittered: between half and all of the
// nominal wait) up to Retry, and the dials are no more frequent than those
// waits allow.
func TestRealtimeFallbackBacksOff(t *testing.T) {
	t.Parallel()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs))
	const first, limit = 20 * time.Millisecond, 160 * time.Millisecond
	opts.Fallback, opts.RetryMin, opts.Retry = true, first, limit
	dials := s.countDials(&opts)
	start := time.Now()
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	waitUntil(t, "seven tries of realtime", func() bool { return dials.n.Load() >= 7 })
	n := int(dials.n.Load())
	elapsed := time.Since(start)
	r.stop()

	// Each dial but the first follows a wait of at least half its
	// nominal length: more dials than that allows is a retry too early.
	b := rc.Backoff{Min: first, Max: limit}
	allowed, spent := 1, time.Duration(0)
	for k := 1; ; k++ {
		if spent += b.Nominal(k) / 2; spent > elapsed {
			break
		}
		allowed++
	}
	assert.LessOrEqual(t, n, allowed, "%d dials in %v", n, elapsed)

	waits := fallbackWaits(t, logs)
	require.GreaterOrEqual(t, len(waits), 6)
	for i, w := range waits {
		nominal := b.Nominal(i + 1)
		assert.GreaterOrEqual(t, w, nominal/2-time.Millisecond, "wait %d", i+1) // retry_in is rounded to 1ms
		assert.LessOrEqual(t, w, nominal, "wait %d", i+1)
	}
	assert.Equal(t, limit, b.Nominal(len(waits)), "the cap was reached")
	assert.Equal(t, 1, logs.count("realtime events unavailable: polling subscriptions.get instead"), "one warning")
}

// TestRealtimeRetryDefaults: the first wait is 10s and the cap 5m by
// default; a cap shorter than the first wait's default also bounds the
// first wait (a short Retry is not stretched to 10s).
func TestRealtimeRetryDefaults(t *testing.T) {
	t.Parallel()
	r := NewRealtime(nil, RealtimeOptions{})
	assert.Equal(t, 10*time.Second, r.opts.RetryMin)
	assert.Equal(t, 150*time.Second, r.opts.Retry, "half the default catch-up window (5m)")
	r = NewRealtime(nil, RealtimeOptions{CatchUp: time.Hour})
	assert.Equal(t, 5*time.Minute, r.opts.Retry, "at most 5m")
	r = NewRealtime(nil, RealtimeOptions{CatchUp: 30 * time.Second})
	assert.Equal(t, 15*time.Second, r.opts.Retry)
	for _, c := range []time.Duration{time.Nanosecond, time.Second, 10 * time.Second} {
		r = NewRealtime(nil, RealtimeOptions{CatchUp: c})
		assert.Equal(t, 10*time.Second, r.opts.Retry, "never below the first wait (--catch-up %v)", c)
		assert.Equal(t, 10*time.Second, r.opts.RetryMin, "--catch-up %v", c)
	}
	r = NewRealtime(nil, RealtimeOptions{Retry: 100 * time.Millisecond})
	assert.Equal(t, 100*time.Millisecond, r.opts.RetryMin)
	r = NewRealtime(nil, RealtimeOptions{RetryMin: time.Minute, Retry: 30 * time.Second})
	assert.Equal(t, 30*time.Second, r.opts.RetryMin, "RetryMin is at most Retry")
}

// TestRealtimeFallbackBackoffStartsOver: once realtime works again (a
// connection up for Outage), a later fallback (here: logins refused twice
// after a drop, which a renewal does not fix) waits RetryMin again, not
// the wait the previous fallback had reached; each fallback logs its
// warning once.
func TestRealtimeFallbackBackoffStartsOver(t *testing.T) {
	t.Parallel()
	const outage = 50 * time.Millisecond
	s, logs, r := grownFallback(t, outage)
	up := time.Now()
	waitUntil(t, "the connection up for Outage", func() bool { return time.Since(up) > 2*outage })
	before := fallbackWaits(t, logs)
	require.GreaterOrEqual(t, len(before), 4)
	require.Greater(t, before[len(before)-1], fallbackFirst, "the first fallback's waits had grown")

	s.srv.RefuseLogins(2)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "the second fallback, and realtime back", func() bool {
		return logs.count("realtime events restored") == 2 && r.src.State() == StateRealtime
	})
	after := fallbackWaits(t, logs)[len(before):]
	require.NotEmpty(t, after)
	assert.LessOrEqual(t, after[0], fallbackFirst, "the second fallback starts from RetryMin")
	assert.Equal(t, 2, logs.count("realtime events unavailable: polling subscriptions.get instead"), "one warning per fallback")
}

// TestRealtimeFallbackBriefConnectionKeepsBackingOff: a connection lost at
// once after its first sync (a proxy that passes the first upgrade and
// refuses the reconnection's) does not start the fallback's waits over:
// they keep growing, so a flapping proxy is not tried every RetryMin.
func TestRealtimeFallbackBriefConnectionKeepsBackingOff(t *testing.T) {
	t.Parallel()
	s, logs, _ := grownFallback(t, time.Hour)
	before := fallbackWaits(t, logs)
	grown := before[len(before)-1]
	require.Greater(t, grown, fallbackFirst, "the first fallback's waits had grown")

	// Lost at once: the reconnection's upgrade is refused.
	s.srv.RefuseUpgrade(true)
	require.Equal(t, 1, s.srv.DropSessions())
	waitUntil(t, "the second fallback", func() bool { return len(fallbackWaits(t, logs)) > len(before) })
	after := fallbackWaits(t, logs)[len(before):]
	assert.Greater(t, after[0], grown/2, "the waits go on from where they were (less a jitter of up to a half), not from RetryMin")
}

// fallbackFirst is grownFallback's RetryMin.
const fallbackFirst = 20 * time.Millisecond

// grownFallback runs an auto Realtime (RetryMin fallbackFirst, Outage
// outage) whose upgrades are refused until its fallback's waits have grown
// (three retries), then lets it connect.
func grownFallback(t *testing.T, outage time.Duration) (*rtServer, *logBuf, *running) {
	t.Helper()
	s := newRTServer(t)
	s.srv.RefuseUpgrade(true)
	logs := &logBuf{}
	opts := s.options(zerolog.New(logs))
	opts.Fallback, opts.RetryMin, opts.Outage = true, fallbackFirst, outage
	opts.Poll.Fatal = func(error) bool { return false }
	r := runRealtime(t, NewRealtime(s.client.Subscriptions, opts))
	waitUntil(t, "four tries of realtime refused", func() bool { return logs.count("realtime events still unavailable") >= 3 })
	s.srv.RefuseUpgrade(false)
	r.connected(t, s, 1)
	return s, logs, r
}
