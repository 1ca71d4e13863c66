package source

import (
	"bytes"
	"context"
	"time"

	"github.com/rclua/rclua/rc"
)

// DefaultCatchUp is how far back a catch-up of messages goes after a gap.
const DefaultCatchUp = 5 * time.Minute

// MessageHistory is what Realtime needs to catch messages up;
// (*rc.Client).Chat implements it.
type MessageHistory interface {
	SyncMessages(ctx context.Context, roomID string, lastUpdate time.Time) (*rc.SyncMessagesResult, error)
}

// RoomChanges lists the rooms of the bot changed after a time (rooms.get;
// *rc.RoomsService implements it).
type RoomChanges interface {
	Get(ctx context.Context, updatedSince time.Time) (*rc.RoomsResult, error)
}

// msgState is one Run's memory of messages: the versions emitted, by id,
// within the catch-up window.
type msgState struct {
	botID  string        // the bot's user id: its own messages are never emitted
	window time.Duration // the catch-up window
	// since is the start of the Run on the server's clock (the baseline's
	// Date, less the overlap): older messages are not new. Zero before the
	// baseline.
	since time.Time
	// began, when set, is the server's clock when the baseline's query
	// began, the stream up already: a message a catch-up gives that was
	// created before it is not new, even within since's overlap (that
	// covers the stream's own, sent between its ready and the baseline).
	began time.Time
	// pos is the message position: the newest stamp of a message read
	// (from the stream or a catch-up), or the server's clock when a sync
	// that left nothing to catch up began (the baseline, the end of a gap,
	// a resync with nothing unread in the client), or at a stop with
	// nothing unread. Every message stamped before it, less the overlap,
	// was read; it never moves with the clock while events wait unread.
	pos    time.Time
	latest map[string]msgVersion
}

// msgVersion is the last version of a message emitted, and whether a
// REST answer (a catch-up) gave it.
type msgVersion struct {
	ts, stamp time.Time
	rest      bool
}

func newMsgState(botID string, window time.Duration) *msgState {
	return &msgState{botID: botID, window: window, latest: map[string]msgVersion{}}
}

// stamp is what orders the versions of a message: _updatedAt (every
// change sets it), else ts.
func stamp(m *rc.Message) time.Time {
	if !m.UpdatedAt.IsZero() {
		return m.UpdatedAt
	}
	return m.TS
}

// read moves the position to t when it is later.
func (ms *msgState) read(t time.Time) {
	if t.After(ms.pos) {
		ms.pos = t
	}
}

// offer emits m (from a REST answer when rest, else from the stream)
// unless it is the bot's, the version emitted last, or older than it
// while either came from REST (a late stream copy, or an answer older
// than the stream's news): among stream events the stream's order wins
// over their stamps (a server clock stepped back, a cluster's skewed
// nodes). The first time a message created since floor (the later of
// since and now - window) is seen it is ActionCreated, else
// ActionUpdated. now is the server's clock.
func (ms *msgState) offer(ctx context.Context, emit Emit, m *rc.Message, now time.Time, rest bool) error {
	at := stamp(m)
	ms.read(at)
	if m.ID == "" || (ms.botID != "" && m.User.ID == ms.botID) {
		return nil
	}
	prev, seen := ms.latest[m.ID]
	if seen && at.Equal(prev.stamp) {
		if prev.rest && !rest { // the stream has reached the answer's version
			prev.rest = false
			ms.latest[m.ID] = prev
		}
		return nil
	}
	if seen && at.Before(prev.stamp) && (rest || prev.rest) {
		return nil
	}
	action := ActionUpdated
	if !seen && !m.TS.Before(ms.floor(now)) && !(rest && m.TS.Before(ms.began)) {
		action = ActionCreated
	}
	ms.latest[m.ID] = msgVersion{ts: m.TS, stamp: at, rest: rest}
	pos := position{kind: posMessage, id: m.ID, at: at.UnixNano(), ts: m.TS.UnixNano()}
	return emit(ctx, Event{Kind: KindMessage, Action: action, ID: m.ID, Raw: bytes.Clone(m.Raw), pos: pos})
}

// floor is the oldest creation time of a message that is new: the later of
// since and now - window.
func (ms *msgState) floor(now time.Time) time.Time {
	f := now.Add(-ms.window)
	if ms.since.After(f) {
		return ms.since
	}
	return f
}

// prune forgets the messages whose versions are all older than the floor:
// a later change of one is ActionUpdated, as it would be anyway.
func (ms *msgState) prune(now time.Time) {
	f := ms.floor(now)
	for id, v := range ms.latest {
		if v.ts.Before(f) && v.stamp.Before(f) {
			delete(ms.latest, id)
		}
	}
}
