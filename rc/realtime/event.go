package realtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/rclua/rclua/rc"
)

// Kind says what an Event is.
type Kind int

// The kinds of events.
const (
	// Changed is a stream event: Collection, Name and Args are set.
	Changed Kind = iota + 1
	// Connected says that a connection is up and logged in (Seq is its
	// number, 1 for the first); the subscriptions are being sent again.
	Connected
	// Ready follows Connected once every subscription sent again at that
	// connection is ready (or refused): events from then on are complete,
	// and a REST catch-up of what the gap missed can run.
	Ready
	// Disconnected says that the connection Seq ended, or that an attempt
	// to connect again failed; Err says why. The client tries again.
	Disconnected
	// Nosub says that the server ended the active subscription Sub
	// (refused it again at a reconnection, for instance); Err is the
	// server's *Error, or nil.
	Nosub
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Changed:
		return "changed"
	case Connected:
		return "connected"
	case Ready:
		return "ready"
	case Disconnected:
		return "disconnected"
	case Nosub:
		return "nosub"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Event is what the client delivers: a stream event or a change of the
// connection.
type Event struct {
	Kind Kind
	// Collection is the stream of a Changed event, e.g.
	// "stream-room-messages".
	Collection string
	// Name is the event name of a Changed event (fields.eventName): a room
	// id, "__my_messages__", "<userId>/subscriptions-changed".
	Name string
	// Args are the event's arguments (fields.args) as the server sent
	// them: EJSON, so dates are {"$date": <epoch ms>} (see RESTDates).
	Args []json.RawMessage
	// Seq is the connection's number for Connected, Ready and Disconnected
	// (the last connection's, for a failed attempt); for Changed, the
	// connection it arrived on.
	Seq int
	// Err says why for Disconnected, and is the server's error for Nosub.
	Err error
	// Sub is the subscription's id for Nosub.
	Sub string
}

// IsSubscriptionChange reports whether e is a subscriptions-changed event
// of stream-notify-user.
func (e *Event) IsSubscriptionChange() bool {
	return e.Kind == Changed && e.Collection == StreamNotifyUser && strings.HasSuffix(e.Name, "/subscriptions-changed")
}

// IsMessage reports whether e is a message event of stream-room-messages.
func (e *Event) IsMessage() bool {
	return e.Kind == Changed && e.Collection == StreamRoomMessages
}

// SubscriptionChange decodes a subscriptions-changed event: the action
// ("inserted", "updated" or "removed") and the subscription, whose dates
// and Raw are in the REST form (RESTDates), so that it reads exactly as
// subscriptions.get returns it. For "removed" the server sends only _id
// (and u, rid when it has them).
func (e *Event) SubscriptionChange() (action string, sub *rc.Subscription, err error) {
	if !e.IsSubscriptionChange() || len(e.Args) < 2 {
		return "", nil, fmt.Errorf("realtime: %s %q is not a subscriptions-changed event with two arguments", e.Collection, e.Name)
	}
	if err := jsonv2.Unmarshal(e.Args[0], &action); err != nil {
		return "", nil, fmt.Errorf("realtime: subscriptions-changed: action: %w", err)
	}
	sub = new(rc.Subscription)
	if err := sub.UnmarshalJSON(RESTDates(e.Args[1])); err != nil {
		return "", nil, fmt.Errorf("realtime: subscriptions-changed: subscription: %w", err)
	}
	return action, sub, nil
}

// RoomContext is the second argument of a "__my_messages__" event.
type RoomContext struct {
	// Participant reports whether the user is a member of the room (the
	// stream also carries public rooms the user is not in).
	Participant bool `json:"roomParticipant"`
	// Type is the room's type: "c", "p", "d", "l".
	Type string `json:"roomType"`
	// Name is the room's name ("" for a DM).
	Name string `json:"roomName"`
}

// Message decodes a stream-room-messages event: the message, whose dates
// and Raw are in the REST form (RESTDates), and for "__my_messages__" its
// room context (nil on a room's own stream). An edit is the whole message
// again, with editedAt set; a thread reply is followed by its parent
// again.
func (e *Event) Message() (*rc.Message, *RoomContext, error) {
	if !e.IsMessage() || len(e.Args) < 1 {
		return nil, nil, fmt.Errorf("realtime: %s %q is not a message event", e.Collection, e.Name)
	}
	m := new(rc.Message)
	if err := m.UnmarshalJSON(RESTDates(e.Args[0])); err != nil {
		return nil, nil, fmt.Errorf("realtime: message event: %w", err)
	}
	if len(e.Args) < 2 {
		return m, nil, nil
	}
	rctx := new(RoomContext)
	if err := jsonv2.Unmarshal(e.Args[1], rctx, frameOpts); err != nil {
		return nil, nil, fmt.Errorf("realtime: message event: room context: %w", err)
	}
	return m, rctx, nil
}

// Sentinels, for errors.Is.
var (
	// ErrUpgradeRefused is a server (or a proxy) that answered the
	// websocket handshake with another HTTP status than 101: the realtime
	// API is not reachable there; poll instead.
	ErrUpgradeRefused = errors.New("realtime: websocket upgrade refused")
	// ErrLoginRefused is a login the server refused (an unknown or revoked
	// token: 403 "You've been logged out by the server"). It is final: the
	// client stops. Errors matching it match rc.ErrUnauthorized too.
	ErrLoginRefused = errors.New("realtime: login refused")
	// ErrClosed is a call on a client that has stopped.
	ErrClosed = errors.New("realtime: client stopped")
	// ErrNotConnected is a method call while no connection is up.
	ErrNotConnected = errors.New("realtime: not connected")
	// ErrConnectionLost is a method call whose connection ended before its
	// result came: the method may or may not have run.
	ErrConnectionLost = errors.New("realtime: connection lost before the result")
	// ErrTimeout is a connection on which nothing arrived for the watchdog's
	// bound (WithWatchdog).
	ErrTimeout = errors.New("realtime: nothing received in time")
)

// Error is an error the server sent (a Meteor error) for a method or a
// subscription.
type Error struct {
	// Method is the method called, or "" for a subscription.
	Method string
	// Stream is the stream subscribed to, or "" for a method.
	Stream string
	// Code is the Meteor error's "error": a number as text ("403") or a
	// name ("not-allowed", "too-many-requests").
	Code string
	// Reason is the server's text.
	Reason string
	// Message is the server's message, usually "<reason> [<code>]".
	Message string
	// Type is the server's errorType, e.g. "Meteor.Error".
	Type string
	// Details is the server's details object, or nil.
	Details json.RawMessage
}

// Error returns "realtime: <method or stream>: <reason> [<code>]".
func (e *Error) Error() string {
	what := e.Method
	if what == "" {
		what = e.Stream
	}
	text := e.Reason
	if text == "" {
		text = e.Message
	}
	if e.Code != "" && !strings.Contains(text, "["+e.Code+"]") {
		text += " [" + e.Code + "]"
	}
	return "realtime: " + what + ": " + text
}

// loginError is a login refusal: it matches ErrLoginRefused and
// rc.ErrUnauthorized, and unwraps to the server's *Error.
type loginError struct{ err *Error }

func (e *loginError) Error() string {
	return "realtime: login refused: " + strings.TrimPrefix(e.err.Error(), "realtime: login: ")
}

func (e *loginError) Unwrap() error { return e.err }

func (e *loginError) Is(target error) bool {
	return target == ErrLoginRefused || target == rc.ErrUnauthorized
}

// finalLogin reports whether a login error will not change by trying
// again: a refused or malformed login (not, say, a rate limit).
func finalLogin(e *Error) bool {
	switch e.Code {
	case "400", "401", "403":
		return true
	}
	return false
}

// frame is a DDP message from the server.
type frame struct {
	Msg        string         `json:"msg"`
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Fields     fields         `json:"fields"`
	Result     jsontext.Value `json:"result"`
	Error      *wireError     `json:"error"`
	Subs       []string       `json:"subs"`
	Version    string         `json:"version"`
}

type fields struct {
	EventName string           `json:"eventName"`
	Args      []jsontext.Value `json:"args"`
}

// wireError is a Meteor error as DDP sends it.
type wireError struct {
	Error     jsontext.Value `json:"error"`
	Reason    string         `json:"reason"`
	Message   string         `json:"message"`
	ErrorType string         `json:"errorType"`
	Details   jsontext.Value `json:"details"`
}

func (w *wireError) toError(method, stream string) *Error {
	e := &Error{Method: method, Stream: stream, Reason: w.Reason, Message: w.Message, Type: w.ErrorType}
	if v := w.Error; len(v) > 0 && v.Kind() == '"' {
		_ = jsonv2.Unmarshal(v, &e.Code)
	} else if len(v) > 0 {
		e.Code = string(v)
	}
	if len(w.Details) > 0 && string(w.Details) != "null" {
		e.Details = json.RawMessage(w.Details)
	}
	return e
}

var frameOpts = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

func decodeFrame(data []byte) (*frame, error) {
	f := new(frame)
	if err := jsonv2.Unmarshal(data, f, frameOpts); err != nil {
		return nil, fmt.Errorf("realtime: malformed frame from the server: %w", err)
	}
	return f, nil
}
