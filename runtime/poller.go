package runtime

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// seenKey identifies one version of one subscription (or one deletion).
type seenKey struct {
	id string
	ts int64 // UnixNano of _updatedAt (or _deletedAt)
}

// poller feeds rc.on("subscription") handlers from subscriptions.get.
//
// The cursor is the greatest _updatedAt/_deletedAt the server sent (never
// the local clock); each poll asks for changes after cursor-overlap, and
// (id, timestamp) pairs already delivered are skipped. Pairs at or before
// the query floor can never come back (the server filters with a strict
// ">"), so they are forgotten: memory stays bounded by the changes inside
// the overlap window plus the set of known subscription ids.
type poller struct {
	h   *Host
	src SubscriptionSource
	log zerolog.Logger

	baselined bool
	cursor    time.Time
	known     map[string]bool
	seen      map[seenKey]bool
	fails     int
}

func newPoller(h *Host, src SubscriptionSource) *poller {
	p := &poller{h: h, src: src, log: h.log.With().Str("component", "subscription-poller").Logger()}
	p.reset()
	return p
}

// reset forgets everything: the next poll is a baseline again.
func (p *poller) reset() {
	p.baselined = false
	p.cursor = time.Time{}
	p.known = map[string]bool{}
	p.seen = map[seenKey]bool{}
	p.fails = 0
}

// run polls while some script listens; it returns when ctx ends.
func (p *poller) run(ctx context.Context) {
	for {
		if !p.h.anyListener() {
			if p.baselined {
				p.log.Debug().Msg("no script listens to subscriptions: polling paused")
			}
			p.reset()
			select {
			case <-ctx.Done():
				return
			case <-p.h.pollWake:
				continue
			}
		}
		wait := p.poll(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// poll runs one poll and returns how long to wait before the next.
func (p *poller) poll(ctx context.Context) time.Duration {
	opts := &rc.GetSubscriptionsOptions{}
	if p.baselined && !p.cursor.IsZero() {
		opts.UpdatedSince = p.cursor.Add(-p.h.cfg.pollOverlap)
	}
	res, err := p.src.Get(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		p.fails++
		wait := p.backoff(err)
		p.log.Warn().Err(err).Int("failures", p.fails).Stringer("retry_in", wait).
			Msg("subscriptions poll failed: cursor kept, retrying")
		return wait
	}
	p.fails = 0
	if res == nil {
		res = &rc.SubscriptionsResult{}
	}
	if !p.baselined {
		for _, s := range res.Update {
			if s == nil {
				continue
			}
			p.known[s.ID] = true
			p.seen[seenKey{s.ID, s.UpdatedAt.UnixNano()}] = true
			p.advance(s.UpdatedAt)
		}
		p.baselined = true
		p.log.Debug().Int("subscriptions", len(p.known)).Time("cursor", p.cursor).Msg("subscriptions baseline taken")
		return p.h.cfg.PollInterval
	}
	for _, s := range res.Update {
		if s == nil {
			continue
		}
		k := seenKey{s.ID, s.UpdatedAt.UnixNano()}
		p.advance(s.UpdatedAt)
		if p.seen[k] {
			continue
		}
		p.seen[k] = true
		action := "inserted"
		if p.known[s.ID] {
			action = "updated"
		}
		p.known[s.ID] = true
		p.h.dispatch(event{kind: evSubscription, action: action, sub: s})
	}
	for i := range res.Remove {
		r := res.Remove[i]
		k := seenKey{"-" + r.ID, r.DeletedAt.UnixNano()}
		p.advance(r.DeletedAt)
		if p.seen[k] {
			continue
		}
		p.seen[k] = true
		if !p.known[r.ID] {
			continue // never seen alive since the baseline: nothing to report
		}
		delete(p.known, r.ID)
		p.h.dispatch(event{kind: evSubscription, action: "removed", removed: &r})
	}
	p.prune()
	return p.h.cfg.PollInterval
}

func (p *poller) advance(t time.Time) {
	if t.After(p.cursor) {
		p.cursor = t
	}
}

// prune forgets pairs the next query cannot return.
func (p *poller) prune() {
	floor := p.cursor.Add(-p.h.cfg.pollOverlap).UnixNano()
	for k := range p.seen {
		if k.ts <= floor {
			delete(p.seen, k)
		}
	}
}

// backoff returns the wait after a failed poll: a rate limit waits until
// its reset; other failures back off exponentially from the poll interval,
// capped and jittered (rc.Backoff).
func (p *poller) backoff(err error) time.Duration {
	maxWait := max(p.h.cfg.maxBackoff, p.h.cfg.PollInterval)
	var rerr *rc.Error
	if errors.As(err, &rerr) && (errors.Is(err, rc.ErrRateLimited) || rerr.Status == 429) {
		// RetryAfter comes first: rc computes it from the server's own
		// numbers. Reset is a server timestamp compared with the local
		// clock; a skewed clock is harmless because the wait is clamped
		// to [PollInterval, maxWait] below: too early a retry costs one
		// more 429, too late one at most maxWait.
		wait := rerr.RetryAfter
		if wait <= 0 && !rerr.Reset.IsZero() {
			wait = time.Until(rerr.Reset)
		}
		if wait > 0 {
			return min(max(wait, p.h.cfg.PollInterval), maxWait)
		}
	}
	return rc.Backoff{Min: p.h.cfg.PollInterval, Max: maxWait}.Delay(p.fails)
}
