package luabind

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// PostLimit bounds the messages one script posts, whatever the route
// (rc.chat.post_message, msg:reply, rc.post of a route that posts:
// postCount): at most N calls in any Window. A post past it
// returns nil, err (error_type "limit") without reaching the server, so
// that a loop gone wrong cannot flood a room, even as a bot account the
// server does not rate limit. Safe for concurrent use; one per script,
// kept across its reloads (Module.Posts).
type PostLimit struct {
	n      int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	times  []time.Time // the times of the posts of the last window, sorted, oldest first (at most n)
	warned time.Time   // the last refusal logged
}

// NewPostLimit returns a limit of n posts in any window, on the clock
// now (nil: time.Now). n must be positive.
func NewPostLimit(n int, window time.Duration, now func() time.Time) *PostLimit {
	if now == nil {
		now = time.Now
	}
	return &PostLimit{n: n, window: window, now: now} // times grows with the posts: a high n costs nothing unused
}

// take records k posts now (one call posting to k rooms), or refuses
// them all with the wait until k are allowed (0 when k alone is over
// the limit: never); log reports whether this refusal is the first of
// its window (the one to log). A clock that steps back counts the posts
// already taken as recent until it passes them again.
func (p *PostLimit) take(k int) (wait time.Duration, ok, log bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	// times stays sorted, a clock stepped back too (a post is inserted in
	// its place, not appended), so the posts older than the window are a
	// prefix and the wait below is the right one's.
	p.times = slices.DeleteFunc(p.times, func(t time.Time) bool { return now.Sub(t) >= p.window })
	if len(p.times)+k <= p.n {
		at, _ := slices.BinarySearchFunc(p.times, now, func(t, now time.Time) int { return t.Compare(now) })
		p.times = slices.Insert(p.times, at, slices.Repeat([]time.Time{now}, k)...)
		return 0, true, false
	}
	if k <= p.n {
		// room for k once the oldest len+k-n have left the window
		wait = p.window - now.Sub(p.times[len(p.times)+k-p.n-1])
	}
	log = p.warned.IsZero() || now.Sub(p.warned) >= p.window || now.Before(p.warned)
	if log {
		p.warned = now
	}
	return wait, false, log
}

// postLimitError is a post PostLimit refused: error_type "limit".
type postLimitError struct {
	fn     string
	n      int
	window time.Duration
	wait   time.Duration
	posts  int // the messages the refused call would have posted
}

func (e *postLimitError) Error() string {
	if e.posts > e.n {
		return fmt.Sprintf("%s: refused: the call would post %d messages (one per room), more than the post limit of %d in %s",
			e.fn, e.posts, e.n, e.window)
	}
	return fmt.Sprintf("%s: refused: the script posted %d messages in the last %s (the post limit); the next is allowed in %s",
		e.fn, e.n, e.window, (e.wait + time.Second - 1).Truncate(time.Second)) // rounded up: never "in 0s"
}

// ErrorType is err.error_type (errorTable).
func (e *postLimitError) ErrorType() string { return "limit" }

// postEndpoints are the routes (routeOf) that post a message; commands.run
// runs a slash command, which may (/me, /shrug); livechat/message posts
// as an omnichannel visitor.
var postEndpoints = map[string]bool{"chat.postmessage": true, "chat.sendmessage": true, "commands.run": true, "livechat/message": true}

// postRoutePrefixes are routes with path parameters that post one: a file
// uploaded and confirmed (rooms.mediaConfirm/:rid/:fileId) is a message.
var postRoutePrefixes = []string{"rooms.mediaconfirm/", "rooms.upload/"}

// postMethods are the methods (methodOf) of method.call that post one.
var postMethods = map[string]bool{"sendmessage": true, "slashcommand": true, "sendfilemessage": true}

// allowPost takes k posts of fn (one call posting k messages) from the
// script's limit: nil when they may go, else the error to return (the
// first refusal of a window is logged).
func (b *binding) allowPost(fn string, k int) error {
	p := b.m.Posts
	if p == nil {
		return nil
	}
	wait, ok, log := p.take(k)
	if ok {
		return nil
	}
	err := &postLimitError{fn: fn, n: p.n, window: p.window, wait: wait, posts: k}
	if log {
		b.m.Logger.Warn().Str("call", fn).Int("limit", p.n).Stringer("window", p.window).
			Msg("post limit reached: the script's posts are refused until its window has room (a loop posting?)")
	}
	return err
}

// postCount returns how many messages rc.post of endpoint with body posts,
// however the endpoint is spelt ("/chat.postMessage", "chat.postmessage/")
// or through method.call: 0 for an endpoint that posts none, and for
// chat.postMessage one per target, since the server posts to each room
// of a channel (or roomId) array (facts §5).
func postCount(endpoint string, body []byte) int {
	r := routeOf(endpoint)
	switch {
	case r == "chat.postmessage":
		return max(1, targets(body))
	case postEndpoints[r] || postMethods[methodOf(endpoint, body)]:
		return 1
	}
	for _, p := range postRoutePrefixes {
		if strings.HasPrefix(r, p) {
			return 1
		}
	}
	return 0
}

// targets returns how many rooms the server posts a chat.postMessage of
// body to: it takes channel || roomId (JavaScript's truth: an absent key,
// null, "" or false falls through; an array, even empty, does not), one
// room for a string, one per element for an array. Exact keys, as the
// server's JSON.parse reads them (the last of a repeated key, as
// encoding/json's map does).
func targets(body []byte) int {
	var outer map[string]json.RawMessage
	if json.Unmarshal(body, &outer) != nil {
		return 0
	}
	for _, key := range []string{"channel", "roomId"} {
		var v any
		if json.Unmarshal(outer[key], &v) != nil {
			continue
		}
		switch v := v.(type) {
		case []any:
			return len(v)
		case string:
			if v != "" {
				return 1
			}
		case bool:
			if v {
				return 1
			}
		case float64:
			if v != 0 {
				return 1
			}
		case map[string]any:
			return 1
		}
	}
	return 0
}
