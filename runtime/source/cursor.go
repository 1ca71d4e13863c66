package source

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// Cursors keeps the sources' cursors across restarts; the daemon's store
// (runtime/store) implements it. LoadCursor returns ok false for a name
// never saved.
type Cursors interface {
	LoadCursor(name string) (data []byte, ok bool, err error)
	SaveCursor(name string, data []byte) error
}

// DefaultCursorEvery is the least time between two saves of a cursor.
const DefaultCursorEvery = time.Second

// CursorName is the name a source's cursor is kept under for the user
// userID of the server at serverURL: a cursor is never reused for another
// server or another user.
func CursorName(serverURL, userID string) string {
	return "events " + userID + " " + strings.TrimRight(serverURL, "/")
}

// MemCursors is an in-memory Cursors (tests, `rclua check`); the zero
// value is ready. It keeps a copy of what it is given.
type MemCursors struct {
	mu    sync.Mutex
	m     map[string][]byte
	saves int
}

// LoadCursor returns a copy of the data saved under name.
func (c *MemCursors) LoadCursor(name string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[name]
	return bytes.Clone(d), ok, nil
}

// SaveCursor keeps a copy of data under name.
func (c *MemCursors) SaveCursor(name string, data []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[name] = bytes.Clone(data)
	c.saves++
	return nil
}

// Saves returns how many times SaveCursor was called.
func (c *MemCursors) Saves() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saves
}

// savedCursor is what a source keeps under its CursorName (JSON). Times
// are UnixNano of the server's clock.
type savedCursor struct {
	V int `json:"v"`
	// Cursor is Poll's cursor: the newest _updatedAt/_deletedAt emitted.
	Cursor int64 `json:"cursor"`
	// Known are the subscriptions known (id -> newest _updatedAt), which
	// tell "inserted" from "updated" and which removals to report.
	Known map[string]int64 `json:"known"`
	// Seen are the versions emitted within the overlap behind the cursor.
	Seen []savedSeen `json:"seen,omitempty"`
	// Messages is the realtime source's message cursor (nil from Poll).
	Messages *savedMessages `json:"messages,omitempty"`
	// Partial are the events after the state that some of the scripts
	// they went to had handled, with those scripts: a restart that
	// delivers one again gives it to the others only (Event.Done).
	Partial []savedPartial `json:"partial,omitempty"`
}

// savedPartial is a position with the scripts done with its event.
type savedPartial struct {
	Kind    uint8    `json:"k"`
	ID      string   `json:"i"`
	At      int64    `json:"a"`
	TS      int64    `json:"t,omitempty"`
	Sum     uint64   `json:"h,omitempty"`
	Scripts []string `json:"s"`
	// Carried counts the restarts this record was saved through without
	// its event delivered again (the object changed meanwhile, or it fell
	// out of the catch-up window): past maxCarried it is dropped.
	Carried int `json:"c,omitempty"`
}

// maxCarried is how many restarts a partial record outlives its event's
// redelivery: a second restart before the first one's catch-up keeps it,
// a record whose event never comes again goes.
const maxCarried = 2

func (p savedPartial) position() position {
	return position{kind: p.Kind, id: p.ID, at: p.At, ts: p.TS, sum: p.Sum}
}

// savedSeen is a seenKey.
type savedSeen struct {
	ID  string `json:"i"`
	TS  int64  `json:"t"`
	Sum uint64 `json:"h"`
}

// savedMessages is where the messages stand.
type savedMessages struct {
	// Since is where the messages stand: the start of an open gap, else
	// the newest stamp of a message read (or the start of the last sync
	// that caught up), never the clock's now. A restart catches up from it.
	Since int64 `json:"since"`
	// Rooms are the rooms whose subscription changed during the open gap,
	// or (without one) at or after Since less the overlap: a restart
	// catches their messages up from Since.
	Rooms []string `json:"rooms,omitempty"`
	// Latest are the newest versions (ts, stamp) emitted of the messages
	// the catch-up could return again.
	Latest map[string][2]int64 `json:"latest,omitempty"`
	// Subs are the bot's subscriptions of Rooms, by room: a removal
	// after the restart then marks its room left, and a message from
	// before the bot joined it is not caught up.
	Subs map[string]savedRoomSub `json:"subs,omitempty"`
}

// savedRoomSub is the bot's subscription of a room: its id, and when it
// joined (UnixNano; 0 when unknown).
type savedRoomSub struct {
	Sub    string `json:"s"`
	Joined int64  `json:"j,omitempty"`
}

const cursorVersion = 1

// snapshot is the state of st (with ms, the messages, when not nil).
func (st *pollState) snapshot(ms *savedMessages) []byte {
	s := savedCursor{V: cursorVersion, Cursor: st.cursor.UnixNano(), Known: make(map[string]int64, len(st.known)), Messages: ms}
	for id, at := range st.known {
		s.Known[id] = at.UnixNano()
	}
	for k := range st.seen {
		s.Seen = append(s.Seen, savedSeen{k.id, k.ts, k.sum})
	}
	sortSeen(s.Seen)        // stable bytes: an unchanged state is not saved again
	b, _ := json.Marshal(s) // strings and numbers only: cannot fail
	return b
}

// sortSeen sorts versions by id, time and hash.
func sortSeen(seen []savedSeen) {
	slices.SortFunc(seen, func(a, b savedSeen) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.TS, b.TS); c != 0 {
			return c
		}
		return cmp.Compare(a.Sum, b.Sum)
	})
}

// restore sets st from a saved cursor: the next poll is a catch-up, not a
// baseline.
func (st *pollState) restore(s *savedCursor) {
	st.baselined, st.restored = true, true
	st.cursor = time.Unix(0, s.Cursor).UTC()
	for id, at := range s.Known {
		st.known[id] = time.Unix(0, at).UTC()
	}
	for _, k := range s.Seen {
		st.seen[seenKey{id: k.ID, ts: k.TS, sum: k.Sum}] = true
	}
}

// decodeCursor reads saved data.
func decodeCursor(data []byte) (*savedCursor, error) {
	var s savedCursor
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	if s.V != cursorVersion {
		return nil, fmt.Errorf("format version %d, want %d", s.V, cursorVersion)
	}
	return &s, nil
}

// cursorSaver saves a source's state once the events emitted before it are
// handled, at most once per every. Events are tracked in epochs: the
// state offered at the end of an epoch is saved once that epoch's events,
// and all earlier ones', are handled (Event.Handled). At most maxEpochs
// are kept (merge): an event left unhandled for hours holds a few states,
// not one per offer. The events handled after the newest saveable state
// (in an epoch some other event of which is not handled yet: a backlog
// cut off by a stop) are saved as positions added to that state, so a
// restart does not deliver them again.
type cursorSaver struct {
	store Cursors
	name  string
	every time.Duration
	log   zerolog.Logger
	ready chan struct{} // cap 1: a state became saveable, or an event was handled

	mu     sync.Mutex
	epochs []*epoch // oldest first; the last one is open
	last   []byte   // the state offered last
	base   []byte   // the newest saveable state (the one loaded before any): the positions are added to it
	saved  []byte   // what was saved last (or loaded)
	seq    uint64   // events emitted
	marks  int      // positions held by the epochs
	dirty  bool     // a position was recorded since the last flush
	capped bool     // a position was not recorded for maxMarks (logged once)
	failed bool     // a save failed: logged once until one succeeds
	// partial are the events some of whose scripts are done with them
	// (Event.HandledBy), by emission number, until they are handled;
	// restored are the partial events of the loaded state, until emitted
	// again (Event.Done). Each at most maxMarks.
	partial  map[uint64]*partialMark
	restored map[position]restoredMark
	// partialCapped is set once a partial record was refused at maxMarks
	// (logged once); basePartial while base is a loaded state holding
	// partial records (a save rewrites them).
	partialCapped bool
	basePartial   bool
}

// restoredMark is a loaded partial record; used once its event came
// again (a live record takes over: this one is not saved again, but it
// still gives Done to another emission of the same position).
type restoredMark struct {
	scripts []string
	carried int
	used    bool
}

// partialMark is an event some of whose scripts are done with it.
type partialMark struct {
	pos     position
	scripts []string
}

// epoch is the events emitted between two states offered.
type epoch struct {
	events, open int    // emitted, not yet handled
	state        []byte // the state offered when it closed
	into         *epoch // merged into that one (its events are counted there)
	done         []mark // positions of the events handled, unordered
}

// mark is a handled event's position with its place in the emission
// order.
type mark struct {
	seq uint64
	pos position
}

// position is the version of the object an event reports, which a saved
// state records once the event is handled: a restart that catches up from
// a state older than the event then skips it (the poll's and the stream's
// seen versions, the messages' latest versions).
type position struct {
	kind   uint8  // posNone, posSubscription, posRemoved or posMessage
	id     string // the subscription's or message's _id
	at, ts int64  // UnixNano: _updatedAt (a removal's _deletedAt), and a message's ts
	sum    uint64 // a subscription version's hash (seenKey.sum)
}

// Kinds of positions.
const (
	posNone uint8 = iota
	posSubscription
	posRemoved
	posMessage
)

// maxMarks bounds the positions a saver holds: past it, an event handled
// after the newest saveable state is not recorded, and a restart may
// deliver it again (at least once, as after a crash).
const maxMarks = 1 << 14

// withMarks returns state with the positions of marks (in emission order)
// added: the ids known, the versions seen and the messages' latest
// versions. A state that is not a saved cursor is returned as it is.
func withMarks(state []byte, marks []mark, partial []savedPartial) []byte {
	s, err := decodeCursor(state)
	if err != nil {
		return state
	}
	s.Partial = partial
	slices.SortFunc(marks, func(a, b mark) int { return cmp.Compare(a.seq, b.seq) })
	seen := make(map[savedSeen]bool, len(s.Seen)+len(marks))
	for _, k := range s.Seen {
		seen[k] = true
	}
	if s.Known == nil {
		s.Known = map[string]int64{}
	}
	for _, m := range marks {
		p := m.pos
		switch p.kind {
		case posSubscription:
			if at, ok := s.Known[p.id]; !ok || at < p.at {
				s.Known[p.id] = p.at
			}
			seen[savedSeen{ID: p.id, TS: p.at, Sum: p.sum}] = true
		case posRemoved:
			delete(s.Known, p.id)
			seen[savedSeen{ID: "-" + p.id, TS: p.at}] = true
		case posMessage:
			if s.Messages == nil {
				s.Messages = &savedMessages{Since: s.Cursor} // as restoreMessages reads a state without one
			}
			if s.Messages.Latest == nil {
				s.Messages.Latest = map[string][2]int64{}
			}
			if v, ok := s.Messages.Latest[p.id]; !ok || v[1] < p.at {
				s.Messages.Latest[p.id] = [2]int64{p.ts, p.at}
			}
		}
	}
	s.Seen = slices.AppendSeq(s.Seen[:0], maps.Keys(seen))
	sortSeen(s.Seen)
	b, _ := json.Marshal(s) // strings and numbers only: cannot fail
	return b
}

// root is the epoch e's events are counted in now.
func (e *epoch) root() *epoch {
	for e.into != nil {
		e = e.into
	}
	return e
}

// maxEpochs bounds the epochs a saver keeps, so the states held while an
// event stays unhandled (a slow handler, a paused script) are at most
// maxEpochs-1 whatever the number of offers.
const maxEpochs = 8

func newCursorSaver(store Cursors, name string, every time.Duration, log zerolog.Logger) *cursorSaver {
	if every <= 0 {
		every = DefaultCursorEvery
	}
	return &cursorSaver{store: store, name: name, every: every, log: log, ready: make(chan struct{}, 1), epochs: []*epoch{{}}}
}

// load returns the saved state, nil when there is none or it cannot be
// used (logged).
func (sv *cursorSaver) load() *savedCursor {
	data, ok, err := sv.store.LoadCursor(sv.name)
	if err != nil {
		sv.log.Error().Err(err).Msg("cannot read the saved event cursor: starting with a baseline (changes made while stopped are not delivered)")
		return nil
	}
	if !ok {
		return nil
	}
	s, err := decodeCursor(data)
	if err != nil {
		sv.log.Error().Err(err).Msg("the saved event cursor is unreadable: starting with a baseline (changes made while stopped are not delivered)")
		return nil
	}
	sv.last, sv.base, sv.saved = data, data, data
	sv.basePartial = len(s.Partial) > 0
	for _, p := range s.Partial {
		if len(sv.restored) < maxMarks && p.Kind != posNone && len(p.Scripts) > 0 {
			if sv.restored == nil {
				sv.restored = map[position]restoredMark{}
			}
			sv.restored[p.position()] = restoredMark{scripts: p.Scripts, carried: p.Carried}
		}
	}
	return s
}

// track wraps emit: every event it emits is tracked.
func (sv *cursorSaver) track(emit Emit) Emit {
	return func(ctx context.Context, ev Event) error {
		sv.mu.Lock()
		e := sv.epochs[len(sv.epochs)-1]
		e.events++
		e.open++
		sv.seq++
		m := mark{seq: sv.seq, pos: ev.pos}
		if r, ok := sv.restored[ev.pos]; ok && ev.pos.kind != posNone {
			ev.Done = r.scripts
			if sv.addPartial(m, r.scripts...) { // the live record takes over
				r.used = true
				sv.restored[ev.pos] = r
			}
		}
		sv.mu.Unlock()
		t := &trackedEvent{e: e, m: m}
		ev.Handled = func() { sv.handled(t) }
		if ev.pos.kind != posNone {
			ev.HandledBy = func(script string) { sv.handledBy(t, script) }
		}
		return emit(ctx, ev)
	}
}

// trackedEvent is an emitted event as the saver follows it; done is set
// (under sv.mu) once it is handled: a later HandledBy is ignored.
type trackedEvent struct {
	e    *epoch
	m    mark
	done bool
}

// handledBy records that script is done with t's event, which others
// are not done with yet.
func (sv *cursorSaver) handledBy(t *trackedEvent, script string) {
	sv.mu.Lock()
	added := !t.done && sv.addPartial(t.m, script)
	sv.mu.Unlock()
	if added {
		sv.signal()
	}
}

// addPartial adds scripts to m's partial event (sv.mu held); it reports
// whether that changed what a save writes.
func (sv *cursorSaver) addPartial(m mark, scripts ...string) bool {
	p := sv.partial[m.seq]
	if p == nil {
		if len(sv.partial) >= maxMarks {
			if !sv.partialCapped {
				sv.partialCapped = true
				sv.log.Warn().Int("events", maxMarks).
					Msg("too many events some scripts handled and others not yet: the ones from now on are not recorded, and a restart may give them to every script again (logged once)")
			}
			return false
		}
		if sv.partial == nil {
			sv.partial = map[uint64]*partialMark{}
		}
		p = &partialMark{pos: m.pos}
		sv.partial[m.seq] = p
	}
	added := false
	for _, s := range scripts {
		if !slices.Contains(p.scripts, s) {
			p.scripts = append(p.scripts, s)
			added = true
		}
	}
	if added {
		sv.dirty = true
	}
	return added
}

// handled counts t's event handled (once) and records its position.
func (sv *cursorSaver) handled(t *trackedEvent) {
	sv.mu.Lock()
	if t.done {
		sv.mu.Unlock()
		return
	}
	t.done = true
	e, m := t.e, t.m
	delete(sv.partial, m.seq) // handled by all: its position is the mark's now
	r := e.root()
	r.open--
	changed := sv.saveable()
	capped := false
	if m.pos.kind != posNone {
		if sv.marks < maxMarks { // needed until r's state is saved
			r.done = append(r.done, m)
			sv.marks++
			sv.dirty, changed = true, true
		} else if !sv.capped {
			sv.capped, capped = true, true
		}
	}
	sv.mu.Unlock()
	if capped {
		sv.log.Warn().Int("positions", maxMarks).
			Msg("too many events handled behind one still waiting: the ones handled from now on are not recorded, and a restart may deliver them again (logged once)")
	}
	if changed {
		sv.signal()
	}
}

// offer closes the epoch with state, which is saved once its events are
// handled. A state equal to the last one is ignored.
func (sv *cursorSaver) offer(state []byte) {
	sv.mu.Lock()
	if bytes.Equal(state, sv.last) {
		sv.mu.Unlock()
		return
	}
	sv.last = state
	if n := len(sv.epochs); sv.epochs[n-1].events == 0 && n > 1 {
		sv.epochs[n-2].state = state // no event since the last state: it covers the same ones
	} else {
		sv.epochs[n-1].state = state
		sv.epochs = append(sv.epochs, &epoch{})
		sv.merge()
	}
	ready := sv.saveable()
	sv.mu.Unlock()
	if ready {
		sv.signal()
	}
}

// merge keeps at most maxEpochs epochs: past that, the two newest closed
// ones become one, with the later state, saved once the events of both
// are handled. Saving waits longer then, never saves a state early, and
// the oldest epochs (handled first) keep their own states.
func (sv *cursorSaver) merge() {
	n := len(sv.epochs)
	if n <= maxEpochs {
		return
	}
	a, b := sv.epochs[n-3], sv.epochs[n-2]
	a.events += b.events
	a.open += b.open
	a.state = b.state
	a.done = append(a.done, b.done...)
	b.into, b.state, b.done = a, nil, nil
	sv.epochs = append(sv.epochs[:n-2], sv.epochs[n-1])
}

func (sv *cursorSaver) saveable() bool { return len(sv.epochs) > 1 && sv.epochs[0].open == 0 }

func (sv *cursorSaver) signal() {
	select {
	case sv.ready <- struct{}{}:
	default:
	}
}

// flush saves the newest saveable state, if any, with the positions of
// the events handled after it, unless that was saved already.
func (sv *cursorSaver) flush() {
	sv.mu.Lock()
	popped := false
	for sv.saveable() {
		sv.marks -= len(sv.epochs[0].done)
		sv.base, sv.basePartial = sv.epochs[0].state, false // a source's state: no partial records
		sv.epochs = sv.epochs[1:]
		popped = true
	}
	if !popped && !sv.dirty && !sv.failed {
		sv.mu.Unlock()
		return // nothing new since the last flush
	}
	sv.dirty = false
	var marks []mark
	for _, e := range sv.epochs {
		marks = append(marks, e.done...)
	}
	partial := sv.partials()
	state, saved, basePartial := sv.base, sv.saved, sv.basePartial
	sv.mu.Unlock()
	if state == nil {
		return
	}
	if len(marks) > 0 || len(partial) > 0 || basePartial {
		state = withMarks(state, marks, partial)
	}
	if bytes.Equal(state, saved) {
		return
	}
	if err := sv.store.SaveCursor(sv.name, state); err != nil {
		if !sv.failed {
			sv.log.Error().Err(err).Msg("cannot save the event cursor: a restart may deliver some changes again")
		}
		sv.failed = true
		return
	}
	sv.mu.Lock()
	sv.saved = state
	sv.mu.Unlock()
	if sv.failed {
		sv.log.Info().Msg("event cursor saved again")
	}
	sv.failed = false
}

// partials lists the partial events to save (sv.mu held): those of this
// run not handled yet and those restored not emitted again (carried once
// more, up to maxCarried restarts), sorted (an unchanged set saves the
// same bytes).
func (sv *cursorSaver) partials() []savedPartial {
	rec := func(p position, scripts []string, carried int) savedPartial {
		return savedPartial{Kind: p.kind, ID: p.id, At: p.at, TS: p.ts, Sum: p.sum, Scripts: slices.Sorted(slices.Values(scripts)), Carried: carried}
	}
	byPos := func(a, b savedPartial) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.ID, b.ID), cmp.Compare(a.At, b.At), cmp.Compare(a.TS, b.TS), cmp.Compare(a.Sum, b.Sum))
	}
	var live, old []savedPartial
	for _, p := range sv.partial {
		live = append(live, rec(p.pos, p.scripts, 0))
	}
	for p, r := range sv.restored {
		if !r.used && r.carried < maxCarried {
			old = append(old, rec(p, r.scripts, r.carried+1))
		}
	}
	// This run's records first, then the restored ones, each in a fixed
	// order: past the cap the same ones go, and an unchanged set saves the
	// same bytes.
	slices.SortFunc(live, byPos)
	slices.SortFunc(old, byPos)
	out := append(live, old...)
	return out[:min(len(out), maxMarks)]
}

// start saves states as they become saveable, at most once per every,
// until the returned stop is called; stop saves the last saveable state.
func (sv *cursorSaver) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sv.ready:
			}
			sv.flush()
			if sleep(ctx, sv.every) != nil {
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
		sv.flush()
	}
}

// savedMessages is the message state of run for a snapshot.
func (run *rtRun) savedMessages() *savedMessages {
	st, ms := run.st, run.ms
	out := &savedMessages{}
	since := run.gap
	if since.IsZero() {
		// Never the clock: a message the stream has not given yet (back
		// pressure) is after the position, and caught up from it.
		since = ms.pos
		if since.IsZero() {
			since = ms.since.Add(run.r.poll.opts.Overlap)
		}
	}
	if len(st.rooms) > 0 {
		out.Rooms = slices.Sorted(maps.Keys(st.rooms))
		for sub, rid := range st.roomOf {
			if _, ok := st.rooms[rid]; ok {
				if out.Subs == nil {
					out.Subs = map[string]savedRoomSub{}
				}
				rs := savedRoomSub{Sub: sub}
				if j, ok := st.joined[rid]; ok {
					rs.Joined = j.UnixNano()
				}
				out.Subs[rid] = rs
			}
		}
	}
	out.Since = since.UnixNano()
	floor := since.Add(-run.r.poll.opts.Overlap)
	for id, v := range ms.latest {
		if !v.stamp.Before(floor) {
			if out.Latest == nil {
				out.Latest = map[string][2]int64{}
			}
			out.Latest[id] = [2]int64{v.ts.UnixNano(), v.stamp.UnixNano()}
		}
	}
	return out
}

// restoreMessages sets run's message state from a saved cursor: a gap is
// open since the saved time (the subscription cursor's without one).
func (run *rtRun) restoreMessages(s *savedCursor) {
	m := s.Messages
	if m == nil {
		m = &savedMessages{Since: s.Cursor}
	}
	run.gap = time.Unix(0, m.Since).UTC()
	for _, rid := range m.Rooms {
		run.st.rooms[rid] = time.Time{} // caught up from the gap: pruned after
	}
	for rid, rs := range m.Subs {
		run.st.alive(&rc.Subscription{ID: rs.Sub, RoomID: rid})
		if rs.Joined != 0 {
			run.st.joined[rid] = time.Unix(0, rs.Joined).UTC()
		}
	}
	run.ms.since = run.gap.Add(-run.r.poll.opts.Overlap)
	for id, v := range m.Latest {
		run.ms.latest[id] = msgVersion{ts: time.Unix(0, v[0]).UTC(), stamp: time.Unix(0, v[1]).UTC()}
	}
}
