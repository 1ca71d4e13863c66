package source

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// Subscriptions is what Poll needs of the client; (*rc.Client).Subscriptions
// implements it.
type Subscriptions interface {
	Get(ctx context.Context, opts *rc.GetSubscriptionsOptions) (*rc.SubscriptionsResult, error)
}

// PollOptions configure a Poll. Zero durations take the defaults.
type PollOptions struct {
	Interval   time.Duration // between two polls; default 10s
	Overlap    time.Duration // of the query window behind the cursor; default 5s
	MaxBackoff time.Duration // cap of the wait after failed polls; default 1m (at least Interval)
	// Fatal reports whether a failed poll ends Run with its error; nil: a
	// 401 (rc.ErrUnauthorized) does. A caller that renews credentials
	// itself decides when they are lost (the daemon stops on its own then).
	Fatal func(error) bool
	Log   zerolog.Logger
	// Cursors keeps the cursor across restarts under CursorName (see
	// CursorName); nil (or an empty CursorName): every Run starts with a
	// silent baseline.
	Cursors    Cursors
	CursorName string
	// CursorEvery is the least time between two saves of the cursor;
	// default DefaultCursorEvery.
	CursorEvery time.Duration
	// CatchUp bounds how far back the first poll after a restart delivers
	// changes (--catch-up); older ones are skipped and counted in one log
	// line. Default DefaultCatchUp.
	CatchUp time.Duration
}

// Defaults of PollOptions.
const (
	DefaultPollInterval = 10 * time.Second
	DefaultPollOverlap  = 5 * time.Second
	DefaultMaxBackoff   = time.Minute
)

// Poll is the event source of rc.on("subscription"): it polls
// subscriptions.get every interval.
//
// The first poll of a Run (without updatedSince) is a baseline that emits
// nothing. The cursor is the greatest _updatedAt/_deletedAt the server
// returned, never the local clock, so host/server clock skew does not
// matter; but it never passes the server's own clock when it answered
// (rc.SubscriptionsResult.ServerTime, its Date header): a subscription
// dated in the future would otherwise carry the cursor past every change
// the server makes until that date. Such a stamp is logged once per Run
// (when it is further ahead than the overlap covers); the subscription's
// changes are still emitted, each once. Each poll asks for updatedSince =
// cursor - overlap (for writes committed late) and skips the versions it
// already emitted: a version is the _id, the timestamp and a hash of the
// raw JSON, so two different states under one millisecond are two events
// while the same state read again is none. Versions at or below the query
// floor are forgotten (the server filters with a strict ">"), so memory is
// the overlap window plus the set of known ids.
// An update is "inserted" when its _id was not known, else "updated"; a
// "remove" entry of a known id is "removed" (removals of ids never seen
// since the baseline are not reported). A failed poll keeps the cursor and
// backs off exponentially, from between one and two intervals after the
// first failure up to MaxBackoff (rc.Backoff, jittered);
// a rate limit (rc.Error 429) waits RetryAfter, or until Reset, at least
// one interval. Emitting waits for the host (see Emit), so a burst larger
// than a script's queue delays the next poll instead of losing events.
//
// With Cursors, the state (the cursor, the ids known and the versions
// emitted within the overlap) is saved once the events emitted before it
// are handled (Event.Handled), with the versions of the events handled
// after it, at most once per CursorEvery, and when Run ends. A Run that finds a saved state starts from it instead of a
// baseline: its first poll delivers, once each, the changes made since,
// except those older than CatchUp, which are skipped and counted in one
// log line. So a restart loses no change: an event handled after the last
// save (a crash, a handler still running at shutdown) is delivered again
// (at least once); one handled before it is not (exactly once otherwise).
type Poll struct {
	subs   Subscriptions
	opts   PollOptions
	health health
}

// The states of a Poll (Poll.State).
const (
	StateFailing = "failing" // the last poll failed (StateConnecting: none done yet)
)

// health is what a Poll tells of itself while it runs: the outcome of its
// last poll and the newest server stamp it saw. Safe for concurrent use.
type health struct {
	polled  atomic.Bool  // a poll finished
	failing atomic.Bool  // the last one failed
	newest  atomic.Int64 // UnixNano of the newest _updatedAt seen; 0: none
}

// see records a server stamp of an object seen.
func (h *health) see(t time.Time) {
	if t.IsZero() {
		return
	}
	n := t.UnixNano()
	for {
		old := h.newest.Load()
		if n <= old || h.newest.CompareAndSwap(old, n) {
			return
		}
	}
}

// Name returns "poll", the source's name in metrics and status.
func (p *Poll) Name() string { return "poll" }

// State returns how the polls go: StateConnecting before the first poll
// ended, StatePolling when the last one succeeded, StateFailing when it
// failed (it is retried).
func (p *Poll) State() string {
	switch {
	case !p.health.polled.Load():
		return StateConnecting
	case p.health.failing.Load():
		return StateFailing
	}
	return StatePolling
}

// Newest returns the newest server _updatedAt (or _deletedAt) of the
// objects the source saw, zero before any: now minus it is how far behind
// the server the events may be (or how long nothing changed).
func (p *Poll) Newest() time.Time {
	if n := p.health.newest.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

var _ Source = (*Poll)(nil)

// NewPoll returns a poller of subs.
func NewPoll(subs Subscriptions, opts PollOptions) *Poll {
	if opts.Interval <= 0 {
		opts.Interval = DefaultPollInterval
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultPollOverlap
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.Interval)
	if opts.CatchUp <= 0 {
		opts.CatchUp = DefaultCatchUp
	}
	if opts.Fatal == nil {
		opts.Fatal = func(err error) bool { return errors.Is(err, rc.ErrUnauthorized) }
	}
	opts.Log = opts.Log.With().Str("component", "subscription-poller").Logger()
	return &Poll{subs: subs, opts: opts}
}

// Kinds returns KindSubscription.
func (p *Poll) Kinds() []string { return []string{KindSubscription} }

// Run polls until ctx ends; it returns nil then. A Run starts with a
// baseline, or from the saved cursor (Cursors). A 401 (rc.ErrUnauthorized: credentials the client could not
// renew) ends Run with that error; every other failure is retried.
func (p *Poll) Run(ctx context.Context, emit Emit) error {
	st := newPollState(p)
	defer p.opts.Log.Debug().Msg("subscription polling stopped")
	if sv := p.saver(); sv != nil {
		if s := sv.load(); s != nil {
			st.restore(s)
		}
		stop := sv.start(ctx)
		defer stop()
		emit = sv.track(emit)
		st.offer = func() { sv.offer(st.snapshot(nil)) }
	}
	for {
		wait := st.poll(ctx, emit)
		if st.baselined && st.fails == 0 && st.offer != nil {
			st.offer()
		}
		if st.fatal != nil {
			return st.fatal
		}
		if ctx.Err() != nil { // the timer below would race ctx.Done
			return nil
		}
		if sleep(ctx, wait) != nil {
			return nil
		}
	}
}

// saver is the saver of the cursor, nil without Cursors.
func (p *Poll) saver() *cursorSaver {
	if p.opts.Cursors == nil || p.opts.CursorName == "" {
		return nil
	}
	return newCursorSaver(p.opts.Cursors, p.opts.CursorName, p.opts.CursorEvery, p.opts.Log)
}

// seenKey identifies one version of one subscription (or one deletion).
type seenKey struct {
	id  string
	ts  int64  // UnixNano of _updatedAt (or _deletedAt)
	sum uint64 // hash of the raw JSON (0 for a deletion)
}

// position is the version k, as the cursor saver records it.
func (k seenKey) position() position {
	return position{kind: posSubscription, id: k.id, at: k.ts, sum: k.sum}
}

// removedPosition is the position of a removal.
func removedPosition(r rc.RemovedSubscription) position {
	return position{kind: posRemoved, id: r.ID, at: r.DeletedAt.UnixNano()}
}

// pollState is one Run's memory: the cursor, the ids known since the
// baseline and the versions emitted inside the overlap window.
type pollState struct {
	p         *Poll
	baselined bool
	cursor    time.Time
	known     map[string]time.Time // id -> the newest _updatedAt emitted or baselined
	// fromREST (Realtime's state only) holds the ids whose known version
	// a REST answer gave (the baseline, a catch-up) and no stream event
	// has reached yet: a stream event older than it is a late copy, sent
	// before the answer was read. Among stream events the stream's order
	// is the truth, whatever their stamps (a server's clock stepped back,
	// a cluster's nodes stamping with clocks that disagree).
	fromREST map[string]bool
	// goneREST (Realtime's state only) holds the subscriptions a REST
	// answer reported removed, with their _deletedAt: a stream change
	// stamped no later is a late copy, sent before the removal (else the
	// subscription would come back). A later REST answer that gives the
	// subscription alive clears its entry. Bounded by maxLeft: past it the
	// removals stamped earliest are forgotten (late copies come within
	// seconds of the answer, so forgetting an old one is harmless).
	goneREST map[string]time.Time
	seen     map[seenKey]bool
	fails    int
	warned   bool  // a stamp ahead of the server's clock was logged
	fatal    error // a failure polling again cannot fix: Run returns it
	// server is the last response's Date and serverAt the local
	// (monotonic) time it came: serverNow's estimate of the server clock.
	server, serverAt time.Time
	// rooms, when not nil, gathers the rooms of the subscriptions polls
	// after the baseline return, each with the newest _updatedAt returned
	// (zero: restored, unknown), until its owner prunes them (Realtime
	// catches their messages up after a gap). One entry per room: bounded
	// by the subscriptions.
	rooms map[string]time.Time
	// roomOf (with rooms) is the room of each subscription seen alive,
	// joined when the bot joined each room (the subscription's ts), and
	// left the rooms whose subscription was removed since (a room joined
	// again is not): a catch-up reads no room the bot left, nor a message
	// from before it joined, as the stream gives none of those.
	roomOf map[string]string
	subsIn map[string]int // room -> how many of roomOf's subscriptions are in it
	joined map[string]time.Time
	left   map[string]uint64 // room -> its removal's sequence number (leftSeq), for pruneLeft
	// leftSeq numbers the removals recorded in left.
	leftSeq uint64
	// restored is set from a saved cursor until the first poll, which
	// skips the changes older than the catch-up window.
	restored bool
	// offer, when not nil, hands the state to the cursor's saver.
	offer func()
}

// alive records s's room as one the bot is in (Realtime's state only).
func (st *pollState) alive(s *rc.Subscription) {
	if st.rooms == nil || s.RoomID == "" {
		return
	}
	if st.roomOf == nil {
		st.roomOf, st.subsIn = map[string]string{}, map[string]int{}
		st.joined, st.left = map[string]time.Time{}, map[string]uint64{}
	}
	if old, ok := st.roomOf[s.ID]; !ok || old != s.RoomID {
		if ok {
			st.unsub(old)
		}
		st.roomOf[s.ID] = s.RoomID
		st.subsIn[s.RoomID]++
	}
	if !s.TS.IsZero() {
		st.joined[s.RoomID] = s.TS
	}
	delete(st.left, s.RoomID)
}

// gone records that the subscription id was removed: its room, when
// known, is one the bot left.
func (st *pollState) gone(id string) {
	rid, ok := st.roomOf[id]
	if !ok {
		return
	}
	delete(st.roomOf, id)
	if st.unsub(rid) > 0 {
		return // joined again (a new subscription, seen first in the same poll)
	}
	delete(st.rooms, rid)
	delete(st.joined, rid)
	st.leftSeq++
	st.left[rid] = st.leftSeq
	if len(st.left) > maxLeft {
		st.pruneLeft()
	}
}

// maxLeft bounds the rooms the state remembers the bot left, and the
// removals REST answers reported (goneREST): a bot that passes through
// many rooms (discussions, omnichannel) over months must not grow them
// for good.
const maxLeft = 4096

// pruneLeft forgets the rooms left longest ago, down to half of maxLeft.
// Forgetting one is harmless but for a catch-up that may read a room the
// bot is no longer in (the server refuses that read).
func (st *pollState) pruneLeft() {
	cut := st.leftSeq - maxLeft/2
	maps.DeleteFunc(st.left, func(_ string, seq uint64) bool { return seq <= cut })
}

// unsub counts one subscription less in room rid and returns how many
// are left.
func (st *pollState) unsub(rid string) int {
	n := st.subsIn[rid] - 1
	if n <= 0 {
		delete(st.subsIn, rid)
		return 0
	}
	st.subsIn[rid] = n
	return n
}

// restSaw records that a REST answer gave the known version of id
// (Realtime's state only).
func (st *pollState) restSaw(id string) {
	if st.fromREST != nil {
		st.fromREST[id] = true
		delete(st.goneREST, id) // alive again: its stream changes are news
	}
}

// restRemoved records that a REST answer reported r (Realtime's state
// only).
func (st *pollState) restRemoved(r rc.RemovedSubscription) {
	if st.fromREST == nil {
		return
	}
	if st.goneREST == nil {
		st.goneREST = map[string]time.Time{}
	}
	if at, ok := st.goneREST[r.ID]; !ok || r.DeletedAt.After(at) {
		st.goneREST[r.ID] = r.DeletedAt
	}
	if len(st.goneREST) > maxLeft {
		st.pruneGone()
	}
}

// pruneGone forgets the removals stamped earliest, down to half of
// maxLeft: exactly that many kept, however many share a stamp.
func (st *pollState) pruneGone() {
	ids := slices.Collect(maps.Keys(st.goneREST))
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(st.goneREST[a].Compare(st.goneREST[b]), strings.Compare(a, b))
	})
	for _, id := range ids[:len(ids)-maxLeft/2] {
		delete(st.goneREST, id)
	}
}

func newPollState(p *Poll) *pollState {
	return &pollState{p: p, known: map[string]time.Time{}, seen: map[seenKey]bool{}}
}

// version returns the key of s's version and its JSON: the server's bytes
// (a view into the response) or, for a subscription built without them,
// its encoding. The hash is of the canonical form (RFC 8785: members
// sorted), so that one state read from REST and from the realtime stream,
// whose members may come in another order, is one version.
func (st *pollState) version(s *rc.Subscription) (seenKey, []byte, error) {
	raw := []byte(s.Raw)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(s); err != nil {
			return seenKey{}, nil, err
		}
	}
	canon := jsontext.Value(bytes.Clone(raw))
	if err := canon.Canonicalize(); err != nil {
		return seenKey{}, nil, fmt.Errorf("subscription %s: %w", s.ID, err)
	}
	h := fnv.New64a() // stable across restarts: the versions seen are saved with the cursor
	_, _ = h.Write(canon)
	return seenKey{s.ID, s.UpdatedAt.UnixNano(), h.Sum64()}, raw, nil
}

// newest is the latest stamp of a response and whose it is.
type newest struct {
	at time.Time
	id string
}

func (n *newest) see(at time.Time, id string) {
	if at.After(n.at) {
		n.at, n.id = at, id
	}
}

// poll runs one poll, emitting what changed, and returns how long to wait
// before the next.
func (st *pollState) poll(ctx context.Context, emit Emit) time.Duration {
	o := st.p.opts
	opts := &rc.GetSubscriptionsOptions{}
	if st.baselined && !st.cursor.IsZero() {
		opts.UpdatedSince = st.cursor.Add(-o.Overlap)
	}
	res, err := st.p.subs.Get(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		st.p.health.polled.Store(true)
		st.p.health.failing.Store(true)
		if o.Fatal(err) {
			// By default refused credentials (a revoked token, a session
			// the client could not renew): every later poll would get the
			// same 401.
			st.fatal = fmt.Errorf("subscriptions poll: %w", err)
			return 0
		}
		st.fails++
		wait := st.backoff(err)
		o.Log.Warn().Err(err).Int("failures", st.fails).Stringer("retry_in", wait).
			Msg("subscriptions poll failed: cursor kept, retrying")
		return wait
	}
	st.fails = 0
	st.p.health.polled.Store(true)
	st.p.health.failing.Store(false)
	if res == nil {
		res = &rc.SubscriptionsResult{}
	}
	if !res.ServerTime.IsZero() {
		st.server, st.serverAt = res.ServerTime, time.Now()
	}
	var last newest
	var floor time.Time // a restart's catch-up: older changes are skipped
	skipped := 0
	if st.restored {
		st.restored = false
		floor = st.serverNow().Add(-o.CatchUp)
		from := st.cursor
		defer func() {
			if skipped > 0 {
				o.Log.Warn().Int("skipped", skipped).Stringer("catch_up", o.CatchUp).Time("cursor", from).
					Msg("subscription changes made while stopped are older than the catch-up window (--catch-up): skipped")
			}
		}()
	}
	if !st.baselined {
		for _, s := range res.Update {
			if s == nil {
				continue
			}
			st.known[s.ID] = s.UpdatedAt
			st.restSaw(s.ID)
			st.alive(s)
			last.see(s.UpdatedAt, s.ID)
			if k, _, err := st.version(s); err == nil {
				st.seen[k] = true
			}
		}
		st.advance(last, res.ServerTime)
		st.baselined = true
		o.Log.Debug().Int("subscriptions", len(st.known)).Time("cursor", st.cursor).Msg("subscriptions baseline taken")
		return o.Interval
	}
	for _, s := range res.Update {
		if s == nil {
			continue
		}
		last.see(s.UpdatedAt, s.ID)
		st.alive(s)
		if at, ok := st.rooms[s.RoomID]; st.rooms != nil && !s.UpdatedAt.Before(floor) && (!ok || s.UpdatedAt.After(at)) {
			st.rooms[s.RoomID] = s.UpdatedAt
		}
		k, raw, err := st.version(s)
		if err != nil {
			o.Log.Error().Err(err).Str("subscription", s.ID).Msg("cannot encode the subscription: event skipped")
			continue
		}
		if st.seen[k] {
			continue
		}
		st.seen[k] = true
		if s.UpdatedAt.Before(floor) {
			skipped++
			st.known[s.ID] = s.UpdatedAt
			st.restSaw(s.ID)
			continue
		}
		action := ActionInserted
		if _, ok := st.known[s.ID]; ok {
			action = ActionUpdated
		}
		st.known[s.ID] = s.UpdatedAt
		st.restSaw(s.ID)
		// raw may be a view into the whole response body: a copy, so that
		// a string a handler keeps does not keep every subscription alive.
		if emit(ctx, Event{Kind: KindSubscription, Action: action, ID: s.ID, Raw: bytes.Clone(raw), pos: k.position()}) != nil {
			return 0 // ctx ended: Run returns
		}
	}
	for _, r := range res.Remove {
		k := seenKey{id: "-" + r.ID, ts: r.DeletedAt.UnixNano()}
		last.see(r.DeletedAt, r.ID)
		if st.seen[k] {
			continue
		}
		st.seen[k] = true
		st.gone(r.ID)
		st.restRemoved(r)
		if _, ok := st.known[r.ID]; !ok {
			continue // never seen alive since the baseline: nothing to report
		}
		delete(st.known, r.ID)
		delete(st.fromREST, r.ID)
		if r.DeletedAt.Before(floor) {
			skipped++
			continue
		}
		if emit(ctx, Event{Kind: KindSubscription, Action: ActionRemoved, ID: r.ID, Raw: removedJSON(r), pos: removedPosition(r)}) != nil {
			return 0
		}
	}
	st.advance(last, res.ServerTime)
	st.prune()
	return o.Interval
}

// serverNow estimates the server's clock: the last Date header plus the
// time since it came (whole seconds, so up to a second behind), or the
// local clock before any.
func (st *pollState) serverNow() time.Time {
	if st.server.IsZero() {
		return time.Now().UTC()
	}
	return st.server.Add(time.Since(st.serverAt))
}

// isoMillis is the server's time format: ISO-8601 in UTC with milliseconds.
const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// removedJSON is the object a "removed" handler gets: {_id, _deletedAt}.
func removedJSON(r rc.RemovedSubscription) []byte {
	b, _ := json.Marshal(struct {
		ID        string `json:"_id"`
		DeletedAt string `json:"_deletedAt"`
	}{r.ID, r.DeletedAt.UTC().Format(isoMillis)}) // strings only: cannot fail
	return b
}

// advance moves the cursor to the newest stamp of a response, but never
// past server, the server's clock when it answered (zero: unknown, no
// limit). A stamp further ahead than the overlap window covers would have
// lost changes: it is logged, once per Run. The Date header may be a
// proxy's (nginx does not pass the upstream's on): a proxy clock behind
// the server's makes each poll re-read the skew, which loses nothing.
func (st *pollState) advance(n newest, server time.Time) {
	st.p.health.see(n.at)
	t := n.at
	if !server.IsZero() && t.After(server) {
		// ServerTime has whole seconds: a stamp up to a second ahead is normal.
		if o := st.p.opts; t.Sub(server) > o.Overlap+time.Second && !st.warned {
			st.warned = true
			o.Log.Warn().Str("subscription", n.id).Time("updated_at", t).Time("server_time", server).
				Msg("a subscription is dated after the response's Date header (a future-dated subscription, or a proxy whose clock is behind the server's): the cursor stays at the Date (logged once)")
		}
		t = server
	}
	if t.After(st.cursor) {
		st.cursor = t
	}
}

// prune forgets pairs the next query cannot return.
func (st *pollState) prune() {
	floor := st.cursor.Add(-st.p.opts.Overlap).UnixNano()
	for k := range st.seen {
		if k.ts <= floor {
			delete(st.seen, k)
		}
	}
}

// backoff returns the wait after a failed poll: a rate limit waits until
// its reset; other failures back off exponentially from the poll interval,
// capped and jittered (rc.Backoff), never below one interval.
func (st *pollState) backoff(err error) time.Duration {
	o := st.p.opts
	var rerr *rc.Error
	if errors.As(err, &rerr) && (errors.Is(err, rc.ErrRateLimited) || rerr.Status == 429) {
		// RetryAfter comes first: rc computes it from the server's own
		// numbers. Reset is a server timestamp compared with the local
		// clock; a skewed clock is harmless because the wait is clamped
		// to [Interval, MaxBackoff] below: too early a retry costs one
		// more 429, too late one at most MaxBackoff.
		wait := rerr.RetryAfter
		if wait <= 0 && !rerr.Reset.IsZero() {
			wait = time.Until(rerr.Reset)
		}
		if wait > 0 {
			return min(max(wait, o.Interval), o.MaxBackoff)
		}
	}
	// One step further than the failure count: the first retry waits
	// between one and two intervals (equal jitter), never less than an
	// ordinary poll.
	return rc.Backoff{Min: o.Interval, Max: o.MaxBackoff}.Delay(st.fails + 1)
}
