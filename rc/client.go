package rc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultUserAgent is the User-Agent of a client built without
// WithUserAgent. The rclua command sends "rclua/<version>" instead.
const DefaultUserAgent = "rclua"

const (
	defaultTimeout     = 30 * time.Second
	defaultMaxBodySize = 32 << 20 // 32 MiB
	apiPrefix          = "/api/v1/"
)

// Client is a Rocket.Chat REST client. It is safe for concurrent use by
// multiple goroutines; Login and Logout change its credentials atomically
// with respect to requests in flight (a request uses the credentials it saw
// when it started).
//
// The zero value is not usable: build one with New.
type Client struct {
	// Subscriptions calls the subscriptions.* endpoints.
	Subscriptions *SubscriptionsService
	// Chat calls the chat.* endpoints.
	Chat *ChatService
	// Users calls the users.* endpoints.
	Users *UsersService
	// Rooms calls the rooms.* endpoints.
	Rooms *RoomsService

	root      string // scheme://host[/sub-path], no trailing slash
	apiBase   string // root + "/api/v1/"
	hc        *http.Client
	userAgent string
	timeout   time.Duration
	maxBody   int64
	retry     *RetryPolicy  // nil: retries off
	renew     RenewFunc     // nil: a 401 is returned as it is (WithReauth)
	renewing  chan struct{} // cap 1: held while renew runs
	obs       Observer

	// now and sleep are the clock; tests inside the package replace them.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu   sync.RWMutex
	cred *credentials // nil when the client has none; replaced, never mutated
}

// credentials is what authenticates a request. A pointer to an immutable
// value is kept so that a dump of a Client never shows a token (fmt prints
// nested pointers as addresses).
type credentials struct {
	userID  string
	token   string
	session bool // true when Login created it (Logout may end it)
}

// service is the common base of the services.
type service struct{ client *Client }

// SubscriptionsService calls the subscriptions.* endpoints.
type SubscriptionsService service

// ChatService calls the chat.* endpoints.
type ChatService service

// UsersService calls the users.* endpoints.
type UsersService service

// RoomsService calls the rooms.* endpoints.
type RoomsService service

// New returns a client for the Rocket.Chat server at baseURL, for example
// "https://chat.example.com" or "https://example.com/chat" (a server under
// a sub-path); a trailing slash is allowed. New validates its arguments and
// never does I/O: it neither connects nor logs in.
func New(baseURL string, opts ...Option) (*Client, error) {
	root, err := ParseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		root:      root,
		apiBase:   root + apiPrefix,
		userAgent: DefaultUserAgent,
		timeout:   defaultTimeout,
		maxBody:   defaultMaxBodySize,
		now:       time.Now,
		sleep:     sleepContext,
		renewing:  make(chan struct{}, 1),
	}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(c); err != nil {
			return nil, err
		}
	}
	if c.hc == nil {
		c.hc = &http.Client{Transport: newTransport()}
	}
	c.hc = guardRedirects(c.hc)
	c.Subscriptions = &SubscriptionsService{client: c}
	c.Chat = &ChatService{client: c}
	c.Users = &UsersService{client: c}
	c.Rooms = &RoomsService{client: c}
	return c, nil
}

// newTransport returns the default transport: the standard one, with more
// idle connections kept per host (a client talks to one server).
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 64
	t.MaxIdleConnsPerHost = 16
	t.IdleConnTimeout = 90 * time.Second
	t.ForceAttemptHTTP2 = true
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return t
}

// guardRedirects returns a shallow copy of hc whose redirect policy keeps
// the credentials on the server: net/http itself only drops its own
// sensitive headers (Authorization, Cookie) on a redirect to another host,
// and re-sends a request body on a 307 or 308. hc's own CheckRedirect, if
// any, still decides first (the default follows at most 10 redirects).
func guardRedirects(hc *http.Client) *http.Client {
	cp := *hc
	next := hc.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if next != nil {
			if err := next(req, via); err != nil {
				return err
			}
		} else if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return checkRedirect(req, via)
	}
	return &cp
}

// checkRedirect lets a redirect keep the credentials only on the same host
// with the same scheme (or an upgrade from http to https). Elsewhere it
// drops the X-User-Id and X-Auth-Token headers, and refuses the redirect
// when it would re-send the request body (a login's password).
func checkRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if req.URL.Host == first.Host &&
		(req.URL.Scheme == first.Scheme || first.Scheme == "http" && req.URL.Scheme == "https") {
		return nil
	}
	if req.GetBody != nil || (req.Body != nil && req.Body != http.NoBody) {
		return errors.New("refusing to re-send a request body on a redirect to another host")
	}
	req.Header.Del("X-User-Id")
	req.Header.Del("X-Auth-Token")
	return nil
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// String describes the client without its secrets: the server URL and how
// it authenticates.
func (c *Client) String() string {
	if c == nil {
		return "rc.Client(nil)"
	}
	auth := "none"
	if cr := c.credentials(); cr != nil {
		kind := "token"
		if cr.session {
			kind = "session"
		}
		auth = fmt.Sprintf("%s user=%q", kind, cr.userID)
	}
	return fmt.Sprintf("rc.Client{url=%s auth=%s}", c.root, auth)
}

// GoString is String, so that %#v hides the credentials too.
func (c *Client) GoString() string { return c.String() }

// Format implements fmt.Formatter: every verb prints String, so no
// formatting of a Client reveals a token.
func (c *Client) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

func (c *Client) credentials() *credentials {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cred
}

func (c *Client) setCredentials(cr *credentials) {
	c.mu.Lock()
	c.cred = cr
	c.mu.Unlock()
}

// Get calls GET /api/v1/<endpoint> with the query parameters and decodes
// the response body into out with encoding/json (out may be nil). The
// endpoint is given without the prefix, e.g. "channels.list"; one
// CheckEndpoint refuses fails before any I/O.
//
// Endpoint: GET /api/v1/{endpoint}
func (c *Client) Get(ctx context.Context, endpoint string, query url.Values, out any) error {
	data, err := c.GetRaw(ctx, endpoint, query)
	if err != nil {
		return err
	}
	return decodeOut(endpoint, data, out)
}

// Post calls POST /api/v1/<endpoint> with body encoded as JSON and decodes
// the response body into out with encoding/json (out may be nil). A body of
// type json.RawMessage or []byte is sent as it is (it must be valid JSON);
// a nil body sends no body.
//
// Endpoint: POST /api/v1/{endpoint}
func (c *Client) Post(ctx context.Context, endpoint string, body, out any) error {
	data, err := c.PostRaw(ctx, endpoint, body)
	if err != nil {
		return err
	}
	return decodeOut(endpoint, data, out)
}

// GetRaw is Get returning the response body, checked for errors, as bytes.
//
// Endpoint: GET /api/v1/{endpoint}
func (c *Client) GetRaw(ctx context.Context, endpoint string, query url.Values) ([]byte, error) {
	r, err := c.newRequest(http.MethodGet, endpoint, query, nil)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, r)
}

// PostRaw is Post returning the response body, checked for errors, as bytes.
//
// Endpoint: POST /api/v1/{endpoint}
func (c *Client) PostRaw(ctx context.Context, endpoint string, body any) ([]byte, error) {
	r, err := c.newRequest(http.MethodPost, endpoint, nil, body)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, r)
}

func decodeOut(endpoint string, data []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &ResponseError{Endpoint: endpoint, Err: err}
	}
	return nil
}

// request is one call, built and validated before any I/O.
type request struct {
	method   string
	endpoint string // for errors: never the URL
	url      string
	body     []byte // nil: no body
	auth     bool
	cred     *credentials // when set, used instead of the client's current ones
	secrets  []string     // what the body carries that an error must not show (a login's password)
	date     time.Time    // set by once: the last response's Date header (zero if none)
	renewed  bool         // the credentials were renewed once for this request
}

func (c *Client) newRequest(method, endpoint string, query url.Values, body any) (*request, error) {
	ep, err := checkEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	u := c.apiBase + ep
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	r := &request{method: method, endpoint: ep, url: u, auth: true}
	if body != nil {
		b, err := encodeBody(body)
		if err != nil {
			return nil, fmt.Errorf("rc: %s: encoding request body: %w", ep, err)
		}
		if len(b) > MaxRequestBody {
			return nil, fmt.Errorf("rc: %s: request body of %d bytes: %w", ep, len(b), ErrRequestTooLarge)
		}
		r.body = b
	}
	return r, nil
}

// CheckEndpoint reports why endpoint is not a name Get, Post, GetRaw and
// PostRaw accept, nil when it is one. An endpoint is given as it follows
// "/api/v1/" ("subscriptions.get", "livechat/room"): letters, digits and
// . _ - / (a leading "/" is dropped), with no "api/v1/" prefix, no query
// and no URL.
// The error names the endpoint and what to give instead; it is checked
// before any I/O.
func CheckEndpoint(endpoint string) error {
	_, err := checkEndpoint(endpoint)
	return err
}

// checkEndpoint validates an endpoint name (see CheckEndpoint) and
// returns it.
func checkEndpoint(ep string) (string, error) {
	rest := strings.TrimLeft(ep, "/")
	if rest == "" {
		return "", errors.New("rc: empty endpoint")
	}
	if strings.Contains(ep, "://") {
		return "", fmt.Errorf("rc: invalid endpoint %q: give the endpoint's name, not a URL (the server's address is configured)", ep)
	}
	const v1 = "api/v1" // apiPrefix without its slashes
	if len(rest) >= len(v1) && strings.EqualFold(rest[:len(v1)], v1) && (len(rest) == len(v1) || rest[len(v1)] == '/') {
		name := strings.TrimLeft(rest[len(v1):], "/")
		if name == "" {
			return "", fmt.Errorf("rc: invalid endpoint %q: give the endpoint's name without the %q prefix (\"me\")", ep, ep)
		}
		return "", fmt.Errorf("rc: invalid endpoint %q: give it without the %q prefix (%q)", ep, ep[:len(ep)-len(name)], name)
	}
	ep = rest // a leading "/" is dropped ("/me" is "me")
	for i := 0; i < len(ep); i++ {
		b := ep[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9',
			b == '.', b == '_', b == '-', b == '/':
		default:
			return "", fmt.Errorf("rc: invalid endpoint %q: only letters, digits and . _ - / are allowed (query parameters go in the query argument)", ep)
		}
	}
	if strings.Contains(ep, "..") || strings.Contains(ep, "//") {
		return "", fmt.Errorf("rc: invalid endpoint %q", ep)
	}
	return ep, nil
}

func encodeBody(body any) ([]byte, error) {
	switch b := body.(type) {
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, errors.New("body is not valid JSON")
		}
		return b, nil
	case []byte:
		if !json.Valid(b) {
			return nil, errors.New("body is not valid JSON")
		}
		return b, nil
	default:
		// Not json.Marshal: it escapes < > & as \u003c..., six bytes
		// each, which the server does not need.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
}

// do sends r, retrying as the policy allows, and returns the checked body.
func (c *Client) do(ctx context.Context, r *request) ([]byte, error) {
	if r.auth && r.cred == nil {
		r.cred = c.credentials()
	}
	for attempt := 1; ; attempt++ {
		data, retryable, err := c.once(ctx, r)
		if err == nil {
			return data, nil
		}
		if c.mayRenew(ctx, r, err) {
			cr, rerr := c.reauth(ctx, r.cred, err)
			if rerr != nil {
				return nil, rerr
			}
			r.cred, r.renewed = cr, true
			continue
		}
		wait, ok := c.retryWait(ctx, r, err, retryable, attempt)
		if !ok {
			return nil, err
		}
		if c.obs.RateLimitWait != nil && errors.Is(err, ErrRateLimited) {
			c.obs.RateLimitWait(r.endpoint, wait)
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, r.failed(fmt.Errorf("rc: %s %s: waiting %s to retry: %w (last error: %w)",
				r.method, r.endpoint, wait.Round(time.Millisecond), serr, err))
		}
	}
}

// once sends r one time. retryable reports a transport-level failure
// (connection, timeout of the attempt, truncated body).
func (c *Client) once(ctx context.Context, r *request) (data []byte, retryable bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, r.failed(fmt.Errorf("rc: %s %s: %w", r.method, r.endpoint, err))
	}
	actx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.url, body)
	if err != nil {
		return nil, false, fmt.Errorf("rc: %s %s: building request: %w", r.method, r.endpoint, unwrapURLError(err))
	}
	h := req.Header
	h["Accept"] = []string{"application/json"}
	h["User-Agent"] = []string{c.userAgent}
	if r.body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	if r.auth && r.cred != nil {
		h["X-User-Id"] = []string{r.cred.userID}
		h["X-Auth-Token"] = []string{r.cred.token}
	}
	start := time.Now()
	status := 0
	if c.obs.Request != nil {
		defer func() {
			c.obs.Request(RequestInfo{Method: r.method, Endpoint: r.endpoint, Status: status, Duration: time.Since(start)})
		}()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, ctx.Err() == nil, c.transportError(ctx, r, err)
	}
	defer resp.Body.Close()
	status = resp.StatusCode
	r.date, _ = http.ParseTime(resp.Header.Get("Date"))
	data, err = readBody(resp, c.maxBody)
	if err != nil {
		if errors.Is(err, ErrBodyTooLarge) {
			return nil, false, fmt.Errorf("rc: %s %s: %w (limit %d bytes)", r.method, r.endpoint, err, c.maxBody)
		}
		return nil, ctx.Err() == nil, c.transportError(ctx, r, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 || successFalse(data) {
		// A proxy or a server may echo the request: its secrets never
		// reach the error, found in the body as sent and in its decoded
		// strings.
		secrets := r.secrets
		if r.auth && r.cred != nil {
			secrets = append(slices.Clip(secrets), r.cred.token)
		}
		forms := secretForms(secrets)
		e := newError(r.endpoint, resp.StatusCode, resp.Header, redactBody(data, forms), c.now())
		e.redact(forms)
		return nil, false, e
	}
	return data, false, nil
}

func (c *Client) transportError(ctx context.Context, r *request, err error) error {
	err = unwrapURLError(err)
	// Prefer the caller's context error: the attempt's own timeout is a
	// transport failure, the caller's cancellation is not.
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return r.failed(fmt.Errorf("rc: %s %s: %w", r.method, r.endpoint, err))
}

// unwrapURLError drops *url.Error's URL (it holds the query) and keeps the
// cause.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ErrBodyTooLarge is returned (wrapped) when a response body exceeds the
// client's limit (WithMaxBodySize).
var ErrBodyTooLarge = errors.New("rc: response body too large")

func readBody(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, ErrBodyTooLarge
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, max+1)); err != nil {
		return nil, err
	}
	if int64(buf.Len()) > max {
		return nil, ErrBodyTooLarge
	}
	return buf.Bytes(), nil
}
