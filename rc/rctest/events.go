package rctest

import (
	"bytes"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// The stream events of the realtime API come from the state's changes: the
// code that changes a subscription or a message records it in the state's
// eventLog (subscription.touch, state.subscribe, state.unsubscribe,
// state.emitMessage), and the Unlock of Server.mu hands what the critical
// section recorded to the DDP sessions, rendered as the state it left. So
// every route and every helper emits exactly the changes it made, in order,
// without calling anything itself.

// Actions of subscriptions-changed events.
const (
	actionInserted = "inserted"
	actionUpdated  = "updated"
	actionRemoved  = "removed"
)

// stateMu is Server.mu. Its Unlock first flushes the stream events recorded
// while it was held.
type stateMu struct {
	sync.Mutex
	flush func() // called with the mutex held
}

// Unlock flushes the recorded events, then unlocks.
func (m *stateMu) Unlock() {
	if m.flush != nil {
		m.flush()
	}
	m.Mutex.Unlock()
}

// streamEvent is one recorded change: of a subscription (sub, action) or of
// a message (msg: new, edited, or a thread parent whose replies changed).
type streamEvent struct {
	sub    *subscription
	action string
	msg    *message
}

// eventLog collects the changes of one critical section; one event per
// subscription or message, whatever the number of changes it had.
type eventLog struct {
	on    bool // set when the first DDP session opens: before, nothing is recorded
	list  []streamEvent
	subAt map[*subscription]int // index in list
	msgAt map[*message]int
}

// subChanged records a change of s. An insertion stays one when the same
// section updates it again; a removal replaces anything before it.
func (l *eventLog) subChanged(s *subscription, action string) {
	if l == nil || !l.on {
		return
	}
	if i, ok := l.subAt[s]; ok {
		if action == actionRemoved || l.list[i].action != actionInserted {
			l.list[i].action = action
		}
		return
	}
	if l.subAt == nil {
		l.subAt = make(map[*subscription]int)
	}
	l.subAt[s] = len(l.list)
	l.list = append(l.list, streamEvent{sub: s, action: action})
}

// msgChanged records a new or changed message.
func (l *eventLog) msgChanged(m *message) {
	if !l.on {
		return
	}
	if _, ok := l.msgAt[m]; ok {
		return
	}
	if l.msgAt == nil {
		l.msgAt = make(map[*message]int)
	}
	l.msgAt[m] = len(l.list)
	l.list = append(l.list, streamEvent{msg: m})
}

// take returns the recorded events and empties the log.
func (l *eventLog) take() []streamEvent {
	list := l.list
	l.list = nil
	clear(l.subAt)
	clear(l.msgAt)
	return list
}

// touch marks s changed now: its _updatedAt and a subscriptions-changed
// "updated" event.
func (s *subscription) touch(now time.Time) {
	s.updatedAt = now
	s.log.subChanged(s, actionUpdated)
}

// flushEvents sends the recorded events to the DDP sessions that subscribed
// to them. s.mu is held.
func (s *Server) flushEvents() {
	if len(s.st.events.list) == 0 {
		return
	}
	list := s.st.events.take()
	h := &s.ddp
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.sessions) == 0 {
		return
	}
	for _, ev := range list {
		if ev.msg != nil {
			s.sendMessageEvent(ev.msg)
		} else {
			s.sendSubscriptionEvent(ev.sub, ev.action)
		}
	}
}

// sendSubscriptionEvent sends "<uid>/subscriptions-changed" on
// stream-notify-user to the sessions of the subscription's user. s.mu and
// s.ddp.mu are held.
func (s *Server) sendSubscriptionEvent(sub *subscription, action string) {
	eventName := sub.uid + "/subscriptions-changed"
	var frame []byte
	for _, sess := range s.ddp.sessions {
		if sess.uid != sub.uid {
			continue
		}
		if action == actionRemoved {
			// Leaving a room silently detaches the user's subscription to
			// its messages (facts §6.1), a public channel's too.
			sess.subs = slices.DeleteFunc(sess.subs, func(ds DDPSub) bool {
				return ds.Name == streamRoomMessages && ds.EventName == sub.rid
			})
		}
		for _, ds := range sess.subs {
			if ds.Name != streamNotifyUser || ds.EventName != eventName {
				continue
			}
			if frame == nil {
				var payload []byte
				if action == actionRemoved {
					// What the watcher finds in the trash: {_id, u, rid}.
					payload = obj{{"_id", sub.id}, {"u", userShort(s.st.users[sub.uid], sub.uid)}, {"rid", sub.rid}}.bytes()
				} else {
					payload = ejsonDates(s.st.appendSubscription(nil, sub))
				}
				frame = changedFrame(streamNotifyUser, eventName, appendValue(nil, action), payload)
			}
			sess.enqueue(frame) // one copy per subscription, as the real server
		}
	}
}

// sendMessageEvent sends a message on stream-room-messages: "<rid>" to the
// sessions whose user can read the room, "__my_messages__" with the
// roomParticipant extra to the same sessions. s.mu and s.ddp.mu are held.
func (s *Server) sendMessageEvent(m *message) {
	r := s.st.rooms[m.rid]
	if r == nil {
		return
	}
	var msg, room []byte
	var mine [2][]byte // by roomParticipant
	for _, sess := range s.ddp.sessions {
		if sess.uid == "" {
			continue
		}
		member := s.st.sub(sess.uid, r.id) != nil
		if !member && r.t != "c" {
			continue // no access
		}
		p := 0
		if member {
			p = 1
		}
		for _, ds := range sess.subs {
			if ds.Name != streamRoomMessages || (ds.EventName != r.id && ds.EventName != myMessages) {
				continue
			}
			if msg == nil {
				msg = ejsonDates(s.st.messageObj(m).bytes())
			}
			if ds.EventName == r.id {
				if room == nil {
					room = changedFrame(streamRoomMessages, r.id, msg)
				}
				sess.enqueue(room)
				continue
			}
			if mine[p] == nil {
				extra := obj{{"roomParticipant", member}, {"roomType", r.t}}
				if r.t != "d" {
					extra = append(extra, field{"roomName", r.name})
				}
				mine[p] = changedFrame(streamRoomMessages, myMessages, msg, extra.bytes())
			}
			sess.enqueue(mine[p])
		}
	}
}

func userShort(u *user, id string) obj {
	if u == nil {
		return obj{{"_id", id}}
	}
	return obj{{"_id", u.id}, {"username", u.username}}
}

// changedFrame renders a stream event: {"msg":"changed","collection":
// collection,"id":"id","fields":{"eventName":eventName,"args":[args...]}}.
func changedFrame(collection, eventName string, args ...[]byte) []byte {
	b := []byte(`{"msg":"changed","collection":`)
	b = appendString(b, collection)
	b = append(b, `,"id":"id","fields":{"eventName":`...)
	b = appendString(b, eventName)
	b = append(b, `,"args":[`...)
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return append(b, "]}}"...)
}

// dateKeys are the members holding dates in rctest's documents.
var dateKeys = map[string]bool{
	"ts": true, "ls": true, "lr": true, "_updatedAt": true, "tlm": true, "editedAt": true,
	"_deletedAt": true, "createdAt": true,
}

// ejsonDates rewrites the dates of a REST document for DDP, which sends
// them as EJSON ({"$date": <epoch ms>}): the top-level members named in
// dateKeys whose value is an ISO-8601 string. Nested values (an
// attachment's own "ts") are left alone.
func ejsonDates(doc []byte) []byte {
	dec := jsontext.NewDecoder(bytes.NewReader(doc))
	var out bytes.Buffer
	out.Grow(len(doc) + 64)
	enc := jsontext.NewEncoder(&out)
	name := ""
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return doc // not JSON: rctest's own documents always are
		}
		depth := dec.StackDepth()
		kind, n := dec.StackIndex(depth)
		isName := kind == '{' && n%2 == 1
		if tok.Kind() == '"' && !isName && depth == 1 && dateKeys[name] {
			if t, err := time.Parse(timeLayout, tok.String()); err == nil {
				_ = enc.WriteToken(jsontext.BeginObject)
				_ = enc.WriteToken(jsontext.String("$date"))
				_ = enc.WriteToken(jsontext.Int(t.UnixMilli()))
				_ = enc.WriteToken(jsontext.EndObject)
				continue
			}
		}
		if isName && depth == 1 {
			name = tok.String()
		}
		if err := enc.WriteToken(tok); err != nil {
			return doc
		}
	}
	return bytes.TrimSpace(out.Bytes())
}
