package rctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	extraSubs   int
	rateCalls   int
	rateExempt  func(*http.Request) bool
	rateWindow  time.Duration
	now         func() time.Time
	botRoles    []string
	maxBodySize int64
	maxRequests int // request log capacity
	unreadCount UnreadCount
}

// UnreadCount is a value of Rocket.Chat's workspace setting Unread_Count
// ("Unread Count", in the General settings): which new messages in a
// channel or private group increment a member's unread counter.
// Whatever the setting, every message sets alert (where it is not set
// yet), a mention of the member increments userMentions and @all/@here
// groupMentions. Direct messages and livechat rooms follow their own
// settings (Unread_Count_DM, Unread_Count_Omni), which rctest keeps at
// their default, all_messages.
type UnreadCount string

// The values of Unread_Count.
const (
	// UnreadUserAndGroupMentionsOnly is the default: only a mention of the
	// member and @all/@here increment unread; a plain message does not.
	UnreadUserAndGroupMentionsOnly UnreadCount = "user_and_group_mentions_only"
	// UnreadAllMessages increments unread for every message.
	UnreadAllMessages UnreadCount = "all_messages"
	// UnreadUserMentionsOnly increments unread only for a mention of the
	// member.
	UnreadUserMentionsOnly UnreadCount = "user_mentions_only"
	// UnreadGroupMentionsOnly increments unread only for @all/@here.
	UnreadGroupMentionsOnly UnreadCount = "group_mentions_only"
)

func (u UnreadCount) valid() bool {
	switch u {
	case UnreadUserAndGroupMentionsOnly, UnreadAllMessages, UnreadUserMentionsOnly, UnreadGroupMentionsOnly:
		return true
	}
	return false
}

// WithUnreadCount sets the server's Unread_Count setting (the default is
// UnreadUserAndGroupMentionsOnly, as on a real server), for tests of
// scripts that must work with either. The seeded state is built under it
// too. An unknown value makes NewServer panic and Listen fail.
func WithUnreadCount(u UnreadCount) Option {
	return func(c *config) { c.unreadCount = u }
}

// WithSubscriptions adds n extra public channels ("scale-00001" ...) the
// bot is subscribed to, for scale tests and benchmarks.
func WithSubscriptions(n int) Option {
	return func(c *config) { c.extraSubs = max(n, 0) }
}

// WithRateLimit turns on the default REST rate limiter: calls requests per
// window for each route+method+client IP (the real default is 10 per
// minute). Users with the admin, bot or app role bypass it.
func WithRateLimit(calls int, window time.Duration) Option {
	return func(c *config) { c.rateCalls, c.rateWindow = calls, window }
}

// WithRateLimitExempt exempts from the rate limiter the requests exempt
// reports true for: a test harness's own requests, which share no window
// with the client under test.
func WithRateLimitExempt(exempt func(*http.Request) bool) Option {
	return func(c *config) { c.rateExempt = exempt }
}

// WithClock sets the server's clock, used for every timestamp it writes
// and for the rate limiter's windows. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithBotRoles sets the seeded bot's roles (default ["user"]). Give it
// "bot" to let it bypass the rate limiter and use alias/avatar, as a real
// bot account would.
func WithBotRoles(roles ...string) Option {
	return func(c *config) { c.botRoles = slices.Clone(roles) }
}

// Fault is an injected failure for one endpoint (see Server.Fault).
type Fault struct {
	// Status, when not 0, is the HTTP status answered instead of the real
	// response, with Body (a default error body when empty).
	Status int
	// Body is the response body for Status.
	Body string
	// Header holds extra response headers for Status (e.g. X-RateLimit-Reset).
	Header http.Header
	// Delay holds the request this long first (or until the server closes
	// or the client goes away). A fault with only a Delay then answers
	// normally.
	Delay time.Duration
	// MalformedJSON answers 200 (or Status) with a truncated JSON body.
	MalformedJSON bool
	// DropConnection closes the connection without any response.
	DropConnection bool
	// Times is how many requests the fault applies to; 0 means until
	// ClearFaults.
	Times int
}

// Request is one request the server received, as recorded by the log.
// Token values are never recorded.
type Request struct {
	Method   string
	Path     string
	Endpoint string // "subscriptions.get"; "info" for /api/info
	Query    url.Values
	// Body is the request body as received, except that a login body's
	// password, resume, code and digest values, at any depth, read
	// "<redacted>".
	Body []byte
	// UserID is the X-User-Id header ("" when absent).
	UserID string
	// Authenticated reports whether X-User-Id and X-Auth-Token were both
	// sent and valid.
	Authenticated bool
	// HasAuthToken reports whether an X-Auth-Token header was sent.
	HasAuthToken bool
	UserAgent    string
	ContentType  string
	Time         time.Time
}

// MessageInfo is a snapshot of a stored message.
type MessageInfo struct {
	ID       string
	RoomID   string
	Text     string
	Username string
	TS       time.Time
	ThreadID string
	Alias    string
	// Type is a system message's type ("rm": a deleted thread message).
	Type string
	// EditedAt is when chat.update last changed the text (zero: never).
	EditedAt time.Time
	// Reactions lists, by emoji with colons (":thumbsup:"), who reacted.
	Reactions map[string][]string
}

// SubscriptionState is a snapshot of one user's subscription.
type SubscriptionState struct {
	ID            string
	RoomID        string
	RoomType      string
	Name          string
	Unread        int
	UserMentions  int
	GroupMentions int
	Alert         bool
	Open          bool
	TS            time.Time
	LS            time.Time
	LR            time.Time
	UpdatedAt     time.Time
	ThreadUnread  []string
	ThreadUser    []string
	ThreadGroup   []string
}

type faultState struct {
	f    Fault
	left int
}

type window struct {
	count int
	reset time.Time
}

// Server is a fake Rocket.Chat server. All its methods are safe for
// concurrent use.
type Server struct {
	// URL is the server's base URL, without a trailing slash.
	URL string

	cfg config

	mu        stateMu // its Unlock sends the state's changes to the DDP sessions (events.go)
	st        state
	ddp       ddpHub
	faults    map[string]*faultState
	requests  []Request // a ring of at most cfg.maxRequests entries
	reqHead   int       // index of the oldest entry once the ring is full
	actions   []Action  // the action log (actions.go)
	actionSeq uint64    // the Seq of the latest action
	limits    map[string]*window

	done      chan struct{}
	closeOnce sync.Once
	hmu       sync.Mutex // guards active, closing, idle
	active    int
	closing   bool
	idle      chan struct{}
	ts        *httptest.Server
	hs        *http.Server
	serveDone chan struct{}
}

func newServer(opts []Option) (*Server, error) {
	cfg := config{now: time.Now, botRoles: []string{"user"}, maxBodySize: 8 << 20, maxRequests: maxRequestLog,
		unreadCount: UnreadUserAndGroupMentionsOnly}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.unreadCount.valid() {
		return nil, fmt.Errorf("rctest: unknown Unread_Count value %q (want all_messages, user_mentions_only, group_mentions_only or user_and_group_mentions_only)", cfg.unreadCount)
	}
	s := &Server{
		cfg:    cfg,
		faults: make(map[string]*faultState),
		limits: make(map[string]*window),
		done:   make(chan struct{}),
		idle:   make(chan struct{}),
		st: state{
			users:   make(map[string]*user),
			rooms:   make(map[string]*room, 16+cfg.extraSubs),
			msgs:    make(map[string]*message),
			subs:    make(map[string]map[string]*subscription),
			subList: make(map[string][]*subscription),
			tokens:  make(map[string]tokenRec),

			unreadCount: cfg.unreadCount,
		},
	}
	s.st.seed(s.now(), cfg.extraSubs, cfg.botRoles)
	s.mu.flush = s.flushEvents
	return s, nil
}

// NewServer starts a seeded fake server on a local httptest listener.
// Close it when done. It panics for an invalid option (a test's mistake).
func NewServer(opts ...Option) *Server {
	s, err := newServer(opts)
	if err != nil {
		panic(err.Error())
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Listen starts a seeded fake server on addr (e.g. "127.0.0.1:0" or
// ":3000"), for rclua's --dev mode. Close it when done.
func Listen(addr string, opts ...Option) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("rctest: listen on %s: %w", addr, err)
	}
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	s.URL = "http://" + ln.Addr().String()
	go func() {
		defer close(s.serveDone)
		_ = s.hs.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// Close stops the server and waits until every request handler and the
// serving goroutine have ended. It may be called more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.DropSessions() // a websocket's handler ends with its connection
		s.hmu.Lock()
		s.closing = true
		wait := s.active > 0
		s.hmu.Unlock()
		if s.ts != nil {
			s.ts.Close()
		}
		if s.hs != nil {
			_ = s.hs.Close()
			<-s.serveDone
		}
		if wait {
			<-s.idle
		}
	})
}

// enter registers a running handler; it is false once Close has begun.
func (s *Server) enter() bool {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.closing {
		return false
	}
	s.active++
	return true
}

// leave ends a handler registered by enter.
func (s *Server) leave() {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.active--
	if s.active == 0 && s.closing {
		close(s.idle)
	}
}

// now is the server clock at millisecond precision, in UTC.
func (s *Server) now() time.Time {
	return s.cfg.now().UTC().Truncate(time.Millisecond)
}

// Fault makes the next requests to endpoint ("subscriptions.get",
// "login", "info" for /api/info) fail as f says. A new fault replaces the
// endpoint's previous one.
func (s *Server) Fault(endpoint string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[endpoint] = &faultState{f: f, left: f.Times}
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// Requests returns a copy of the request log, oldest first. The log keeps
// the latest 10,000 requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.requests)
	out := make([]Request, n)
	for i := range out {
		r := s.requests[(s.reqHead+i)%n]
		r.Query = cloneValues(r.Query)
		r.Body = bytes.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.reqHead = nil, 0
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// takeFault returns the fault for endpoint, counting it down.
func (s *Server) takeFault(endpoint string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.faults[endpoint]
	if fs == nil {
		return Fault{}, false
	}
	if fs.f.Times > 0 {
		fs.left--
		if fs.left <= 0 {
			delete(s.faults, endpoint)
		}
	}
	return fs.f, true
}

// reqCtx is one request being handled.
type reqCtx struct {
	w        http.ResponseWriter
	r        *http.Request
	endpoint string
	query    url.Values
	body     []byte
	user     *user
	token    string
	now      time.Time

	// status and out are the response a handler recorded with respond.
	status int
	out    []byte
}

// respond records the response; ServeHTTP writes it once the handler has
// returned, so that no response is ever written while s.mu is held (a
// slow client must not block the server).
func (c *reqCtx) respond(status int, body []byte) {
	c.status, c.out = status, body
}

// handler serves one route. It records its response with c.respond and
// never writes to c.w itself (it may set headers).
type handler func(s *Server, c *reqCtx)

type route struct {
	h       handler
	auth    bool // authRequired
	limited bool // under the rate limiter: the default one, or own
	own     *rateRule
}

// rateRule is a route's own rate limit (rateLimiterOptions), in place of
// the default's while WithRateLimit is on.
type rateRule struct {
	calls  int
	window time.Duration
}

// coreRoutes are the routes of handlers.go, by "METHOD endpoint";
// messageRoutes (messages.go) holds the others.
var coreRoutes = map[string]route{
	"POST login":                {h: (*Server).login, limited: true},
	"POST logout":               {h: (*Server).logout, auth: true, limited: true},
	"GET logout":                {h: (*Server).logout, auth: true, limited: true},
	"GET me":                    {h: (*Server).me, auth: true, limited: true},
	"GET info":                  {h: (*Server).info},
	"GET subscriptions.get":     {h: (*Server).subscriptionsGet, auth: true, limited: true},
	"GET subscriptions.getOne":  {h: (*Server).subscriptionsGetOne, auth: true, limited: true},
	"POST subscriptions.read":   {h: (*Server).subscriptionsRead, auth: true, limited: true},
	"POST subscriptions.unread": {h: (*Server).subscriptionsUnread, auth: true, limited: true},
	"POST chat.postMessage":     {h: (*Server).chatPostMessage, auth: true, limited: true},
	"GET chat.syncMessages":     {h: (*Server).chatSyncMessages, auth: true, limited: true},
	"GET users.info":            {h: (*Server).usersInfo, auth: true, limited: true},
}

// lookupRoute returns the route for method and endpoint.
func lookupRoute(method, endpoint string) (route, bool) {
	if rt, ok := coreRoutes[method+" "+endpoint]; ok {
		return rt, true
	}
	rt, ok := messageRoutes[method+" "+endpoint]
	return rt, ok
}

// Endpoints returns the endpoints the server serves under /api/v1/
// ("chat.postMessage", "me", ...), sorted, each once whatever its
// methods. (The server's version is /api/info, outside them.)
func Endpoints() []string {
	var out []string
	for _, routes := range []map[string]route{coreRoutes, messageRoutes} {
		for k := range routes {
			_, endpoint, _ := strings.Cut(k, " ")
			if endpoint != "info" && !slices.Contains(out, endpoint) {
				out = append(out, endpoint)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		writeJSON(w, http.StatusServiceUnavailable, failureBody("Service unavailable"))
		return
	}
	defer s.leave()
	if r.URL.Path == "/websocket" {
		s.serveDDP(w, r) // DDP (ddp.go)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")

	var endpoint string
	switch {
	case r.URL.Path == "/api/info":
		endpoint = "info"
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		endpoint = strings.TrimPrefix(r.URL.Path, "/api/v1/")
	default:
		writeJSON(w, http.StatusNotFound, obj{{"success", false}, {"error", "Resource not found"}}.bytes())
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.maxBodySize+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, failureBody("Invalid body"))
		return
	}
	if int64(len(body)) > s.cfg.maxBodySize {
		// Read the rest (within reason), so that the client, still
		// writing, reads the answer rather than a reset connection.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
		writeJSON(w, http.StatusRequestEntityTooLarge, failureBody(fmt.Sprintf(
			"rctest: request body larger than %d MiB (the fake server's limit)", s.cfg.maxBodySize>>20)))
		return
	}
	query, qerr := url.ParseQuery(r.URL.RawQuery)
	c := &reqCtx{w: w, r: r, endpoint: endpoint, query: query, body: body, now: s.now()}
	h.Set("Date", c.now.Format(http.TimeFormat)) // the clock _updatedAt is written with
	s.authenticate(c)
	s.logRequest(c)

	if f, ok := s.takeFault(endpoint); ok {
		if s.applyFault(c, f) {
			return
		}
	}
	rt, ok := lookupRoute(r.Method, endpoint)
	if !ok || (endpoint == "info" && r.URL.Path != "/api/info") {
		writeJSON(w, http.StatusNotFound, obj{{"success", false}, {"error", "Resource not found"}}.bytes())
		return
	}
	if rt.auth && c.user == nil {
		writeJSON(w, http.StatusUnauthorized, unauthorizedBody)
		return
	}
	if rt.limited && !s.allow(c, rt.own) {
		return
	}
	if qerr != nil {
		writeJSON(w, http.StatusBadRequest, failureBody("Invalid query parameters"))
		return
	}
	rt.h(s, c)
	if c.status == 0 {
		c.respond(http.StatusInternalServerError, failureBody("Internal server error")) // a bug in rctest
	}
	writeJSON(w, c.status, c.out)
}

// maxDrain is how much of a request body past the limit the server reads
// before it answers 413.
const maxDrain = 64 << 20

var unauthorizedBody = []byte(`{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`)

func (s *Server) authenticate(c *reqCtx) {
	uid := c.r.Header.Get("X-User-Id")
	tok := c.r.Header.Get("X-Auth-Token")
	if uid == "" || tok == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.tokens[hashToken(tok)]
	if !ok || rec.uid != uid {
		return
	}
	c.user = s.st.users[uid]
	c.token = tok
}

// redactLogin replaces the secret values of a login body (password,
// resume token, TOTP code, password digest) with "<redacted>" for the
// request log, at any depth (the login form nests them, as in
// {"totp":{"login":{...,"password":...},"code":...}}). The body is read as
// the login route reads it: form-urlencoded or JSON. A body that is neither
// is not logged at all (it may hold a password).
func redactLogin(contentType string, body []byte) []byte {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil
		}
		for k := range v {
			if secretKey(k) {
				v[k] = []string{"<redacted>"}
			}
		}
		return []byte(v.Encode())
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil
	}
	out, err := json.Marshal(redactValue(m))
	if err != nil {
		return nil
	}
	return out
}

// secretKey reports whether a login body's key holds a secret.
func secretKey(k string) bool {
	switch k {
	case "password", "resume", "code", "digest":
		return true
	}
	return false
}

// redactValue redacts the secrets of v, a decoded JSON value, in place.
func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if secretKey(k) {
				x[k] = "<redacted>"
			} else {
				x[k] = redactValue(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = redactValue(e)
		}
	}
	return v
}

func (s *Server) logRequest(c *reqCtx) {
	body := c.body
	if c.endpoint == "login" {
		body = redactLogin(c.r.Header.Get("Content-Type"), body)
	}
	req := Request{
		Method: c.r.Method, Path: c.r.URL.Path, Endpoint: c.endpoint, Query: cloneValues(c.query),
		Body: bytes.Clone(body), UserID: c.r.Header.Get("X-User-Id"), Authenticated: c.user != nil,
		HasAuthToken: c.r.Header.Get("X-Auth-Token") != "", UserAgent: c.r.UserAgent(),
		ContentType: c.r.Header.Get("Content-Type"), Time: c.now,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) < s.cfg.maxRequests {
		s.requests = append(s.requests, req)
		return
	}
	s.requests[s.reqHead] = req // overwrite the oldest
	s.reqHead = (s.reqHead + 1) % len(s.requests)
}

// applyFault performs f; it reports whether the response was written.
func (s *Server) applyFault(c *reqCtx, f Fault) bool {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-c.r.Context().Done():
			t.Stop()
			return true
		case <-s.done:
			t.Stop()
			return true
		}
	}
	switch {
	case f.DropConnection:
		if hj, ok := c.w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler) // aborts the response without one
	case f.MalformedJSON:
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		body := f.Body
		if body == "" {
			body = `{"update":[{"_id":"x","rid":`
		}
		writeJSON(c.w, status, []byte(body))
		return true
	case f.Status != 0:
		for k, vs := range f.Header {
			for _, v := range vs {
				c.w.Header().Add(k, v)
			}
		}
		body := []byte(f.Body)
		if f.Body == "" {
			body = defaultFaultBody(c, f)
		}
		writeJSON(c.w, f.Status, body)
		return true
	}
	return false
}

func defaultFaultBody(c *reqCtx, f Fault) []byte {
	switch f.Status {
	case http.StatusUnauthorized:
		return unauthorizedBody
	case http.StatusForbidden:
		return failureBody("User does not have the permissions required for this action [error-unauthorized]")
	case http.StatusNotFound:
		return failureBody("Resource not found")
	case http.StatusTooManyRequests:
		h := c.w.Header()
		if h.Get("X-RateLimit-Reset") == "" {
			h.Set("X-RateLimit-Limit", "10")
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(c.now.Add(time.Second).UnixMilli(), 10))
		}
		return failureBody(tooManyText(1))
	case http.StatusServiceUnavailable:
		return failureBody("Service unavailable")
	case http.StatusInternalServerError:
		return failureBody("Internal server error")
	}
	if f.Status >= 200 && f.Status < 300 {
		return []byte(`{"success":true}`)
	}
	return failureBody(http.StatusText(f.Status))
}

func tooManyText(secs int) string {
	return fmt.Sprintf("Error, too many requests. Please slow down. You must wait %d seconds before trying this endpoint again. [error-too-many-requests]", secs)
}

// allow applies the rate limiter, with the route's own rule when it has
// one; when it refuses, the 429 is written.
func (s *Server) allow(c *reqCtx, own *rateRule) bool {
	if s.cfg.rateCalls <= 0 || s.cfg.rateWindow <= 0 {
		return true
	}
	calls, span := s.cfg.rateCalls, s.cfg.rateWindow
	if own != nil {
		calls, span = own.calls, own.window
	}
	if c.user != nil && c.user.hasRole("admin", "bot", "app") {
		return true
	}
	if s.cfg.rateExempt != nil && s.cfg.rateExempt(c.r) {
		return true
	}
	ip, _, err := net.SplitHostPort(c.r.RemoteAddr)
	if err != nil {
		ip = c.r.RemoteAddr
	}
	key := ip + " /api/v1/" + c.endpoint + strings.ToLower(c.r.Method)
	s.mu.Lock()
	wd := s.limits[key]
	if wd == nil || !c.now.Before(wd.reset) {
		wd = &window{reset: c.now.Add(span)}
		s.limits[key] = wd
	}
	wd.count++
	count, reset := wd.count, wd.reset
	s.mu.Unlock()

	h := c.w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(calls))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(calls-count, 0)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
	if count <= calls {
		return true
	}
	secs := int(math.Ceil(float64(reset.Sub(c.now).Milliseconds()) / 1000))
	writeJSON(c.w, http.StatusTooManyRequests, failureBody(tooManyText(secs)))
	return false
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// success writes 200 with o plus "success":true.
func (c *reqCtx) success(o obj) {
	c.respond(http.StatusOK, append(o, field{"success", true}).bytes())
}

func failureBody(msg string) []byte {
	return obj{{"success", false}, {"error", msg}}.bytes()
}

// fail writes 400 {"success":false,"error":msg} (a plain Error).
func (c *reqCtx) fail(msg string) {
	c.respond(http.StatusBadRequest, failureBody(msg))
}

// meteorError writes 400 for a thrown Meteor.Error(code, reason, details).
func (c *reqCtx) meteorError(code, reason string, details obj) {
	o := obj{{"success", false}, {"error", reason + " [" + code + "]"}, {"errorType", code}}
	if details != nil {
		o = append(o, field{"details", details})
	}
	c.respond(http.StatusBadRequest, o.bytes())
}

// invalidParams writes a typed-route validation failure.
func (c *reqCtx) invalidParams(errorType string, msgs []string) {
	c.respond(http.StatusBadRequest,
		obj{{"success", false}, {"errorType", errorType}, {"error", strings.Join(msgs, "\n")}}.bytes())
}
