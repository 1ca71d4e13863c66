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
			wait = p.backoff().Delay(attempt)
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
		wait = p.backoff().Delay(attempt)
	case transport:
		wait = p.backoff().Delay(attempt)
	default:
		return 0, false
	}
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(wait).After(deadline) {
		return 0, false // the context would end first: fail now
	}
	return wait, true
}

// backoff is the policy's backoff: MinBackoff doubled per attempt, capped
// at MaxBackoff, with equal jitter (see Backoff).
func (p *RetryPolicy) backoff() Backoff {
	return Backoff{Min: p.MinBackoff, Max: p.MaxBackoff}
}

// jitter returns a random duration in [0, d): the spread added to a
// rate-limit reset, so that callers limited together do not retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
