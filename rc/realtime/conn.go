package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// conn is one websocket connection and what belongs to it: the calls
// waiting for their results, and the subscriptions sent again at it that
// are not ready yet.
type conn struct {
	ws        *websocket.Conn
	watchdog  time.Duration
	dog       *time.Timer // closes the connection when a read waits longer than watchdog
	timedOut  atomic.Bool
	buf       bytes.Buffer  // the last frame read (only the reading goroutine uses it)
	seq       int           // set when logged in
	start     time.Time     // for lastSent
	lastSent  atomic.Int64  // nanoseconds since start
	done      chan struct{} // closed by close
	closeOnce sync.Once

	mu     sync.Mutex
	calls  map[string]chan callResult
	closed bool

	// Guarded by Client.mu.
	pending   map[string]bool // ids of subscriptions sent again, not yet answered
	readySent bool
}

type callResult struct {
	result json.RawMessage
	err    error
}

// connect dials, says connect and logs in. ctx bounds it all.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	h := http.Header{}
	if c.cfg.userAgent != "" {
		h.Set("User-Agent", c.cfg.userAgent)
	}
	ws, resp, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPClient: c.cfg.hc, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("%w: %s: HTTP %s", ErrUpgradeRefused, c.url, resp.Status)
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, fmt.Errorf("realtime: %s: %w", c.url, err)
	}
	ws.SetReadLimit(c.cfg.maxMsg)
	cn := &conn{ws: ws, watchdog: c.cfg.watchdog, start: time.Now(), done: make(chan struct{}),
		calls: make(map[string]chan callResult)}
	cn.dog = time.AfterFunc(time.Hour, func() {
		cn.timedOut.Store(true)
		cn.close()
	})
	cn.dog.Stop()
	stop := context.AfterFunc(ctx, cn.close)
	defer stop()
	if err := c.handshake(ctx, cn); err != nil {
		cn.close()
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, err
	}
	return cn, nil
}

// handshake says connect, waits for connected (whatever came first:
// {"server_id"}, {"msg":"server_id"} or nothing), then logs in.
func (c *Client) handshake(ctx context.Context, cn *conn) error {
	if err := cn.write(ctx, []byte(`{"msg":"connect","version":"1","support":["1"]}`)); err != nil {
		return err
	}
	for connected := false; !connected; {
		f, err := cn.readFrame()
		if err != nil {
			return err
		}
		switch f.Msg {
		case "connected":
			connected = true
		case "failed":
			return fmt.Errorf("realtime: the server does not speak DDP version 1 (it offers %q)", f.Version)
		case "ping":
			if err := cn.write(ctx, pongFrame(f.ID)); err != nil {
				return err
			}
		}
	}

	id := c.newID()
	done := cn.addCall(id)
	login, err := jsonv2.Marshal(methodCall{Msg: "method", Method: "login", ID: id,
		Params: []any{map[string]string{"resume": c.token}}})
	if err != nil {
		return fmt.Errorf("realtime: login: %w", err)
	}
	if err := cn.write(ctx, login); err != nil {
		return err
	}
	var res callResult
	for got := false; !got; {
		f, err := cn.readFrame()
		if err != nil {
			return err
		}
		switch f.Msg {
		case "ping":
			if err := cn.write(ctx, pongFrame(f.ID)); err != nil {
				return err
			}
		case "result":
			cn.complete(f)
			select {
			case res = <-done:
				got = true
			default:
			}
		}
	}
	var se *Error
	if errors.As(res.err, &se) {
		se.Method = "login"
		if finalLogin(se) {
			return &loginError{err: se}
		}
		return se
	}
	var user struct {
		ID string `json:"id"`
	}
	if err := jsonv2.Unmarshal(res.result, &user); err != nil || user.ID == "" {
		return fmt.Errorf("realtime: login: a result without the user id: %s", res.result)
	}
	c.mu.Lock()
	c.userID = user.ID
	c.connections++
	cn.seq = c.connections
	c.mu.Unlock()
	return nil
}

type methodCall struct {
	Msg    string `json:"msg"`
	Method string `json:"method"`
	ID     string `json:"id"`
	Params []any  `json:"params"`
}

func pongFrame(id string) []byte {
	if id == "" {
		return []byte(`{"msg":"pong"}`)
	}
	b, _ := jsonv2.Marshal(struct {
		Msg string `json:"msg"`
		ID  string `json:"id"`
	}{"pong", id})
	return b
}

// read returns the next frame's bytes, valid until the next read,
// waiting at most the watchdog's bound. The connection's owner closes it
// when its context ends (context.AfterFunc), which ends a read.
func (cn *conn) read() ([]byte, error) {
	cn.dog.Reset(cn.watchdog)
	_, r, err := cn.ws.Reader(context.Background())
	if err == nil {
		cn.buf.Reset()
		_, err = cn.buf.ReadFrom(r)
	}
	cn.dog.Stop()
	if err != nil {
		if cn.timedOut.Load() {
			return nil, fmt.Errorf("%w: %s", ErrTimeout, cn.watchdog)
		}
		return nil, fmt.Errorf("realtime: reading: %w", err)
	}
	return cn.buf.Bytes(), nil
}

func (cn *conn) readFrame() (*frame, error) {
	data, err := cn.read()
	if err != nil {
		return nil, err
	}
	return decodeFrame(data)
}

// write sends one frame, waiting at most the watchdog's bound. ctx must be
// the client's (or Dial's): when it ends, the connection closes.
func (cn *conn) write(ctx context.Context, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, cn.watchdog)
	defer cancel()
	if err := cn.ws.Write(wctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("realtime: writing: %w", err)
	}
	cn.lastSent.Store(int64(time.Since(cn.start)))
	return nil
}

func (cn *conn) sinceSent() time.Duration {
	return time.Since(cn.start) - time.Duration(cn.lastSent.Load())
}

// close closes the connection at once and fails the calls waiting on it.
func (cn *conn) close() {
	cn.closeOnce.Do(func() {
		close(cn.done)
		cn.dog.Stop()
		_ = cn.ws.CloseNow()
		cn.mu.Lock()
		defer cn.mu.Unlock()
		cn.closed = true
		for id, ch := range cn.calls {
			ch <- callResult{err: ErrConnectionLost}
			delete(cn.calls, id)
		}
	})
}

// addCall registers a call; its result arrives on the channel (once). On
// a closed connection it gets ErrConnectionLost at once.
func (cn *conn) addCall(id string) chan callResult {
	ch := make(chan callResult, 1)
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.closed {
		ch <- callResult{err: ErrConnectionLost}
		return ch
	}
	cn.calls[id] = ch
	return ch
}

func (cn *conn) dropCall(id string) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	delete(cn.calls, id)
}

// complete hands a result to its call.
func (cn *conn) complete(f *frame) {
	cn.mu.Lock()
	ch := cn.calls[f.ID]
	delete(cn.calls, f.ID)
	cn.mu.Unlock()
	if ch == nil {
		return // a call that gave up
	}
	var r callResult
	if f.Error != nil {
		r.err = f.Error.toError("", "")
	} else if len(f.Result) > 0 {
		r.result = json.RawMessage(f.Result)
	}
	ch <- r
}

// Call calls a server method with params (each encoded as JSON) and
// returns its result (nil when the server sent none), or the server's
// *Error. It needs a connection: while there is none it fails with
// ErrNotConnected at once, and with ErrConnectionLost when the connection
// ends before the result (the method may have run).
func (c *Client) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	id := c.newID()
	data, err := jsonv2.Marshal(methodCall{Msg: "method", Method: method, ID: id, Params: params})
	if err != nil {
		return nil, fmt.Errorf("realtime: %s: encoding the parameters: %w", method, err)
	}
	c.mu.Lock()
	cn := c.cur
	c.mu.Unlock()
	if cn == nil {
		if c.ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s", ErrClosed, method)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotConnected, method)
	}
	done := cn.addCall(id)
	if err := cn.write(c.ctx, data); err != nil {
		cn.dropCall(id)
		return nil, fmt.Errorf("%w: %s (%w)", ErrConnectionLost, method, err)
	}
	select {
	case r := <-done:
		var se *Error
		if errors.As(r.err, &se) {
			se.Method = method
			return nil, se
		}
		if r.err != nil { // ErrConnectionLost
			return nil, fmt.Errorf("%w: %s", r.err, method)
		}
		return r.result, nil
	case <-ctx.Done():
		cn.dropCall(id)
		return nil, fmt.Errorf("realtime: %s: %w", method, ctx.Err())
	}
}

func rawArgs(a []jsontext.Value) []json.RawMessage {
	out := make([]json.RawMessage, len(a))
	for i, v := range a {
		out[i] = json.RawMessage(v)
	}
	return out
}
