package luabind

import (
	"fmt"
	"sync"
	"time"
)

// PostLimit bounds the messages one script posts, whatever the route
// (rc.chat.post_message, msg:reply, rc.post of chat.postMessage or
// chat.sendMessage): at most N calls in any Window. A post past it
// returns nil, err (error_type "limit") without reaching the server, so
// that a loop gone wrong cannot flood a room, even as a bot account the
// server does not rate limit. Safe for concurrent use; one per script,
// kept across its reloads (Module.Posts).
type PostLimit struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	times  []time.Time // the last n posts' times, a ring from next
	next   int
	warned time.Time // the last refusal logged
}

// NewPostLimit returns a limit of n posts in any window, on the clock
// now (nil: time.Now). n must be positive.
func NewPostLimit(n int, window time.Duration, now func() time.Time) *PostLimit {
	if now == nil {
		now = time.Now
	}
	return &PostLimit{n: n, window: window, now: now} // the ring grows with the posts: a high n costs nothing unused
}

// take records a post now, or refuses it with the wait until the next
// is allowed; log reports whether this refusal is the first of its
// window (the one to log).
func (p *PostLimit) take() (wait time.Duration, ok, log bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if len(p.times) < p.n {
		p.times = append(p.times, now)
		return 0, true, false
	}
	oldest := p.times[p.next]
	if age := now.Sub(oldest); age < p.window {
		log = p.warned.IsZero() || now.Sub(p.warned) >= p.window
		if log {
			p.warned = now
		}
		return p.window - age, false, log
	}
	p.times[p.next] = now
	p.next = (p.next + 1) % p.n
	return 0, true, false
}

// postLimitError is a post PostLimit refused: error_type "limit".
type postLimitError struct {
	fn     string
	n      int
	window time.Duration
	wait   time.Duration
}

func (e *postLimitError) Error() string {
	return fmt.Sprintf("%s: refused: the script posted %d messages in the last %s (the post limit); the next is allowed in %s",
		e.fn, e.n, e.window, (e.wait + time.Second - 1).Truncate(time.Second)) // rounded up: never "in 0s"
}

// ErrorType is err.error_type (errorTable).
func (e *postLimitError) ErrorType() string { return "limit" }

// postEndpoints are the routes (routeOf) that post a message; commands.run
// runs a slash command, which may (/me, /shrug).
var postEndpoints = map[string]bool{"chat.postmessage": true, "chat.sendmessage": true, "commands.run": true}

// postMethods are the methods (methodOf) of method.call that post one.
var postMethods = map[string]bool{"sendmessage": true, "slashcommand": true}

// allowPost takes one post of fn from the script's limit: nil when it may
// go, else the error to return (the first refusal of a window is logged).
func (b *binding) allowPost(fn string) error {
	p := b.m.Posts
	if p == nil {
		return nil
	}
	wait, ok, log := p.take()
	if ok {
		return nil
	}
	err := &postLimitError{fn: fn, n: p.n, window: p.window, wait: wait}
	if log {
		b.m.Logger.Warn().Str("call", fn).Int("limit", p.n).Stringer("window", p.window).
			Msg("post limit reached: the script's posts are refused until its window has room (a loop posting?)")
	}
	return err
}

// isPost reports whether rc.post of endpoint with body posts a message,
// however the endpoint is spelt ("/chat.postMessage", "chat.postmessage/")
// or through method.call.
func isPost(endpoint string, body []byte) bool {
	return postEndpoints[routeOf(endpoint)] || postMethods[methodOf(endpoint, body)]
}
