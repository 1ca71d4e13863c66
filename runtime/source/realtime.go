package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/realtime"
)

// RealtimeOptions configure a Realtime source. Zero durations take the
// defaults.
type RealtimeOptions struct {
	// URL is the server's address, as rc.New takes it.
	URL string
	// Token returns the token to log in with, called at each connection:
	// the personal access token, or the session of the REST client's
	// password login, which a renewal replaces ((*rc.Client).AuthToken).
	Token func() string
	// Dial are more options of realtime.Dial: realtime.WithHTTPClient
	// with the REST client's, a backoff in tests.
	Dial []realtime.Option
	// Fallback polls subscriptions.get while the realtime API cannot be
	// reached (--events auto), trying it again every Retry; false keeps
	// trying the realtime API only (--events realtime).
	Fallback bool
	// Retry is how often realtime is tried again while polling; default
	// 5m.
	Retry time.Duration
	// Resync is how often, while the stream is up, a REST query of the
	// subscriptions changed since the cursor runs: it catches what a
	// stream may have missed without a disconnection and moves the cursor
	// (which bounds the memory of the de-duplication). Default 5m.
	Resync time.Duration
	// Poll configures the REST side: Interval while falling back,
	// Overlap, MaxBackoff, Log, and Fatal, which also judges a login the
	// realtime API refused (nil: every refusal is fatal).
	Poll PollOptions
}

// Defaults of RealtimeOptions.
const (
	DefaultRealtimeRetry  = 5 * time.Minute
	DefaultRealtimeResync = 5 * time.Minute
	dialTimeout           = 30 * time.Second
)

// The states of a Realtime source (Realtime.State).
const (
	StateConnecting = "connecting" // no stream yet, or between connections
	StateRealtime   = "realtime"   // the stream is up
	StatePolling    = "polling"    // realtime unavailable: polling (Fallback)
)

// Realtime is the event source of rc.on("subscription") through the
// realtime API (DDP): it subscribes to the user's subscriptions-changed
// stream and emits the same events as Poll, with the same (action, raw
// subscription), as they happen.
//
// The REST cursor of Poll stays the source of truth: on the first
// connection of a Run, once the stream is ready, subscriptions.get takes
// the baseline (nothing is emitted for it); after every reconnection, once
// the stream is ready again, subscriptions.get?updatedSince=cursor-overlap
// catches up what the gap missed, and a stream event and a REST answer
// for one version of a subscription are one event (Poll's key: _id,
// _updatedAt and a hash of the canonical JSON). A stream event older than
// the version already emitted for its subscription is skipped. A removal
// from the stream is {_id, _deletedAt} like Poll's, dated with the local
// clock when it arrived (the stream carries no date).
//
// When the realtime API cannot be reached (a proxy without websockets,
// a dial failure) and Fallback is set, it polls with the same state, so
// nothing is lost or doubled across the switch, logs once why, and tries
// realtime again every Retry. A login the realtime API refuses ends Run
// with the error when Poll.Fatal says so; else (a password session the
// REST client renews) a REST query runs, which renews it, and it connects
// again with the new token.
type Realtime struct {
	subs  Subscriptions
	opts  RealtimeOptions
	poll  *Poll // the REST side: its options and its state's methods
	log   zerolog.Logger
	state atomic.Value
}

var _ Source = (*Realtime)(nil)

// NewRealtime returns a realtime source of the server at opts.URL; subs
// is the REST side for the baseline, the catch-ups and the fallback.
func NewRealtime(subs Subscriptions, opts RealtimeOptions) *Realtime {
	if opts.Retry <= 0 {
		opts.Retry = DefaultRealtimeRetry
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultRealtimeResync
	}
	log := opts.Poll.Log.With().Str("component", "realtime-events").Logger()
	r := &Realtime{subs: subs, opts: opts, poll: NewPoll(subs, opts.Poll), log: log}
	r.state.Store(StateConnecting)
	return r
}

// Kinds returns KindSubscription.
func (r *Realtime) Kinds() []string { return []string{KindSubscription} }

// State returns how events arrive now: StateConnecting, StateRealtime or
// StatePolling.
func (r *Realtime) State() string { return r.state.Load().(string) }

// Run connects, emits events until ctx ends and returns nil then, or
// returns the error that ends it (a refused login Fatal judges final, a
// fatal REST failure). Every Run starts with a baseline.
func (r *Realtime) Run(ctx context.Context, emit Emit) error {
	defer r.state.Store(StateConnecting)
	defer r.log.Debug().Msg("realtime events stopped")
	st := newPollState(r.poll)
	polling := false // the fallback's warning was logged
	refused := 0     // logins refused in a row
	for attempt := 1; ; attempt++ {
		r.state.Store(StateConnecting)
		c, err := r.dial(ctx)
		if err == nil {
			if polling {
				r.log.Info().Msg("realtime events restored: polling stopped")
				polling = false
			}
			attempt, refused = 0, 0
			err = r.serve(ctx, c, st, emit)
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case st.fatal != nil:
			return st.fatal
		case errors.Is(err, realtime.ErrLoginRefused):
			if r.poll.opts.Fatal(err) {
				return fmt.Errorf("realtime events: %w", err)
			}
			// The REST client may hold a session the server ended: a REST
			// query renews it (or finds it lost: Fatal then), and the
			// first refusal in a row is tried again with its token at once.
			if st.poll(ctx, emit); st.fatal != nil {
				return st.fatal
			}
			if refused++; refused == 1 {
				attempt--
				continue
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if r.opts.Fallback {
			if !polling {
				polling = true
				r.log.Warn().Err(err).Stringer("poll_interval", r.poll.opts.Interval).Stringer("retry_in", r.opts.Retry).
					Msg("realtime events unavailable: polling subscriptions.get instead, trying realtime again now and then")
			} else {
				r.log.Debug().Err(err).Stringer("retry_in", r.opts.Retry).Msg("realtime events still unavailable: polling on")
			}
			r.state.Store(StatePolling)
			if r.pollFor(ctx, st, emit, r.opts.Retry); st.fatal != nil {
				return st.fatal
			}
			continue
		}
		wait := rc.Backoff{Min: time.Second, Max: r.poll.opts.MaxBackoff}.Delay(attempt)
		r.log.Warn().Err(err).Stringer("retry_in", wait.Round(time.Millisecond)).Msg("realtime events unavailable: connecting again")
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// dial connects to the realtime API.
func (r *Realtime) dial(ctx context.Context) (*realtime.Client, error) {
	tok := ""
	if r.opts.Token != nil {
		tok = r.opts.Token()
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	return realtime.Dial(dctx, r.opts.URL, tok, r.opts.Dial...)
}

// serve runs one client until it stops (its error: a refused login) or
// ctx ends (nil); it closes the client. A fatal REST failure is left in
// st.fatal.
func (r *Realtime) serve(ctx context.Context, c *realtime.Client, st *pollState, emit Emit) error {
	defer c.Close()
	if _, err := c.SubscribeSubscriptionChanges(ctx); err != nil {
		return fmt.Errorf("realtime events: subscribing to subscriptions-changed: %w", err)
	}
	r.state.Store(StateRealtime)
	r.log.Debug().Msg("realtime events connected")
	sync := time.NewTimer(0) // the baseline (or a catch-up) now
	defer sync.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sync.C:
			wait := st.poll(ctx, emit)
			if st.fatal != nil || ctx.Err() != nil {
				return nil
			}
			if st.fails == 0 {
				wait = r.opts.Resync
			}
			sync.Reset(wait)
		case ev, ok := <-c.Events():
			if !ok {
				if err := c.Err(); err != nil {
					return err
				}
				return errors.New("realtime events: the client stopped")
			}
			switch {
			case ev.Kind == realtime.Ready && ev.Seq > 1:
				// A reconnection, subscribed again: catch up on the gap.
				r.state.Store(StateRealtime)
				r.log.Debug().Int("connection", ev.Seq).Msg("realtime events reconnected: catching up")
				sync.Reset(0)
			case ev.Kind == realtime.Disconnected:
				r.state.Store(StateConnecting)
				r.log.Debug().Err(ev.Err).Msg("realtime events disconnected: reconnecting")
			case ev.IsSubscriptionChange():
				if err := st.stream(ctx, emit, &ev); err != nil {
					r.log.Error().Err(err).Msg("cannot read a subscriptions-changed event: skipped (the next catch-up has it)")
				}
				if ctx.Err() != nil {
					return nil
				}
			}
		}
	}
}

// pollFor polls with st for d (the fallback), until ctx ends or the REST
// side fails for good (st.fatal).
func (r *Realtime) pollFor(ctx context.Context, st *pollState, emit Emit, d time.Duration) {
	end := time.Now().Add(d)
	for {
		wait := st.poll(ctx, emit)
		left := time.Until(end)
		if st.fatal != nil || ctx.Err() != nil || left <= 0 {
			return
		}
		if sleep(ctx, min(wait, left)) != nil {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stream emits a subscriptions-changed event the way poll emits a REST
// answer: skipped before the baseline (which covers it), when its version
// was emitted already, or when it is older than the newest version
// emitted for that subscription. It returns an error for an event it
// cannot read; ctx's end shows in ctx.
func (st *pollState) stream(ctx context.Context, emit Emit, ev *realtime.Event) error {
	action, sub, err := ev.SubscriptionChange()
	if err != nil {
		return err
	}
	if !st.baselined || sub.ID == "" {
		return nil
	}
	if action == ActionRemoved {
		prev, ok := st.known[sub.ID]
		if !ok {
			return nil // never seen alive since the baseline
		}
		at := time.Now().UTC().Truncate(time.Millisecond)
		if at.Before(prev) {
			at = prev
		}
		r := rc.RemovedSubscription{ID: sub.ID, DeletedAt: at}
		st.seen[seenKey{id: "-" + r.ID, ts: r.DeletedAt.UnixNano()}] = true
		delete(st.known, sub.ID)
		_ = emit(ctx, Event{Kind: KindSubscription, Action: ActionRemoved, ID: r.ID, Raw: removedJSON(r)})
		return nil
	}
	k, raw, err := st.version(sub)
	if err != nil {
		return err
	}
	prev, known := st.known[sub.ID]
	if st.seen[k] || (known && sub.UpdatedAt.Before(prev)) {
		return nil
	}
	st.seen[k] = true
	out := ActionUpdated
	if !known {
		out = ActionInserted
	}
	st.known[sub.ID] = sub.UpdatedAt
	_ = emit(ctx, Event{Kind: KindSubscription, Action: out, ID: sub.ID, Raw: bytes.Clone(raw)})
	return nil
}
