// Package source holds rclua's event sources: what tells the host that
// something changed on the server. Every source produces the host's own
// Event, so one set of actors serves them all, and every source is started
// and stopped by the host (runtime) while some script listens to one of
// its kinds.
//
// Two sources: Realtime (the DDP streams, with the REST catch-up after
// every reconnect, falling back to polling when the realtime API cannot be
// reached or a lost connection does not come back) and Poll
// (subscriptions.get?updatedSince= on an interval). A source gets a client and an emit function; it knows nothing
// of scripts, Lua or the host.
//
// Cursors: with a Cursors store (PollOptions.Cursors, the daemon's state
// store), Poll and Realtime save their cursors, keyed by server and user
// (CursorName), covering the events handled (Event.Handled) and no
// other, at most once per CursorEvery and when Run ends. A Run that finds a saved cursor catches
// up instead of taking a baseline: the changes since are delivered once
// each, those older than the catch-up window skipped and counted in one
// log line. That holds for a Run started again in the same process too
// (a listener back after none): it resumes from the cursor the last Run
// saved. An event handled after the last save is delivered again after
// a crash (at least once); nothing is lost. An event some of whose
// scripts were done with it (Event.HandledBy) when Run ended is saved
// with their names, and delivered again with them in Event.Done.
package source

import "context"

// Event kinds, as scripts name them in rc.on (luabind's event table).
const (
	KindSubscription = "subscription" // a subscription was inserted, updated or removed
	// KindMessage is a message in a room the bot is a member of: new
	// (ActionCreated) or changed (ActionUpdated). rc.on("message"),
	// rc.hear and rc.respond run on it.
	KindMessage = "message"
)

// Actions of subscription events.
const (
	ActionInserted = "inserted"
	ActionUpdated  = "updated"
	ActionRemoved  = "removed"
)

// Actions of message events. A source emits ActionCreated once per
// message _id, for the first state of it the bot sees, and ActionUpdated
// for every later one (an edit, with editedAt set; a reaction; a thread's
// counters), which rc.hear and rc.respond ignore. The host merges two
// queued updates of one message into the newest, but never an update into
// its "created", so a message is heard once, as it was first seen.
const (
	ActionCreated = "created"
)

// Event is one change a source reports, in the host's own terms.
type Event struct {
	Kind   string // the rc.on event name, e.g. KindSubscription
	Action string // what happened: ActionInserted, ActionUpdated, ActionRemoved; ActionCreated
	ID     string // the id of the object it happened to (the subscription's or message's _id)
	// Raw is the object handlers get, as JSON: the subscription or
	// message as the server sent it, or {_id, _deletedAt} for a removal. It
	// is shared by every script that receives the event: nobody may change
	// it.
	Raw []byte
	// Handled, when not nil, is called once (from any goroutine) when
	// every script the event was given to is done with it: it ran its
	// handlers on it, or on a later state of the same object it merged
	// into, or the script stopped. It is never called for an event the
	// host's shutdown dropped. A source that saves a cursor (Cursors)
	// saves only what was handled, so nothing is lost to a restart.
	Handled func()
	// HandledBy, when not nil, is called (from any goroutine) when one
	// script the event was given to is done with it while others are not
	// yet (never for the last: Handled is called then). A source that
	// saves a cursor records it, so that a restart that delivers the event
	// again does not give it to that script.
	HandledBy func(script string)
	// Done are the scripts that were done with the event before a restart
	// delivered it again (a clean stop cut a backlog off while other
	// scripts had not handled it): the host does not give it to them.
	Done []string
	// pos is the version of the object the event reports, as the cursor
	// saver records it once the event is handled (zero: none).
	pos position
}

// Emit hands one event to the host. It blocks while a script that listens
// cannot take the event yet (its queue is full: backpressure) and returns
// nil once every such script has it queued. It returns ctx's error when
// ctx ends first: the source then returns from Run (the event is lost with
// the Run, which the host ends only on shutdown or when nobody listens).
type Emit func(ctx context.Context, ev Event) error

// Source produces events of some kinds.
type Source interface {
	// Kinds are the event kinds the source emits; the host runs the
	// source while some script listens to one of them.
	Kinds() []string
	// Run emits events until ctx ends, then returns nil. It passes its
	// own ctx to emit and waits for emit: a source never drops an event
	// because a script is slow, it slows down instead. The host stops a
	// source when its last listener goes and runs it again when one comes
	// back. Without Cursors each Run starts afresh, with a baseline; with
	// them a Run resumes from the saved cursor, in the same process as
	// after a restart: the changes made while nobody listened are
	// delivered, within the catch-up window. A non-nil error returned while ctx is
	// alive means the source cannot go on (for a source that logs in, a
	// login refused for good): the host stops and returns it. Poll does
	// on a 401 only: it backs off and retries every other failure.
	Run(ctx context.Context, emit Emit) error
}
