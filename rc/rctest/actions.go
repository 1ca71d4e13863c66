package rctest

import (
	"slices"
	"sort"
)

// ActionKind names what an Action did.
type ActionKind string

// The kinds of Action.
const (
	// ActionPost: chat.postMessage (one per target) or chat.sendMessage
	// posted a message.
	ActionPost ActionKind = "post"
	// ActionReact: chat.react added the user's reaction (or found it).
	ActionReact ActionKind = "react"
	// ActionUnreact: chat.react removed the user's reaction (or found
	// none).
	ActionUnreact ActionKind = "unreact"
	// ActionRead: subscriptions.read marked a room read.
	ActionRead ActionKind = "read"
	// ActionUnread: subscriptions.unread marked a room (roomId) or a
	// message onwards (firstUnreadMessage) unread.
	ActionUnread ActionKind = "unread"
)

// maxActionLog is the capacity of the action log.
const maxActionLog = 10000

// Action is one change a REST request made, as the server applied it
// (whatever parameter spelling the request used): a successful
// chat.postMessage, chat.sendMessage, chat.react, subscriptions.read or subscriptions.unread.
// A request that succeeded without changing anything (shouldReact as the
// reaction already is, an unread from a message already unread) is
// logged too; refused requests and the test helpers (PostMessage, ...)
// log none, and a chat.postMessage to several rooms that fails at one
// keeps the posts made before it (the server posts room by room).
type Action struct {
	// Seq numbers the actions 1, 2, ... in the order they were applied.
	Seq    uint64
	Kind   ActionKind
	UserID string // who made the request
	// RoomID is the room posted in, read or marked unread (roomId); ""
	// for an unread from a message.
	RoomID string
	// MessageID is the message posted or reacted to, or the first unread
	// message of an unread from a message.
	MessageID string
	Text      string // post: the message's text
	ThreadID  string // post: the thread (tmid), "" outside a thread
	// Emoji is the reaction as stored, with colons (":eyes:").
	Emoji string
	// ReadThreads is the readThreads of a read.
	ReadThreads bool
}

// logAction appends a to the action log; s.mu is held.
func (s *Server) logAction(a Action) {
	s.actionSeq++
	a.Seq = s.actionSeq
	if len(s.actions) == 2*maxActionLog {
		s.actions = slices.Delete(s.actions, 0, maxActionLog) // keep the latest
	}
	s.actions = append(s.actions, a)
}

// Actions returns the logged actions numbered after seq (0: all), oldest
// first. The log keeps at least the latest 10,000 actions.
func (s *Server) Actions(after uint64) []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.actions), func(i int) bool { return s.actions[i].Seq > after })
	return slices.Clone(s.actions[i:])
}
