package realtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rclua/rclua/rc"
)

// Defaults of the options.
const (
	// DefaultKeepAlive is how long the client stays silent before it pings
	// (the server pings after 30s without a message and closes 30s later).
	DefaultKeepAlive = 20 * time.Second
	// DefaultWatchdog is how long the client waits for anything from the
	// server before it gives the connection up and reconnects.
	DefaultWatchdog = 45 * time.Second
	// DefaultEventBuffer is the capacity of the Events channel.
	DefaultEventBuffer = 256
	// DefaultMaxMessageSize bounds one frame from the server.
	DefaultMaxMessageSize = 16 << 20
)

// DefaultBackoff is the wait between attempts to reconnect.
var DefaultBackoff = rc.Backoff{Min: time.Second, Max: 30 * time.Second}

// Option configures a Client in Dial.
type Option func(*config) error

type config struct {
	hc        *http.Client
	keepAlive time.Duration
	watchdog  time.Duration
	backoff   rc.Backoff
	buffer    int
	maxMsg    int64
	userAgent string
}

// WithHTTPClient dials the websocket through hc, for the TLS and proxy
// settings of the REST client: pass rc.Client.HTTPClient(). By default
// http.DefaultClient is used.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("realtime: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithKeepAlive sets how long the client may send nothing before it sends
// a DDP ping (default 20s). Keep it below the server's 30s.
func WithKeepAlive(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("realtime: WithKeepAlive: duration must be positive, got %s", d)
		}
		c.keepAlive = d
		return nil
	}
}

// WithWatchdog sets how long the client waits for a frame (any: an event,
// a pong to its keep-alive) before it closes the connection and
// reconnects (default 45s). It must be longer than the keep-alive
// interval. The wait is paused while an event waits for room in the
// Events channel.
func WithWatchdog(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("realtime: WithWatchdog: duration must be positive, got %s", d)
		}
		c.watchdog = d
		return nil
	}
}

// WithBackoff sets the wait between attempts to reconnect (default
// DefaultBackoff); it restarts from the first wait after each successful
// connection. Min must be positive: a client never retries in a tight
// loop.
func WithBackoff(b rc.Backoff) Option {
	return func(c *config) error {
		if b.Min <= 0 || b.Max < 0 {
			return fmt.Errorf("realtime: WithBackoff: Min must be positive and Max not negative, got %s and %s", b.Min, b.Max)
		}
		c.backoff = b
		return nil
	}
}

// WithEventBuffer sets the capacity of the Events channel (default 256).
func WithEventBuffer(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("realtime: WithEventBuffer: negative capacity %d", n)
		}
		c.buffer = n
		return nil
	}
}

// WithMaxMessageSize bounds the size of one frame from the server
// (default 16 MiB); a larger one ends the connection.
func WithMaxMessageSize(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("realtime: WithMaxMessageSize: size must be positive, got %d", n)
		}
		c.maxMsg = n
		return nil
	}
}

// WithUserAgent sets the User-Agent of the websocket handshake.
func WithUserAgent(ua string) Option {
	return func(c *config) error {
		if ua == "" {
			return errors.New("realtime: WithUserAgent: empty user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// Stats are a client's counters.
type Stats struct {
	// Connected reports whether a connection is up and logged in.
	Connected bool
	// Connections is the number of connections that logged in.
	Connections int
	// Received is the number of stream events read from the server.
	Received int64
	// Delivered is the number of stream events put in the Events channel.
	Delivered int64
}

// Client is a connection to a Rocket.Chat server's realtime API that
// reconnects by itself. It is safe for concurrent use. Build one with
// Dial; end it with Close.
type Client struct {
	cfg    config
	url    string // ws(s)://host[/sub-path]/websocket
	token  string
	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	events chan Event
	ended  chan struct{} // closed when the client has stopped
	wg     sync.WaitGroup
	nextID atomic.Uint64

	received, delivered atomic.Int64

	mu          sync.Mutex
	cur         *conn // the logged-in connection, nil between connections
	subs        map[string]*Sub
	userID      string
	connections int
	err         error // why the client stopped by itself
}

// Dial connects to the realtime API of the server at baseURL (the address
// rc.New takes, a sub-path kept) at <baseURL>/websocket, and logs in with
// token (a personal access token, or the token of a password login) by
// DDP's {resume: token}. ctx bounds this first connection only.
//
// It fails with an error matching ErrUpgradeRefused when the server (or a
// proxy) does not upgrade to a websocket, and ErrLoginRefused when the
// login is refused. Once it has returned, the client keeps a connection up
// until Close: it answers and sends pings, reconnects after a failure with
// a jittered backoff, logs in again and then subscribes again every active
// subscription once. A refused login is final: the client stops, Events is
// closed and Err says why.
func Dial(ctx context.Context, baseURL, token string, opts ...Option) (*Client, error) {
	root, err := rc.ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, errors.New("realtime: empty token")
	}
	cfg := config{hc: http.DefaultClient, keepAlive: DefaultKeepAlive, watchdog: DefaultWatchdog,
		backoff: DefaultBackoff, buffer: DefaultEventBuffer, maxMsg: DefaultMaxMessageSize}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.watchdog <= cfg.keepAlive {
		return nil, fmt.Errorf("realtime: the watchdog (%s) must be longer than the keep-alive interval (%s)", cfg.watchdog, cfg.keepAlive)
	}
	c := &Client{
		cfg:    cfg,
		url:    "ws" + strings.TrimPrefix(root, "http") + "/websocket",
		token:  token,
		events: make(chan Event, cfg.buffer),
		ended:  make(chan struct{}),
		subs:   make(map[string]*Sub),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	cn, err := c.connect(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	resend := c.attach(cn) // none yet; from now on Call and Subscribe use cn
	c.wg.Add(1)
	go c.run(cn, resend)
	return c, nil
}

// Events returns the channel of events, in the order they arrived: first
// Connected and Ready for the connection Dial made. It is closed when the
// client stops (Close, or a refused login: see Err).
//
// Nothing is dropped: when the channel is full, the client stops reading
// the connection until there is room, and the server's writes wait in the
// network buffers (the keep-alive still flows, so the connection stays
// up). The memory the client holds for events is thus bounded by the
// channel's capacity plus one, each at most the maximum message size.
func (c *Client) Events() <-chan Event { return c.events }

// Err returns why the client stopped by itself (a refused login, matching
// ErrLoginRefused), or nil: while it runs, and after Close.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// UserID returns the id of the logged-in user.
func (c *Client) UserID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.userID
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Connected: c.cur != nil, Connections: c.connections,
		Received: c.received.Load(), Delivered: c.delivered.Load()}
}

// Close closes the connection, stops the client and waits until all its
// goroutines have ended. Events is closed. It may be called more than once.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Client) newID() string { return strconv.FormatUint(c.nextID.Add(1), 10) }

// emit delivers ev, waiting for room in the channel; false when the
// client is closing.
func (c *Client) emit(ev Event) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// run owns the connections: it serves cn, then reconnects, until Close or
// a refused login.
func (c *Client) run(cn *conn, resend []*Sub) {
	defer c.wg.Done()
	defer close(c.events)
	defer close(c.ended)
	for {
		err := c.serve(cn, resend)
		if c.ctx.Err() != nil {
			return
		}
		if !c.emit(Event{Kind: Disconnected, Seq: cn.seq, Err: err}) {
			return
		}
		last := cn.seq
		cn = nil
		for attempt := 1; cn == nil; attempt++ {
			if sleep(c.ctx, c.cfg.backoff.Delay(attempt)) != nil {
				return
			}
			cn, err = c.connect(c.ctx)
			switch {
			case c.ctx.Err() != nil:
				if cn != nil {
					cn.close()
				}
				return
			case errors.Is(err, ErrLoginRefused):
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				c.emit(Event{Kind: Disconnected, Seq: last, Err: err})
				return
			case err != nil:
				if !c.emit(Event{Kind: Disconnected, Seq: last, Err: err}) {
					return
				}
			default:
				resend = c.attach(cn)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// serve runs a logged-in connection, attached, until it ends: it
// subscribes again (resend), keeps the connection alive and dispatches what
// arrives.
func (c *Client) serve(cn *conn, resend []*Sub) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.keepAlive(cn)
	}()
	stop := context.AfterFunc(c.ctx, cn.close) // Close ends the read
	defer func() {
		stop()
		c.mu.Lock()
		if c.cur == cn {
			c.cur = nil
		}
		c.mu.Unlock()
		cn.close()
		wg.Wait()
	}()

	if !c.emit(Event{Kind: Connected, Seq: cn.seq}) {
		return ErrClosed
	}
	for _, s := range resend {
		if err := cn.write(c.ctx, s.subFrame()); err != nil {
			return err
		}
	}
	if len(resend) == 0 && !c.emit(Event{Kind: Ready, Seq: cn.seq}) {
		return ErrClosed
	}
	for {
		data, err := cn.read()
		if err != nil {
			return err
		}
		if err := c.dispatch(cn, data); err != nil {
			return err
		}
	}
}

// keepAlive pings when the client has sent nothing for the keep-alive
// interval, until the connection ends.
func (c *Client) keepAlive(cn *conn) {
	t := time.NewTicker(max(c.cfg.keepAlive/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
			if cn.sinceSent() >= c.cfg.keepAlive {
				if err := cn.write(c.ctx, []byte(`{"msg":"ping"}`)); err != nil {
					cn.close() // the reader sees it and reconnects
					return
				}
			}
		}
	}
}

// dispatch handles one frame of a logged-in connection.
func (c *Client) dispatch(cn *conn, data []byte) error {
	f, err := decodeFrame(data)
	if err != nil {
		return err
	}
	switch f.Msg {
	case "changed":
		c.received.Add(1)
		ev := Event{Kind: Changed, Collection: f.Collection, Name: f.Fields.EventName, Seq: cn.seq,
			Args: rawArgs(f.Fields.Args)}
		if !c.emit(ev) {
			return ErrClosed
		}
		c.delivered.Add(1)
	case "ping":
		return cn.write(c.ctx, pongFrame(f.ID))
	case "result":
		cn.complete(f)
	case "ready":
		for _, id := range f.Subs {
			c.subReady(cn, id, nil, false)
		}
	case "nosub":
		var serr *Error
		if f.Error != nil {
			serr = f.Error.toError("", "")
		}
		c.subReady(cn, f.ID, serr, true)
	}
	return nil
}
