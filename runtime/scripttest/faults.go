package scripttest

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faults is the transport of the script's client under its recorder: an endpoint t.fail
// names is answered with its error as the server would send it, without
// reaching the server; everything else goes to the fake server. Only the
// script's requests fail: the users of t.post and the harness's own
// requests are not affected.
type faults struct {
	base http.RoundTripper

	mu   sync.Mutex // RoundTrip may be called from the client's goroutines
	left map[string]*fault
}

// fault is one endpoint's failure.
type fault struct {
	status int
	body   []byte
	times  int // requests left; 0: until the test ends
}

func (f *faults) set(endpoint string, status int, body []byte, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left[endpoint] = &fault{status: status, body: body, times: times}
}

// RoundTrip implements http.RoundTripper.
func (f *faults) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := strings.TrimPrefix(req.URL.Path, "/api/v1/")
	f.mu.Lock()
	ft := f.left[endpoint]
	if ft != nil && ft.times > 0 {
		if ft.times--; ft.times == 0 {
			delete(f.left, endpoint)
		}
	}
	f.mu.Unlock()
	if ft == nil {
		return f.base.RoundTrip(req)
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if ft.status == http.StatusTooManyRequests {
		// Rate limited for a minute: the reset is epoch milliseconds. The
		// client measures it against the real clock (its retry policy
		// waits in real time), so it is set from that one, not the fake.
		h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
	}
	return &http.Response{
		Status: strconv.Itoa(ft.status) + " " + http.StatusText(ft.status), StatusCode: ft.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(ft.body)), ContentLength: int64(len(ft.body)),
		Request: req,
	}, nil
}
