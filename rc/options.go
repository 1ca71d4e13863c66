package rc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Option configures a Client in New. An Option that gets an invalid value
// makes New fail; no Option's error ever contains a secret.
type Option func(*Client) error

// WithToken authenticates every request with a personal access token (or a
// token from an earlier login): the headers X-User-Id and X-Auth-Token.
// A client built this way refuses Logout, because the server would delete
// the token.
func WithToken(userID, token string) Option {
	return func(c *Client) error {
		if userID == "" {
			return errors.New("rc: WithToken: empty user id")
		}
		if token == "" {
			return errors.New("rc: WithToken: empty token")
		}
		c.cred = &credentials{userID: userID, token: token}
		return nil
	}
}

// WithReauth makes the client call renew when the server answers 401 to a
// request sent with credentials: a login session that expired or was ended
// on the server, a personal access token that was revoked. renew may get
// new credentials (a Login with the same password); when it returns nil
// and the client's credentials changed, the request is sent once more with
// the new ones. When it returns an error, the request fails with that
// error: wrap err in it (%w) to keep errors.Is(err, ErrUnauthorized).
//
// One renew runs at a time; requests refused meanwhile wait for it (until
// their context ends) and then use the credentials it got, without
// calling it again. Requests renew itself makes never call it (a 401 there
// is returned as it is), and a request is renewed at most once.
func WithReauth(renew RenewFunc) Option {
	return func(c *Client) error {
		if renew == nil {
			return errors.New("rc: WithReauth: nil function")
		}
		c.renew = renew
		return nil
	}
}

// RenewFunc renews the credentials of c after the server refused them; err
// is the refused request's error (it matches ErrUnauthorized). See
// WithReauth.
type RenewFunc func(ctx context.Context, c *Client, err error) error

// WithHTTPClient sends requests through hc (for TLS settings, proxies,
// instrumentation). By default a client uses its own tuned transport with
// keep-alives. hc's own Timeout, if any, applies besides WithTimeout.
// The client keeps a shallow copy of hc (later changes to hc's fields do
// not apply) whose redirect policy also keeps the credentials from other
// hosts; hc's own CheckRedirect still runs first.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("rc: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// HTTPClient returns the *http.Client the client sends its requests with
// (the one WithHTTPClient gave, as the client keeps it, or the client's
// own), so that other connections to the same server, such as the
// realtime API's websocket, use the same TLS, proxy and transport
// settings. It is shared with the client: do not modify it.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// WithTimeout bounds each attempt of a request, including the reading of the
// response body (default 30s). Zero means no timeout besides the context's.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("rc: WithTimeout: negative duration %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default DefaultUserAgent); the
// application names itself and its version here, e.g. "rclua/v1.2.3".
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if ua == "" {
			return errors.New("rc: WithUserAgent: empty user agent")
		}
		c.userAgent = ua
		return nil
	}
}

// WithMaxBodySize sets the largest response body the client reads (default
// 32 MiB); a larger one fails with an error wrapping ErrBodyTooLarge.
func WithMaxBodySize(n int64) Option {
	return func(c *Client) error {
		if n <= 0 {
			return fmt.Errorf("rc: WithMaxBodySize: size must be positive, got %d", n)
		}
		c.maxBody = n
		return nil
	}
}

// WithRetry turns retries on (they are off by default). Zero fields of p
// take the defaults documented on RetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 || p.MinBackoff < 0 || p.MaxBackoff < 0 || p.MaxRateLimitWait < 0 {
			return errors.New("rc: WithRetry: negative value in retry policy")
		}
		if p.MaxAttempts == 0 {
			p.MaxAttempts = DefaultMaxAttempts
		}
		if p.MinBackoff == 0 {
			p.MinBackoff = DefaultMinBackoff
		}
		if p.MaxBackoff == 0 {
			p.MaxBackoff = DefaultMaxBackoff
		}
		if p.MaxRateLimitWait == 0 {
			p.MaxRateLimitWait = DefaultMaxRateLimitWait
		}
		if p.MinBackoff > p.MaxBackoff {
			return fmt.Errorf("rc: WithRetry: MinBackoff %s is larger than MaxBackoff %s", p.MinBackoff, p.MaxBackoff)
		}
		c.retry = &p
		return nil
	}
}

// Defaults for the zero fields of a RetryPolicy given to WithRetry.
const (
	DefaultMaxAttempts      = 3
	DefaultMinBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultMaxRateLimitWait = 65 * time.Second
)

// RetryPolicy says when a failed request is sent again.
//
// A 429 (rate limited) is retried for any method, since the server did
// nothing: the client waits until the window resets (X-RateLimit-Reset, or
// the "wait N seconds" text, or a proxy's Retry-After, the later of the
// server's reset and Retry-After when both are present), plus up to
// MinBackoff of jitter, unless that is
// later than MaxRateLimitWait or than the context's deadline, in which case
// the error is returned at once. A 5xx or a transport failure is retried
// only for GET, after an exponential backoff from MinBackoff up to
// MaxBackoff with jitter. Other errors are never retried. Every wait ends at
// once when the context ends.
type RetryPolicy struct {
	// MaxAttempts is the number of attempts, the first one included
	// (default 3).
	MaxAttempts int
	// MinBackoff is the first backoff (default 250ms).
	MinBackoff time.Duration
	// MaxBackoff caps the backoff (default 10s).
	MaxBackoff time.Duration
	// MaxRateLimitWait is the longest wait for a rate-limit window to reset
	// (default 65s).
	MaxRateLimitWait time.Duration
}

// Observer is told of a client's requests, for metrics; WithObserver sets
// it. Its functions are called from the goroutines sending the requests,
// concurrently: they must be quick and must not block. Nil fields are
// skipped.
type Observer struct {
	// Request is called after each attempt of a request.
	Request func(RequestInfo)
	// RateLimitWait is called when the client waits d for a rate-limit
	// window to reset before sending endpoint's request again (429, with
	// retries on).
	RateLimitWait func(endpoint string, d time.Duration)
}

// RequestInfo describes one attempt of a request to Observer.Request.
type RequestInfo struct {
	Method   string        // "GET" or "POST"
	Endpoint string        // as given to the client, e.g. "chat.postMessage" (never the URL or the query)
	Status   int           // the HTTP status; 0 when no response came (a transport failure, a cancellation)
	Duration time.Duration // from sending to the end of reading the body
}

// WithObserver makes the client tell o of its requests (see Observer).
func WithObserver(o Observer) Option {
	return func(c *Client) error {
		c.obs = o
		return nil
	}
}
