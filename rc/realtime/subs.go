package realtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	jsonv2 "github.com/go-json-experiment/json"
)

// The streams and event names of the realtime API the daemon uses (facts
// page §6).
const (
	// StreamNotifyUser carries a user's own events ("<userId>/<event>").
	StreamNotifyUser = "stream-notify-user"
	// StreamRoomMessages carries the messages of a room ("<roomId>") or of
	// every room the user can read (MyMessages).
	StreamRoomMessages = "stream-room-messages"
	// MyMessages is the StreamRoomMessages event of every room the user
	// can read, public rooms they are not in included (see RoomContext).
	MyMessages = "__my_messages__"
)

// Sub is an active subscription. The client subscribes it again after
// every reconnection until Stop.
type Sub struct {
	c                 *Client
	id, stream, event string
	ready             chan struct{} // closed at the first ready or nosub

	// Guarded by Client.mu.
	sentOn *conn // the connection it was last sent on
	closed bool  // ready is closed
	err    error // the first nosub's error
}

// ID returns the subscription's DDP id.
func (s *Sub) ID() string { return s.id }

// Stream returns the stream's name, e.g. "stream-room-messages".
func (s *Sub) Stream() string { return s.stream }

// EventName returns the event subscribed to, e.g. "__my_messages__".
func (s *Sub) EventName() string { return s.event }

func (s *Sub) subFrame() []byte {
	b, _ := jsonv2.Marshal(struct {
		Msg    string `json:"msg"`
		ID     string `json:"id"`
		Name   string `json:"name"`
		Params []any  `json:"params"`
	}{"sub", s.id, s.stream, []any{s.event, false}})
	return b
}

// Subscribe subscribes to eventName of stream (params [eventName, false])
// and returns once the server is ready: its events then arrive on Events.
// A refusal is the server's *Error (e.g. Code "not-allowed"). While the
// client is between connections, the subscription is sent at the next one
// and Subscribe waits for it; when ctx ends first, it is withdrawn.
//
// The server's answer is read by the goroutine that delivers events: do
// not call Subscribe from the goroutine that reads Events while the
// channel may be full.
func (c *Client) Subscribe(ctx context.Context, stream, eventName string) (*Sub, error) {
	s := &Sub{c: c, id: "s" + c.newID(), stream: stream, event: eventName, ready: make(chan struct{})}
	c.mu.Lock()
	select {
	case <-c.ended:
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: subscribe %s %q", ErrClosed, stream, eventName)
	default:
	}
	c.subs[s.id] = s
	cn := c.cur
	if cn != nil {
		s.sentOn = cn
	}
	c.mu.Unlock()
	if cn != nil {
		_ = cn.write(c.ctx, s.subFrame()) // on failure, the next connection sends it
	}
	select {
	case <-s.ready:
		c.mu.Lock()
		err := s.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		_ = s.Stop(context.Background())
		return nil, fmt.Errorf("realtime: subscribe %s %q: %w", stream, eventName, ctx.Err())
	case <-c.ended:
		return nil, fmt.Errorf("%w: subscribe %s %q", ErrClosed, stream, eventName)
	}
}

// SubscribeSubscriptionChanges subscribes to the logged-in user's
// subscriptions-changed events (stream-notify-user
// "<userId>/subscriptions-changed"): see Event.SubscriptionChange.
func (c *Client) SubscribeSubscriptionChanges(ctx context.Context) (*Sub, error) {
	return c.Subscribe(ctx, StreamNotifyUser, c.UserID()+"/subscriptions-changed")
}

// SubscribeMyMessages subscribes to the messages of every room the user
// can read (stream-room-messages "__my_messages__"): see Event.Message.
func (c *Client) SubscribeMyMessages(ctx context.Context) (*Sub, error) {
	return c.Subscribe(ctx, StreamRoomMessages, MyMessages)
}

// SubscribeRoomMessages subscribes to the messages of one room
// (stream-room-messages "<roomId>").
func (c *Client) SubscribeRoomMessages(ctx context.Context, roomID string) (*Sub, error) {
	return c.Subscribe(ctx, StreamRoomMessages, roomID)
}

// Stop ends the subscription: it is not sent again, and the server is
// told (unsub) when the connection it was sent on is up. Events already
// on their way may still arrive. Stopping twice does nothing.
func (s *Sub) Stop(ctx context.Context) error {
	c := s.c
	c.mu.Lock()
	_, active := c.subs[s.id]
	delete(c.subs, s.id)
	cn := c.cur
	send := active && cn != nil && s.sentOn == cn
	c.mu.Unlock()
	if !send {
		return nil
	}
	data, _ := jsonv2.Marshal(struct {
		Msg string `json:"msg"`
		ID  string `json:"id"`
	}{"unsub", s.id})
	if err := ctx.Err(); err != nil {
		return err
	}
	return cn.write(c.ctx, data)
}

// attach makes cn the current connection and returns the subscriptions to
// send again at it, each once: the ones not sent on it yet. A Subscribe
// from now on sends its own.
func (c *Client) attach(cn *conn) []*Sub {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur = cn
	var out []*Sub
	for _, s := range c.subs {
		if s.sentOn != cn {
			s.sentOn = cn
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *Sub) int { return subOrder(a.id) - subOrder(b.id) })
	cn.pending = make(map[string]bool, len(out))
	for _, s := range out {
		cn.pending[s.id] = true
	}
	return out
}

// subOrder is the creation order of a subscription id ("s<n>").
func subOrder(id string) int {
	n, _ := strconv.Atoi(id[1:])
	return n
}

// subReady handles a ready (nosub false) or a nosub for the subscription
// id on cn: it wakes a Subscribe waiting for it, removes a refused one,
// and sends Ready once every subscription sent again at cn has answered.
func (c *Client) subReady(cn *conn, id string, serr *Error, nosub bool) {
	var events []Event
	c.mu.Lock()
	s := c.subs[id]
	if s != nil && nosub {
		delete(c.subs, id)
		if serr != nil {
			serr.Stream = s.stream
		}
		if s.closed {
			ev := Event{Kind: Nosub, Sub: id, Seq: cn.seq}
			if serr != nil {
				ev.Err = serr
			}
			events = append(events, ev)
		} else if serr != nil {
			s.err = serr
		} else {
			s.err = fmt.Errorf("realtime: subscribe %s %q: the server ended it", s.stream, s.event)
		}
	}
	if s != nil && !s.closed {
		s.closed = true
		close(s.ready)
	}
	if cn.pending[id] {
		delete(cn.pending, id)
		if len(cn.pending) == 0 && !cn.readySent {
			cn.readySent = true
			events = append(events, Event{Kind: Ready, Seq: cn.seq})
		}
	}
	c.mu.Unlock()
	for _, ev := range events {
		if !c.emit(ev) {
			return
		}
	}
}
