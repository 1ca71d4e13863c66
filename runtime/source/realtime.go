package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
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
	// reached (--events auto), trying it again with a backoff from
	// RetryMin to Retry; false keeps trying the realtime API only
	// (--events realtime).
	Fallback bool
	// RetryMin is the wait before realtime is first tried again once
	// polling; each failed try doubles it (with jitter: rc.Backoff), up to
	// Retry, and a connection that works starts it over. Default 10s, at
	// most Retry.
	RetryMin time.Duration
	// Retry is the longest wait between tries of realtime while polling;
	// default 5m, or half of CatchUp when that is less, so that a try that
	// works comes while the outage's messages can be caught up.
	Retry time.Duration
	// Outage is how long a lost connection may stay down, while the
	// client reconnects by itself, before it counts as an outage: with
	// Fallback the source then polls as when the first connection fails
	// (at once when a reconnection's upgrade is refused); without, one
	// warning is logged and it keeps reconnecting. A connection back
	// sooner is a blip, logged at debug only. Default 10s.
	Outage time.Duration
	// Resync is how often, while the stream is up, a REST query of the
	// subscriptions changed since the cursor runs: it catches what a
	// stream may have missed without a disconnection and moves the cursor
	// (which bounds the memory of the de-duplication). Default 5m.
	Resync time.Duration
	// UserID is the bot's user id: its own messages are never emitted
	// ("": the id the realtime API logged in as).
	UserID string
	// History catches messages up after a gap (nil: no catch-up of
	// messages); (*rc.Client).Chat.
	History MessageHistory
	// Rooms lists the rooms changed during a gap, whose messages the
	// catch-up reads beside those of the rooms whose subscription changed:
	// a plain message in a room where the bot is already alerted changes
	// the room, not the subscription (nil: only the latter);
	// (*rc.Client).Rooms.
	Rooms RoomChanges
	// CatchUp bounds how far back the catch-up of messages goes after a
	// gap (--catch-up); older messages are skipped, with one log line.
	// Default 5m. It is Poll.CatchUp too when that is zero.
	CatchUp time.Duration
	// Poll configures the REST side: Interval while falling back,
	// Overlap, MaxBackoff, Log, and Fatal, which also judges a login the
	// realtime API refused (nil: every refusal is fatal).
	Poll PollOptions
}

// Defaults of RealtimeOptions.
const (
	DefaultRealtimeRetryMin = 10 * time.Second
	DefaultRealtimeRetry    = 5 * time.Minute
	DefaultRealtimeResync   = 5 * time.Minute
	DefaultRealtimeOutage   = 10 * time.Second
	dialTimeout             = 30 * time.Second
)

// The states of a Realtime source (Realtime.State).
const (
	StateConnecting = "connecting" // no stream yet, or between connections
	StateRealtime   = "realtime"   // the stream is up
	StatePolling    = "polling"    // realtime unavailable: polling (Fallback)
)

// Realtime is the event source of rc.on("subscription") and of message
// events through the realtime API (DDP): it subscribes to the user's
// subscriptions-changed stream and emits the same events as Poll, with the
// same (action, raw subscription), as they happen; and to
// "__my_messages__", emitting each message of a room the bot is a member
// of (never the bot's own) as KindMessage: ActionCreated the first time,
// ActionUpdated for a later state (an edit, a reaction, a thread's
// counters), with the message's REST JSON. A message's versions are told
// apart by _updatedAt; system messages come too, with their "t".
//
// The REST cursor of Poll stays the source of truth: on the first
// connection of a Run, once the stream is ready, subscriptions.get takes
// the baseline (nothing is emitted for it); after every reconnection, once
// the stream is ready again, subscriptions.get?updatedSince=cursor-overlap
// catches up what the gap missed, and a stream event and a REST answer
// for one version of a subscription are one event (Poll's key: _id,
// _updatedAt and a hash of the canonical JSON). A stream event older than
// the version a REST answer gave for its subscription, before the stream
// reached that version, is a late copy and skipped; among stream events
// the stream's order wins over their stamps, so a change stamped earlier
// than the last (a server clock stepped back, a cluster's skewed nodes)
// is still delivered. A removal
// from the stream is {_id, _deletedAt} like Poll's, dated with the local
// clock when it arrived (the stream carries no date).
//
// When the realtime API cannot be reached (a proxy without websockets,
// a dial failure) and Fallback is set, it polls with the same state, so
// nothing is lost or doubled across the switch, logs once why, and tries
// realtime again after RetryMin, then after waits doubling up to Retry
// (jittered, rc.Backoff) while it still fails; once a connection has
// worked for Outage, the next fallback starts from RetryMin again. A connection lost later is the
// same once it cannot come back: the client reconnects by itself, and
// when a reconnection's upgrade is refused, or the connection stays down
// for Outage, Fallback polls as above; without Fallback it keeps
// reconnecting, with one warning once the connection has been down for
// Outage and an info line when it is back. A connection back within
// Outage is logged at debug only. A login the realtime API refuses ends Run
// with the error when Poll.Fatal says so; else (a password session the
// REST client renews) a REST query runs, which renews it, and it connects
// again with the new token.
//
// After a gap (a reconnection, or polling), once the subscriptions are
// caught up, the messages of the rooms that changed during the gap (those
// Rooms lists, and those whose subscription changed) are caught up with
// chat.syncMessages (History), from the start
// of the gap less the overlap but at most CatchUp back (older ones are
// skipped, with a warning), each delivered once, before the events that
// follow. While polling, the same catch-up runs after every poll.
//
// With Poll.Cursors, the state is saved as Poll's is, with the message
// cursor: where the messages stand (the start of an open gap, else the
// newest message read from the stream or a catch-up, or the clock at a
// resync or a stop that finds nothing unread in the client: never the
// clock while events wait there, so the messages a slow handler left
// unread are after it and caught up at a restart, while a restart after a
// quiet period starts from the stop), the rooms whose messages a restart catches up
// (those changed during an open gap, else those changed at or after the
// position less the overlap, whose messages may still be unread), and the
// messages emitted within the overlap. A Run that finds it starts with a
// gap open since then: the subscriptions and the messages are caught up as
// after a reconnection, within CatchUp.
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
	if opts.Resync <= 0 {
		opts.Resync = DefaultRealtimeResync
	}
	if opts.Outage <= 0 {
		opts.Outage = DefaultRealtimeOutage
	}
	if opts.CatchUp <= 0 {
		opts.CatchUp = DefaultCatchUp
	}
	if opts.Retry <= 0 {
		// Below the catch-up window: a try that works comes while the
		// messages of the outage's first minutes can still be caught up;
		// never below the first wait (a tiny --catch-up must not make the
		// fallback dial in a loop).
		opts.Retry = max(min(DefaultRealtimeRetry, opts.CatchUp/2), DefaultRealtimeRetryMin)
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRealtimeRetryMin
	}
	opts.RetryMin = min(opts.RetryMin, opts.Retry)
	if opts.Poll.CatchUp <= 0 {
		opts.Poll.CatchUp = opts.CatchUp
	}
	log := opts.Poll.Log.With().Str("component", "realtime-events").Logger()
	r := &Realtime{subs: subs, opts: opts, poll: NewPoll(subs, opts.Poll), log: log}
	r.state.Store(StateConnecting)
	return r
}

// Kinds returns KindSubscription and KindMessage.
func (r *Realtime) Kinds() []string { return []string{KindSubscription, KindMessage} }

// State returns how events arrive now: StateConnecting, StateRealtime or
// StatePolling.
func (r *Realtime) State() string { return r.state.Load().(string) }

// Name returns "realtime", the source's name in metrics and status.
func (r *Realtime) Name() string { return "realtime" }

// Polling returns the state of the polls of the REST side (see
// Poll.State): while State is StatePolling, StateFailing means that the
// polls fail.
func (r *Realtime) Polling() string { return r.poll.State() }

// PollsMessages reports whether message events come while polling
// (History is set): after every poll, from the rooms that changed.
func (r *Realtime) PollsMessages() bool { return r.opts.History != nil }

// Newest returns the newest server _updatedAt of the subscriptions and
// messages the source saw, zero before any (see Poll.Newest).
func (r *Realtime) Newest() time.Time { return r.poll.Newest() }

// Run connects, emits events until ctx ends and returns nil then, or
// returns the error that ends it (a refused login Fatal judges final, a
// fatal REST failure). A Run starts with a baseline, or from the saved
// cursor (Poll.Cursors).
func (r *Realtime) Run(ctx context.Context, emit Emit) error {
	defer r.state.Store(StateConnecting)
	defer r.log.Debug().Msg("realtime events stopped")
	run := &rtRun{r: r, emit: emit, st: newPollState(r.poll), ms: newMsgState(r.opts.UserID, r.opts.CatchUp)}
	st := run.st
	st.rooms, st.fromREST = map[string]time.Time{}, map[string]bool{}
	if sv := r.poll.saver(); sv != nil {
		if s := sv.load(); s != nil {
			st.restore(s)
			run.restoreMessages(s)
		}
		stop := sv.start(ctx)
		defer stop()
		run.sv, run.emit = sv, sv.track(emit)
		defer run.save() // before stop: its last state is saved if handled
	}
	polling := false // the fallback's warning was logged
	failing := false // the warning of a failed dial was logged (no Fallback)
	refused := 0     // logins refused in a row
	for attempt := 1; ; attempt++ {
		r.state.Store(StateConnecting)
		c, err := r.dial(ctx)
		if err == nil {
			if polling {
				r.log.Info().Msg("realtime events restored: polling stopped")
				polling = false
			}
			if failing {
				r.log.Info().Msg("realtime events connected")
				failing = false
			}
			run.synced = false
			err = run.serve(ctx, c)
			if run.synced && time.Since(run.syncedAt) >= r.opts.Outage {
				// A connection that worked (its first sync done, then up
				// for Outage): the waits start over. One failing before, a
				// subscription refused each time, or one lost at once each
				// time (a proxy passing the first upgrade and refusing the
				// reconnection's), keeps backing off.
				attempt, refused = 0, 0
			}
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
			if st.poll(ctx, run.emit); st.fatal != nil {
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
			// attempt counts the failed tries since the last connection
			// that worked: the wait doubles from RetryMin up to Retry.
			wait := rc.Backoff{Min: r.opts.RetryMin, Max: r.opts.Retry}.Delay(attempt)
			if !polling {
				polling = true
				r.log.Warn().Err(err).Stringer("poll_interval", r.poll.opts.Interval).Stringer("retry_in", wait.Round(time.Millisecond)).
					Msg("realtime events unavailable: polling subscriptions.get instead (and, for message events, the rooms that changed), trying realtime again now and then")
			} else {
				r.log.Debug().Err(err).Stringer("retry_in", wait.Round(time.Millisecond)).Msg("realtime events still unavailable: polling on")
			}
			r.state.Store(StatePolling)
			if run.pollFor(ctx, wait); st.fatal != nil {
				return st.fatal
			}
			continue
		}
		wait := rc.Backoff{Min: time.Second, Max: r.poll.opts.MaxBackoff}.Delay(attempt)
		if !failing {
			failing = true
			r.log.Warn().Err(err).Stringer("retry_in", wait.Round(time.Millisecond)).Msg("realtime events unavailable: connecting again")
		} else {
			r.log.Debug().Err(err).Stringer("retry_in", wait.Round(time.Millisecond)).Msg("realtime events still unavailable: connecting again")
		}
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

// rtRun is one Run's state: the REST cursor of the subscriptions, the
// messages emitted, and the gap to catch up.
type rtRun struct {
	r    *Realtime
	emit Emit
	st   *pollState
	ms   *msgState
	// gap is when the stream was lost (the server's clock), zero while
	// nothing is to catch up: the next successful sync catches up the
	// messages of the rooms changed since (changedRooms). While polling it
	// is the start of the last round of messages read.
	gap time.Time
	// sv saves the state (nil without Cursors); dirty is set when events
	// came since the state was last offered to it.
	sv    *cursorSaver
	dirty bool
	// drained, while a client serves, reports whether it holds no event
	// unread: every message it was sent is read.
	drained func() bool
	// synced reports that the client being served did its first sync: the
	// connection worked (Run's waits start over).
	synced   bool
	syncedAt time.Time // when synced was set
	// roomsRefused counts rooms.get's refusals in a row; after
	// maxRoomsRefusals it is not asked before noRoomsUntil (roomsWarned:
	// that was logged).
	roomsRefused int
	noRoomsUntil time.Time
	roomsWarned  bool
	// down is the lost connection of the client being served, while it
	// reconnects by itself.
	down outage
}

// outage is a lost connection of the client being served while the
// client reconnects by itself.
type outage struct {
	since  time.Time   // when the connection was lost; zero while up
	err    error       // the last error: the loss's, then each failed try's
	tries  int         // the failed tries to reconnect
	warned bool        // logged as an outage (no Fallback)
	long   *time.Timer // fires once it has lasted Outage
}

// disconnected records a Disconnected event of the client being served:
// the loss of its connection, or a failed try to reconnect. It returns
// the error that ends serve for the fallback: with Fallback, a refused
// upgrade (the server or a proxy passes no websocket now).
func (run *rtRun) disconnected(ev *realtime.Event) error {
	r, d := run.r, &run.down
	if d.since.IsZero() {
		d.since = time.Now()
		d.long.Reset(r.opts.Outage)
		r.log.Debug().Err(ev.Err).Msg("realtime events disconnected: reconnecting")
	} else {
		d.tries++
		r.log.Debug().Err(ev.Err).Int("tries", d.tries).Msg("realtime events: reconnecting failed")
	}
	if ev.Err != nil {
		d.err = ev.Err
	}
	if r.opts.Fallback && errors.Is(ev.Err, realtime.ErrUpgradeRefused) {
		return run.outageErr()
	}
	return nil
}

// longOutage is the connection lost for Outage: with Fallback, the error
// that ends serve for the fallback; else a warning, once.
func (run *rtRun) longOutage() error {
	r, d := run.r, &run.down
	if d.since.IsZero() {
		return nil
	}
	if r.opts.Fallback {
		return run.outageErr()
	}
	d.warned = true
	r.log.Warn().Err(d.err).Time("since", d.since).Int("tries", d.tries).
		Msg("realtime events disconnected: no events until the connection is back; reconnecting")
	return nil
}

// outageErr says why the lost connection is given up.
func (run *rtRun) outageErr() error {
	d := &run.down
	down := time.Since(d.since).Round(time.Millisecond)
	if d.err == nil {
		return fmt.Errorf("realtime events: connection lost %s ago, %d tries to reconnect failed", down, d.tries)
	}
	return fmt.Errorf("realtime events: connection lost %s ago, %d tries to reconnect failed: %w", down, d.tries, d.err)
}

// reconnected ends the outage: the client is connected and subscribed
// again. Only an outage that was warned about is logged at info.
func (run *rtRun) reconnected(seq int) {
	r, d := run.r, &run.down
	if d.warned {
		r.log.Info().Int("connection", seq).Stringer("down_for", time.Since(d.since).Round(time.Millisecond)).
			Int("tries", d.tries).Msg("realtime events reconnected: catching up")
	} else {
		r.log.Debug().Int("connection", seq).Msg("realtime events reconnected: catching up")
	}
	d.long.Stop()
	*d = outage{long: d.long}
}

// drainedClient reports whether c holds no event unread: none waits in
// its channel or for room in it.
func drainedClient(c *realtime.Client) func() bool {
	return func() bool {
		s := c.Stats()
		return s.Received == s.Delivered && len(c.Events()) == 0
	}
}

// save offers the state to the saver, once there is one to save.
func (run *rtRun) save() {
	if run.sv == nil || !run.st.baselined || run.ms.since.IsZero() {
		return
	}
	run.dirty = false
	run.sv.offer(run.st.snapshot(run.savedMessages()))
}

// lost records the start of a gap, unless one is open already: the
// server's clock when everything the stream sent was read, or (unread is
// set: the client was dropped with events left in it) the message
// position, so that the catch-up covers what was never read.
func (run *rtRun) lost(unread bool) {
	if !run.gap.IsZero() || !run.st.baselined {
		return
	}
	run.gap = run.st.serverNow()
	if unread && !run.ms.pos.IsZero() && run.ms.pos.Before(run.gap) {
		run.gap = run.ms.pos
	}
}

// serve runs one client until it stops (its error: a refused login) or
// ctx ends (nil); it closes the client. A fatal REST failure is left in
// st.fatal.
func (run *rtRun) serve(ctx context.Context, c *realtime.Client) error {
	r, st := run.r, run.st
	defer c.Close()
	drained := false // the client's events were read to the end
	defer func() { run.lost(!drained) }()
	if _, err := c.SubscribeSubscriptionChanges(ctx); err != nil {
		return fmt.Errorf("realtime events: subscribing to subscriptions-changed: %w", err)
	}
	if _, err := c.SubscribeMyMessages(ctx); err != nil {
		return fmt.Errorf("realtime events: subscribing to messages: %w", err)
	}
	if run.ms.botID == "" {
		run.ms.botID = c.UserID()
	}
	run.drained = drainedClient(c)
	defer func() { run.drained = nil }()
	r.state.Store(StateRealtime)
	r.log.Debug().Msg("realtime events connected")
	// The baseline (or the catch-up of the gap before this client) comes
	// before any event: until it is done, events wait in the client.
	for {
		wait, ok := run.sync(ctx)
		if st.fatal != nil || ctx.Err() != nil {
			return nil
		}
		if ok {
			run.synced, run.syncedAt = true, time.Now()
			break
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
	timer := time.NewTimer(r.opts.Resync)
	defer timer.Stop()
	run.down = outage{long: time.NewTimer(r.opts.Outage)}
	run.down.long.Stop()
	defer run.down.long.Stop()
	var saveC <-chan time.Time // offers the state to the saver now and then
	if run.sv != nil {
		t := time.NewTicker(run.sv.every)
		defer t.Stop()
		saveC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			if run.gap.IsZero() && run.drained() {
				// A stop with nothing unread: the position is now, so a
				// restart after a quiet period catches up from the stop.
				run.ms.read(st.serverNow())
			}
			return nil
		case <-saveC:
			if run.dirty {
				run.save()
			}
		case <-timer.C:
			wait, _ := run.sync(ctx)
			if st.fatal != nil || ctx.Err() != nil {
				return nil
			}
			timer.Reset(wait)
		case <-run.down.long.C:
			if err := run.longOutage(); err != nil {
				return err
			}
		case ev, ok := <-c.Events():
			if !ok {
				drained = true
				if err := c.Err(); err != nil {
					return err
				}
				return errors.New("realtime events: the client stopped")
			}
			err := run.handle(ctx, &ev, timer)
			if st.fatal != nil || ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
}

// handle handles one event of the client; timer is the next sync's. It
// returns the error that ends serve: the connection given up for the
// fallback.
func (run *rtRun) handle(ctx context.Context, ev *realtime.Event, timer *time.Timer) error {
	r := run.r
	run.dirty = true
	switch {
	case ev.Kind == realtime.Ready && ev.Seq > 1:
		// A reconnection, subscribed again: catch up on the gap before
		// the events that follow (a failure retries on the timer).
		r.state.Store(StateRealtime)
		run.reconnected(ev.Seq)
		wait, _ := run.sync(ctx)
		timer.Reset(wait)
	case ev.Kind == realtime.Disconnected:
		run.lost(false) // what the stream sent before is read
		r.state.Store(StateConnecting)
		return run.disconnected(ev)
	case ev.IsSubscriptionChange():
		if err := run.st.stream(ctx, run.emit, ev); err != nil {
			r.log.Error().Err(err).Msg("cannot read a subscriptions-changed event: skipped (the next catch-up has it)")
		}
	case ev.IsMessage():
		m, room, err := ev.Message()
		if err != nil {
			r.log.Error().Err(err).Msg("cannot read a message event: skipped")
			return nil
		}
		if room != nil && !room.Participant {
			run.ms.read(stamp(m))
			return nil // a public room the bot is not in
		}
		r.poll.health.see(m.UpdatedAt)
		_ = run.ms.offer(ctx, run.emit, m, run.st.serverNow(), false)
	}
	return nil
}

// sync runs a REST query of the subscriptions (the baseline, a catch-up,
// a resync) and, after a gap, the catch-up of messages; it reports whether
// it succeeded and how long to wait before the next.
func (run *rtRun) sync(ctx context.Context) (time.Duration, bool) {
	st, ms := run.st, run.ms
	began := time.Now()
	wait := st.poll(ctx, run.emit)
	if st.fatal != nil || ctx.Err() != nil || st.fails > 0 {
		return wait, false
	}
	now := st.serverNow()
	// The server's clock when this sync began: the stream was up by then,
	// so a message after it is the stream's to deliver.
	start := now.Add(-time.Since(began))
	if ms.since.IsZero() {
		ms.since, ms.began = now.Add(-run.r.poll.opts.Overlap), start
		ms.read(start)
	}
	if !run.gap.IsZero() {
		if !run.catchUpMessages(ctx, now) {
			return wait, false
		}
		run.gap = time.Time{}
		ms.read(start)
	} else if run.drained != nil && run.drained() {
		// Nothing waits unread in the client: every message sent before
		// the sync began was read.
		ms.read(start)
	}
	run.pruneRooms()
	ms.prune(now)
	run.save()
	return run.r.opts.Resync, true
}

// pruneRooms forgets the rooms whose subscription last changed before the
// message position less the overlap: their messages were read. The others
// stay (and are saved): their messages may still wait unread in the
// client (a slow handler), and a restart catches them up from the
// position.
func (run *rtRun) pruneRooms() {
	floor := run.ms.pos.Add(-run.r.poll.opts.Overlap)
	maps.DeleteFunc(run.st.rooms, func(_ string, at time.Time) bool { return at.Before(floor) })
}

// catchUpMessages emits the messages of the rooms changed since the gap
// began (less the overlap; changedRooms), at most the catch-up window back; it reports false when a query failed
// (the next sync tries again).
func (run *rtRun) catchUpMessages(ctx context.Context, now time.Time) bool {
	r, st, ms := run.r, run.st, run.ms
	if r.opts.History == nil {
		return true
	}
	from := run.gap.Add(-r.poll.opts.Overlap)
	if floor := now.Add(-ms.window); from.Before(floor) {
		r.log.Warn().Time("gap_start", run.gap).Stringer("catch_up", ms.window).
			Msg("the gap is longer than the catch-up window (--catch-up): older messages are not delivered")
		from = floor
	}
	// Every room first, then the messages in the order they were posted
	// (ts; within a millisecond, the server's order), across the rooms: a
	// handler sees them as the users wrote them.
	rooms, ok := run.changedRooms(ctx, from)
	if !ok {
		return false
	}
	var all []*rc.Message
	for _, rid := range rooms {
		res, err := r.opts.History.SyncMessages(ctx, rid, from)
		if re := (*rc.Error)(nil); errors.As(err, &re) && (re.Type == "error-not-allowed" || re.Type == "error-room-not-found") {
			// The bot left the room, or it is gone: nothing to catch up,
			// and asking again would hold the catch-up (and the gap) for ever.
			r.log.Warn().Str("room", rid).Str("error_type", re.Type).
				Msg("messages catch-up: the bot cannot read this room any more: skipped")
			delete(st.rooms, rid)
			continue
		}
		if err != nil {
			run.queryFailed(ctx, err, r.log.Warn().Str("room", rid), "messages catch-up failed: retrying")
			return false
		}
		// The server lists a room newest first: reversed, messages of one
		// millisecond keep the order they were posted in. A message from
		// before the bot joined the room is none of its (a room joined
		// again after the bot left it).
		joined := st.joined[rid]
		for _, m := range slices.Backward(res.Updated) {
			if m != nil && !m.TS.Before(joined) {
				all = append(all, m)
			}
		}
	}
	slices.SortStableFunc(all, func(a, b *rc.Message) int { return a.TS.Compare(b.TS) })
	for _, m := range all {
		if ms.offer(ctx, run.emit, m, now, true) != nil {
			return false
		}
	}
	return true
}

// queryFailed records the failure of a catch-up's query: fatal (as
// Poll.Fatal judges it) ends the Run, anything else is logged with ev and
// the query is tried at the next sync. Nothing is logged once ctx ended.
func (run *rtRun) queryFailed(ctx context.Context, err error, ev *zerolog.Event, msg string) {
	switch {
	case ctx.Err() != nil:
		ev.Discard()
	case run.r.poll.opts.Fatal(err):
		ev.Discard()
		run.st.fatal = fmt.Errorf("messages catch-up: %w", err)
	default:
		ev.Err(err).Msg(msg)
	}
}

// maxRoomsRefusals is how many refusals of rooms.get in a row the catch-up
// retries before it does without for a while (Resync).
const maxRoomsRefusals = 3

// changedRooms returns the rooms to catch the messages of up from from:
// those whose subscription changed, and those rooms.get (Rooms) lists as
// changed since from; never one the bot left (its subscription removed),
// whose messages the stream would not give either. It reports false when the query failed (the next
// sync tries again). A refusal of rooms.get (a 4xx but 401 and 429: an
// old server's 404, a proxy's 403, a deploy's blip) is retried like a
// failure; after maxRoomsRefusals in a row, the subscriptions' rooms are
// read alone until Resync has passed (warned about once, and told when
// rooms.get answers again).
func (run *rtRun) changedRooms(ctx context.Context, from time.Time) ([]string, bool) {
	r, st := run.r, run.st
	set := maps.Clone(st.rooms)
	if r.opts.Rooms != nil && !time.Now().Before(run.noRoomsUntil) {
		res, err := r.opts.Rooms.Get(ctx, from)
		switch re := (*rc.Error)(nil); {
		case errors.As(err, &re) && re.Status >= 400 && re.Status < 500 &&
			re.Status != http.StatusUnauthorized && re.Status != http.StatusTooManyRequests:
			// An old server without it (404), a proxy's allow list (403),
			// or a blip of a deploy: asked again a few times (the gap
			// stays open), then left alone for a while, since asking on
			// would hold every catch-up.
			if run.roomsRefused++; run.roomsRefused < maxRoomsRefusals && !run.roomsWarned {
				if run.roomsRefused == 1 {
					r.log.Warn().Err(err).Msg("messages catch-up: rooms.get refused: retrying")
				} else {
					r.log.Debug().Err(err).Int("refusals", run.roomsRefused).Msg("messages catch-up: rooms.get refused again: retrying")
				}
				return nil, false
			}
			// Refused maxRoomsRefusals times in a row, or again at the
			// probe after a pause: left alone for Resync (said once).
			run.roomsRefused = 0
			run.noRoomsUntil = time.Now().Add(r.opts.Resync)
			if run.roomsWarned {
				r.log.Debug().Err(err).Msg("messages catch-up: rooms.get still refused")
			} else {
				run.roomsWarned = true
				r.log.Warn().Err(err).Stringer("retry_in", r.opts.Resync).
					Msg("messages catch-up: the server refuses rooms.get: only the rooms whose subscription changed are caught up until it answers")
			}
		case err != nil:
			run.queryFailed(ctx, err, r.log.Warn(), "messages catch-up: listing the rooms changed failed: retrying")
			return nil, false
		default:
			run.roomsRefused = 0
			if run.roomsWarned {
				run.roomsWarned = false
				r.log.Info().Msg("messages catch-up: rooms.get answers again")
			}
			for _, room := range res.Update {
				if room != nil && room.ID != "" {
					set[room.ID] = room.UpdatedAt
				}
			}
		}
	}
	maps.DeleteFunc(set, func(rid string, _ time.Time) bool { _, left := st.left[rid]; return left }) // the bot left it
	return slices.Sorted(maps.Keys(set)), true
}

// pollFor polls for d (the fallback), until ctx ends or the REST side
// fails for good (st.fatal). After each poll that worked, the messages
// of the rooms changed since the previous one are caught up (as after a
// gap, which moves on to the start of this round): while polling,
// message events come at the poll's pace.
func (run *rtRun) pollFor(ctx context.Context, d time.Duration) {
	st := run.st
	end := time.Now().Add(d)
	for {
		wait := st.poll(ctx, run.emit)
		baseline := false // this poll took the baseline: no message before it is new
		if run.ms.since.IsZero() && st.baselined && st.fails == 0 {
			run.ms.since = st.serverNow().Add(-run.r.poll.opts.Overlap)
			baseline = true
		}
		run.lost(false)
		if st.fatal == nil && ctx.Err() == nil && st.fails == 0 && !run.gap.IsZero() && run.r.opts.History != nil {
			start := st.serverNow() // what is posted later is the next round's
			if baseline {
				run.gap = start
				run.ms.read(start)
			} else if run.catchUpMessages(ctx, start) {
				run.gap = start
				run.ms.read(start)
				run.pruneRooms()
				run.ms.prune(start)
			}
		}
		run.save()
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
// was emitted already, or when it is older than the version a REST answer
// gave for that subscription and the stream has not reached yet, or
// stamped no later than the removal a REST answer reported (a late copy).
// It returns an error for an event it cannot read; ctx's end shows
// in ctx.
func (st *pollState) stream(ctx context.Context, emit Emit, ev *realtime.Event) error {
	action, sub, err := ev.SubscriptionChange()
	if err != nil {
		return err
	}
	if !st.baselined || sub.ID == "" {
		return nil
	}
	if action == ActionRemoved {
		st.gone(sub.ID)
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
		delete(st.fromREST, sub.ID)
		delete(st.goneREST, sub.ID)
		_ = emit(ctx, Event{Kind: KindSubscription, Action: ActionRemoved, ID: r.ID, Raw: removedJSON(r), pos: removedPosition(r)})
		return nil
	}
	if at, ok := st.goneREST[sub.ID]; ok {
		if !sub.UpdatedAt.After(at) {
			return nil // a copy sent before the removal a REST answer gave
		}
		delete(st.goneREST, sub.ID) // joined again since
	}
	st.alive(sub)
	k, raw, err := st.version(sub)
	if err != nil {
		return err
	}
	prev, known := st.known[sub.ID]
	if st.fromREST[sub.ID] {
		if sub.UpdatedAt.Before(prev) {
			return nil // a copy older than the REST answer read since
		}
		delete(st.fromREST, sub.ID) // the stream has caught up with it
	}
	if st.seen[k] {
		return nil
	}
	st.seen[k] = true
	out := ActionUpdated
	if !known {
		out = ActionInserted
	}
	st.known[sub.ID] = sub.UpdatedAt
	st.p.health.see(sub.UpdatedAt)
	_ = emit(ctx, Event{Kind: KindSubscription, Action: out, ID: sub.ID, Raw: bytes.Clone(raw), pos: k.position()})
	return nil
}
