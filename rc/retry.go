package rc

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"
)

// retryWait decides whether the failed attempt number attempt of r is tried
// again, and after how long.
func (c *Client) retryWait(ctx context.Context, r *request, err error, transport bool, attempt int) (time.Duration, bool) {
	p := c.retry
	if p == nil || attempt >= p.MaxAttempts || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status == http.StatusTooManyRequests:
		if e.Reset.IsZero() {
			wait = backoff(p, attempt)
			break
		}
		wait = max(e.Reset.Sub(c.now()), 0)
		if wait > p.MaxRateLimitWait {
			return 0, false
		}
		wait += jitter(p.MinBackoff)
	case r.method != http.MethodGet:
		return 0, false
	case errors.As(err, &e) && e.Status >= 500:
		wait = backoff(p, attempt)
	case transport:
		wait = backoff(p, attempt)
	default:
		return 0, false
	}
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
		return 0, false // the context would end first: fail now
	}
	return wait, true
}

// backoff is the wait after the failed attempt number attempt (1-based):
// MinBackoff doubled per attempt, capped at MaxBackoff, with "equal jitter"
// (a random value between half of it and all of it).
func backoff(p *RetryPolicy, attempt int) time.Duration {
	d := p.MinBackoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	return d/2 + jitter(d/2)
}

// jitter returns a random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
