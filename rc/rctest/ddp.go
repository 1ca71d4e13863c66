package rctest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// The realtime API: DDP over a websocket at /websocket on the REST
// listener (facts page §6 and §6.1). See the package documentation for
// what it serves and the helpers below for the faults it can play.

const (
	streamNotifyUser   = "stream-notify-user"
	streamRoomMessages = "stream-room-messages"
	myMessages         = "__my_messages__"

	defaultDDPPing    = 30 * time.Second // ddp-streamer's ping interval and timeout
	defaultDDPTimeout = 30 * time.Second
	maxSessionLog     = 1000
	loggedOutReason   = "You've been logged out by the server. Please log in again."
)

// ServerIDFrame is the first frame of a DDP session, which differs between
// server versions (facts page §6.1).
type ServerIDFrame int

// The first frames a client must accept.
const (
	// ServerIDPlain is {"server_id":"0"}, as older streamers send (the
	// default).
	ServerIDPlain ServerIDFrame = iota
	// ServerIDMsg is {"msg":"server_id","server_id":"0"}, as the newest
	// ddp-streamer sends.
	ServerIDMsg
	// ServerIDNone is no frame at all before "connected", as Meteor 2.3 and
	// later send.
	ServerIDNone
)

// DDPStats counts what DDP clients did since the server started.
type DDPStats struct {
	// Sessions is the number of websocket sessions accepted.
	Sessions int
	// Logins is the number of login method calls; LoginsRefused how many
	// of them failed.
	Logins, LoginsRefused int
	// Subs is the number of sub messages received; SubsByStream counts
	// them by stream name.
	Subs         int
	SubsByStream map[string]int
	// Pings and Pongs are the DDP pings and pongs clients sent.
	Pings, Pongs int
}

// DDPSession is a snapshot of an open DDP session.
type DDPSession struct {
	// ID is the session id sent in "connected".
	ID string
	// UserID is the logged-in user ("" before a login).
	UserID string
	// Subs are the active subscriptions, in the order they were made.
	Subs []DDPSub
	// Received lists what the client sent, in order, without pings and
	// pongs: "connect", "login", "method <name>", "sub <name> <eventName>",
	// "unsub <id>" (the first 1,000 entries).
	Received []string
	// Queued is the number of frames waiting to be written to the client
	// (a client that does not read makes it grow: rctest buffers without
	// limit).
	Queued int
}

// DDPSub is one subscription of a session.
type DDPSub struct {
	ID, Name, EventName string
}

// ddpHub is the DDP side of a Server; mu guards everything in it and in
// its sessions but their connections.
type ddpHub struct {
	mu            sync.Mutex
	sessions      []*ddpSession // open, oldest first
	stats         DDPStats
	refuseUpgrade bool
	silent        bool
	refuseLogins  int
	firstFrame    ServerIDFrame
	ping, timeout time.Duration // 0: the defaults
}

type ddpSession struct {
	id   string
	conn *websocket.Conn
	wake chan struct{} // cap 1: a frame was queued

	// Guarded by ddpHub.mu.
	connected bool
	uid       string
	subs      []DDPSub
	received  []string
	queue     [][]byte
	lastRecv  time.Time
	pingSent  time.Time // zero when no ping of the server is outstanding
}

// enqueue queues a frame for the session's writer; ddpHub.mu is held.
func (d *ddpSession) enqueue(frame []byte) {
	d.queue = append(d.queue, frame)
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *ddpSession) logRecv(entry string) {
	if len(d.received) < maxSessionLog {
		d.received = append(d.received, entry)
	}
}

// RefuseUpgrade makes /websocket answer a plain HTTP 400, as behind a proxy
// that does not pass websockets; false serves DDP again.
func (s *Server) RefuseUpgrade(refuse bool) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	s.ddp.refuseUpgrade = refuse
}

// StopAnsweringPings makes every DDP session go quiet on heartbeats: it
// neither answers the clients' pings nor sends its own (nor closes a
// session that does not answer), as a connection that is half dead. Stream
// events and method results still flow. false restores the heartbeat.
func (s *Server) StopAnsweringPings(stop bool) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	s.ddp.silent = stop
}

// RefuseLogins makes the next n DDP logins fail, whatever the token, with
// the server's answer to a revoked token: error 403 "You've been logged out
// by the server. Please log in again.".
func (s *Server) RefuseLogins(n int) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	s.ddp.refuseLogins = max(n, 0)
}

// SetServerIDFrame sets the first frame of the DDP sessions opened from now
// on.
func (s *Server) SetServerIDFrame(f ServerIDFrame) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	s.ddp.firstFrame = f
}

// SetHeartbeat sets the heartbeat of the DDP sessions opened from now on:
// after interval without a message from the client a session sends
// {"msg":"ping"}, and it closes with 4000 "TIMEOUT" when nothing arrives
// within timeout of that. The default is ddp-streamer's, 30s and 30s;
// zero keeps a default.
func (s *Server) SetHeartbeat(interval, timeout time.Duration) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	s.ddp.ping, s.ddp.timeout = interval, timeout
}

// DropSessions closes every DDP session's connection abruptly (no close
// frame), as a network failure or a server restart would, and returns how
// many there were.
func (s *Server) DropSessions() int {
	s.ddp.mu.Lock()
	list := s.ddp.sessions
	s.ddp.sessions = nil
	s.ddp.mu.Unlock()
	for _, d := range list {
		_ = d.conn.CloseNow()
	}
	return len(list)
}

// DDPStats returns the DDP counters.
func (s *Server) DDPStats() DDPStats {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	st := s.ddp.stats
	st.SubsByStream = maps.Clone(st.SubsByStream)
	return st
}

// Sessions returns a snapshot of the open DDP sessions, oldest first.
func (s *Server) Sessions() []DDPSession {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	out := make([]DDPSession, len(s.ddp.sessions))
	for i, d := range s.ddp.sessions {
		out[i] = DDPSession{ID: d.id, UserID: d.uid, Subs: slices.Clone(d.subs),
			Received: slices.Clone(d.received), Queued: len(d.queue)}
	}
	return out
}

func (h *ddpHub) remove(d *ddpSession) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sessions = slices.DeleteFunc(h.sessions, func(x *ddpSession) bool { return x == d })
}

// serveDDP serves one websocket session until the client goes, the session
// is dropped, or the server closes.
func (s *Server) serveDDP(w http.ResponseWriter, r *http.Request) {
	h := &s.ddp
	h.mu.Lock()
	refuse, first := h.refuseUpgrade, h.firstFrame
	ping, timeout := orDefault(h.ping, defaultDDPPing), orDefault(h.timeout, defaultDDPTimeout)
	h.mu.Unlock()
	if refuse {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `Can "Upgrade" only to "WebSocket".`)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(s.cfg.maxBodySize)

	s.mu.Lock()
	s.st.events.on = true
	d := &ddpSession{id: s.st.newID(), conn: conn, wake: make(chan struct{}, 1)}
	s.mu.Unlock()
	h.mu.Lock()
	d.lastRecv = time.Now()
	h.sessions = append(h.sessions, d)
	h.stats.Sessions++
	switch first {
	case ServerIDPlain:
		d.enqueue([]byte(`{"server_id":"0"}`))
	case ServerIDMsg:
		d.enqueue([]byte(`{"msg":"server_id","server_id":"0"}`))
	}
	h.mu.Unlock()

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.writeDDP(d, done, ping, timeout)
	}()
	s.readDDP(d)
	close(done)
	_ = conn.CloseNow()
	wg.Wait()
	h.remove(d)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// writeDDP writes the session's queue in order and plays the server's side
// of the heartbeat, until done or the server closes.
func (s *Server) writeDDP(d *ddpSession, done <-chan struct{}, ping, timeout time.Duration) {
	h := &s.ddp
	tick := time.NewTicker(max(min(ping, timeout)/4, time.Millisecond))
	defer tick.Stop()
	for {
		h.mu.Lock()
		var frame []byte
		if len(d.queue) > 0 {
			frame = d.queue[0]
			d.queue[0] = nil
			d.queue = d.queue[1:]
			if len(d.queue) == 0 {
				d.queue = nil
			}
		}
		h.mu.Unlock()
		if frame != nil {
			if err := d.conn.Write(context.Background(), websocket.MessageText, frame); err != nil {
				return
			}
			continue
		}
		select {
		case <-d.wake:
		case <-done:
			return
		case <-s.done:
			_ = d.conn.CloseNow()
			return
		case <-tick.C:
			if s.heartbeat(d, ping, timeout) {
				_ = d.conn.Close(4000, "TIMEOUT")
				return
			}
		}
	}
}

// heartbeat pings a quiet client and reports whether it timed out.
func (s *Server) heartbeat(d *ddpSession, ping, timeout time.Duration) (timedOut bool) {
	h := &s.ddp
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.silent {
		return false
	}
	now := time.Now()
	switch {
	case !d.pingSent.IsZero():
		return now.Sub(d.pingSent) >= timeout
	case now.Sub(d.lastRecv) >= ping:
		d.pingSent = now
		d.enqueue([]byte(`{"msg":"ping"}`))
	}
	return false
}

// ddpIn is a message from a client.
type ddpIn struct {
	Msg     string            `json:"msg"`
	ID      string            `json:"id"`
	Version string            `json:"version"`
	Support []string          `json:"support"`
	Method  string            `json:"method"`
	Name    string            `json:"name"`
	Params  []json.RawMessage `json:"params"`
}

// readDDP reads and answers the client's messages until the connection
// ends.
func (s *Server) readDDP(d *ddpSession) {
	for {
		_, data, err := d.conn.Read(context.Background())
		if err != nil {
			return
		}
		var m ddpIn
		if err := json.Unmarshal(data, &m); err != nil {
			s.ddpSend(d, obj{{"msg", "error"}, {"reason", "Bad request"}}.bytes())
			continue
		}
		if !s.handleDDP(d, &m) {
			return
		}
	}
}

// ddpSend queues one frame for d.
func (s *Server) ddpSend(d *ddpSession, frames ...[]byte) {
	s.ddp.mu.Lock()
	defer s.ddp.mu.Unlock()
	for _, f := range frames {
		d.enqueue(f)
	}
}

// handleDDP answers one message; false ends the session.
func (s *Server) handleDDP(d *ddpSession, m *ddpIn) bool {
	h := &s.ddp
	h.mu.Lock()
	d.lastRecv, d.pingSent = time.Now(), time.Time{} // any message counts
	if !d.connected {
		if m.Msg != "connect" {
			h.mu.Unlock()
			_ = d.conn.Close(websocket.StatusProtocolError, "")
			return false
		}
		d.logRecv("connect")
		if m.Version != "1" && m.Version != "pre2" && m.Version != "pre1" {
			d.enqueue(obj{{"msg", "failed"}, {"version", "1"}}.bytes())
		} else {
			d.connected = true
			d.enqueue(obj{{"msg", "connected"}, {"session", d.id}}.bytes())
		}
		h.mu.Unlock()
		return true
	}
	switch m.Msg {
	case "ping":
		h.stats.Pings++
		if !h.silent {
			o := obj{{"msg", "pong"}}
			if m.ID != "" {
				o = append(o, field{"id", m.ID})
			}
			d.enqueue(o.bytes())
		}
		h.mu.Unlock()
	case "pong":
		h.stats.Pongs++
		h.mu.Unlock()
	case "method":
		if m.Method == "login" {
			d.logRecv("login")
			h.mu.Unlock()
			s.ddpLogin(d, m)
			return true
		}
		d.logRecv("method " + m.Method)
		h.mu.Unlock()
		s.ddpResult(d, m.ID, nil, meteorError(404, fmt.Sprintf("Method '%s' not found", m.Method)))
	case "sub":
		h.stats.Subs++
		if h.stats.SubsByStream == nil {
			h.stats.SubsByStream = make(map[string]int)
		}
		h.stats.SubsByStream[m.Name]++
		event := ""
		if len(m.Params) > 0 {
			_ = json.Unmarshal(m.Params[0], &event)
		}
		d.logRecv("sub " + m.Name + " " + event)
		h.mu.Unlock()
		s.ddpSub(d, m.ID, m.Name, event)
	case "unsub":
		d.logRecv("unsub " + m.ID)
		d.subs = slices.DeleteFunc(d.subs, func(x DDPSub) bool { return x.ID == m.ID })
		d.enqueue(obj{{"msg", "nosub"}, {"id", m.ID}}.bytes())
		h.mu.Unlock()
	default:
		d.enqueue(obj{{"msg", "error"}, {"reason", "Bad request"}}.bytes())
		h.mu.Unlock()
	}
	return true
}

// meteorError is a Meteor.Error as DDP sends it; code is an int or a
// string.
func meteorError(code any, reason string) obj {
	return obj{{"isClientSafe", true}, {"error", code}, {"reason", reason},
		{"message", fmt.Sprintf("%s [%v]", reason, code)}, {"errorType", "Meteor.Error"}}
}

// ddpResult answers a method call: result, then updated.
func (s *Server) ddpResult(d *ddpSession, id string, result, errObj obj) {
	o := obj{{"msg", "result"}, {"id", id}}
	switch {
	case errObj != nil:
		o = append(o, field{"error", errObj})
	case result != nil:
		o = append(o, field{"result", result})
	}
	s.ddpSend(d, o.bytes(), obj{{"msg", "updated"}, {"methods", []string{id}}}.bytes())
}

// ddpLogin answers login with {resume: token}, a personal access token or
// a login token.
func (s *Server) ddpLogin(d *ddpSession, m *ddpIn) {
	h := &s.ddp
	h.mu.Lock()
	h.stats.Logins++
	refused := h.refuseLogins > 0
	if refused {
		h.refuseLogins--
	}
	h.mu.Unlock()

	var p struct {
		Resume *string `json:"resume"`
	}
	if len(m.Params) != 1 || json.Unmarshal(m.Params[0], &p) != nil || p.Resume == nil {
		s.refuseLogin(d, m.ID, meteorError(400, "Unrecognized options for login request"))
		return
	}
	var u *user
	if !refused {
		s.mu.Lock()
		if rec, ok := s.st.tokens[hashToken(*p.Resume)]; ok {
			u = s.st.users[rec.uid]
		}
		s.mu.Unlock()
	}
	if u == nil {
		s.refuseLogin(d, m.ID, meteorError(403, loggedOutReason))
		return
	}
	h.mu.Lock()
	d.uid = u.id
	h.mu.Unlock()
	expires := time.Now().Add(90 * 24 * time.Hour).UnixMilli()
	s.ddpResult(d, m.ID, obj{{"id", u.id}, {"token", *p.Resume},
		{"tokenExpires", obj{{"$date", expires}}}, {"type", "resume"}}, nil)
}

func (s *Server) refuseLogin(d *ddpSession, id string, errObj obj) {
	s.ddp.mu.Lock()
	s.ddp.stats.LoginsRefused++
	s.ddp.mu.Unlock()
	s.ddpResult(d, id, nil, errObj)
}

// ddpSub answers a sub: ready, or nosub with the reason it is refused.
func (s *Server) ddpSub(d *ddpSession, id, name, event string) {
	h := &s.ddp
	h.mu.Lock()
	uid := d.uid
	h.mu.Unlock()
	var refusal obj
	switch {
	case name != streamNotifyUser && name != streamRoomMessages:
		refusal = meteorError(404, fmt.Sprintf("Subscription '%s' not found", name))
	case event == "":
		refusal = meteorError("invalid-event-name", "Invalid event name")
	case name == streamNotifyUser:
		if uid == "" || !strings.HasPrefix(event, uid+"/") {
			refusal = meteorError("not-allowed", "Not allowed")
		}
	case event != myMessages: // "__my_messages__" is open to anyone
		s.mu.Lock()
		r := s.st.rooms[event]
		ok := uid != "" && r != nil && s.st.canAccess(uid, r)
		s.mu.Unlock()
		if !ok {
			refusal = meteorError("not-allowed", "Not allowed")
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if refusal != nil {
		d.enqueue(obj{{"msg", "nosub"}, {"id", id}, {"error", refusal}}.bytes())
		return
	}
	sub := DDPSub{ID: id, Name: name, EventName: event}
	if i := slices.IndexFunc(d.subs, func(x DDPSub) bool { return x.ID == id }); i >= 0 {
		d.subs[i] = sub // a reused id replaces the subscription
	} else {
		d.subs = append(d.subs, sub)
	}
	d.enqueue(obj{{"msg", "ready"}, {"subs", []string{id}}}.bytes())
}
