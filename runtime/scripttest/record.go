package scripttest

import (
	"net/http"
	"slices"
	"sync"

	"github.com/rclua/rclua/rc/rctest"
)

// recorder is the outer transport of the script's client. What the script
// did is what the fake server applied during the script's own requests
// (rctest's action log): every route by which a script acts, typed
// functions, msg:reply and msg:react or rc.post with any spelling the
// server accepts, lands in the same records. A request t.fail answers
// never reaches the server and records nothing, nor does a refused one;
// a post to several rooms failing part way keeps the posts the server
// made.
type recorder struct {
	base http.RoundTripper
	srv  *rctest.Server

	mu        sync.Mutex // RoundTrip may run on the script's goroutine
	seen      uint64     // the server's actions up to here are taken
	posted    []postedMsg
	reactions []reaction
	reads     []readCall
}

// RoundTrip implements http.RoundTripper. The actions before the request
// are someone else's (t.post's users, the harness); those logged by the
// time its response arrives are the script's (the server logs them
// before it answers, and the script makes one request at a time).
func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.take(false)
	resp, err := r.base.RoundTrip(req)
	r.take(true)
	return resp, err
}

// take consumes the server's new actions, recording the bot's when keep.
func (r *recorder) take(keep bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	acts := r.srv.Actions(r.seen)
	if len(acts) == 0 {
		return
	}
	r.seen = acts[len(acts)-1].Seq
	if !keep {
		return
	}
	for _, a := range acts {
		if a.UserID != rctest.BotUserID {
			continue
		}
		switch a.Kind {
		case rctest.ActionPost:
			r.posted = append(r.posted, postedMsg{a.MessageID, a.RoomID, a.Text, a.ThreadID})
		case rctest.ActionReact, rctest.ActionUnreact:
			r.reactions = append(r.reactions, reaction{a.MessageID, a.Emoji, a.Kind == rctest.ActionReact})
		case rctest.ActionRead:
			r.reads = append(r.reads, readCall{rid: a.RoomID, readThreads: a.ReadThreads})
		case rctest.ActionUnread:
			r.reads = append(r.reads, readCall{rid: a.RoomID, unread: true, firstUnread: a.MessageID})
		}
	}
}

// records returns copies of what the script did so far.
func (r *recorder) records() ([]postedMsg, []reaction, []readCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.posted), slices.Clone(r.reactions), slices.Clone(r.reads)
}
