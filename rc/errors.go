package rc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sentinels matched by (*Error).Is, for errors.Is.
var (
	// ErrUnauthorized matches an HTTP 401: missing or invalid credentials,
	// or a failed login.
	ErrUnauthorized = errors.New("rc: unauthorized")
	// ErrForbidden matches an HTTP 403: the user lacks a permission.
	ErrForbidden = errors.New("rc: forbidden")
	// ErrRateLimited matches an HTTP 429; the *Error's Reset and RetryAfter
	// say when the window resets.
	ErrRateLimited = errors.New("rc: rate limited")
	// ErrTOTPRequired matches a call that needs a two-factor code. For a
	// login, retry with LoginWithTOTP. Other endpoints that require 2FA (the
	// server wants the code in x-2fa-code headers) are not supported by
	// this client yet: such a call just fails with this error.
	ErrTOTPRequired = errors.New("rc: two-factor code required")
)

// ResponseError is a successful response whose body is not what the
// endpoint answers (not JSON, another shape): often the address of
// something that is not Rocket.Chat's REST API (a proxy's page).
type ResponseError struct {
	Endpoint string
	Err      error
}

func (e *ResponseError) Error() string {
	return "rc: " + e.Endpoint + ": decoding response: " + e.Err.Error()
}
func (e *ResponseError) Unwrap() error { return e.Err }

// MaxRequestBody is the largest request body the client sends, as JSON:
// a longer one fails before any request with ErrRequestTooLarge.
const MaxRequestBody = 16 << 20

// ErrRequestTooLarge is the error (wrapped) of a request whose JSON body
// is longer than MaxRequestBody; nothing is sent.
var ErrRequestTooLarge = fmt.Errorf("rc: request body longer than %d bytes", MaxRequestBody)

// Error is a failure the server reported: a non-2xx status, or a 2xx whose
// body says "success": false. Use errors.Is with ErrUnauthorized,
// ErrForbidden, ErrRateLimited or ErrTOTPRequired, or errors.As to read the
// fields.
//
// The server answers errors in several shapes; all of them are decoded:
//
//	{"success":false,"error":"<text>","errorType":"<code>","details":{...}}
//	{"success":false,"error":"<code>","status":"error","message":"<text>"}  (login, 401)
//	{"success":false,"error":403,"status":"error","message":"<text>"}       (numeric error)
//	{"status":"error","message":"<text>"}
//	an HTML or empty body (proxies, crashes): Message is a short snippet.
//
// When there is no errorType but "error" is a code next to a different
// "message" (the login shape), Type is that code and Message the text.
type Error struct {
	Endpoint   string         // endpoint name, e.g. "subscriptions.get" (never a URL)
	Status     int            // HTTP status
	Message    string         // the server's "error" (or "message") text
	Type       string         // the server's "errorType", "" when absent
	Details    map[string]any // the server's "details", nil when absent
	RetryAfter time.Duration  // rate limit: time until the window resets, as received
	Reset      time.Time      // rate limit: when the window resets (zero when unknown)
}

// Error returns "rc: <endpoint>: <status>: <message> (<type>)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rc: ")
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.Status))
	if t := http.StatusText(e.Status); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Type != "" && !strings.Contains(e.Message, e.Type) {
		b.WriteString(" (")
		b.WriteString(e.Type)
		b.WriteByte(')')
	}
	if e.RetryAfter > 0 {
		b.WriteString("; retry in ")
		b.WriteString(e.RetryAfter.Round(time.Millisecond).String())
	}
	return b.String()
}

// Is reports whether e matches one of the package's sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests || e.Type == "error-too-many-requests"
	case ErrTOTPRequired:
		return e.Type == "totp-required"
	}
	return false
}

// errorBody is every key of every error shape.
type errorBody struct {
	Error     json.RawMessage `json:"error"`
	ErrorType string          `json:"errorType"`
	Details   json.RawMessage `json:"details"`
	Message   string          `json:"message"`
}

var waitSecondsRE = regexp.MustCompile(`wait (\d+) seconds?`)

// newError builds the *Error for a failed response.
func newError(endpoint string, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{Endpoint: endpoint, Status: status}
	var eb errorBody
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &eb) == nil {
		var errText string
		if len(eb.Error) > 0 {
			var s string
			if json.Unmarshal(eb.Error, &s) == nil {
				errText = s
			} else if string(eb.Error) != "null" {
				errText = string(eb.Error) // a number such as 403
			}
		}
		e.Type = eb.ErrorType
		e.Details = decodeDetails(eb.Details)
		switch {
		case e.Type == "" && errText != "" && eb.Message != "" && eb.Message != errText:
			// Login shape: "error" is a code (string or Meteor's number),
			// "message" the text.
			if _, err := strconv.Atoi(errText); err != nil { // not numeric
				e.Type = errText
			}
			e.Message = eb.Message
		case errText != "":
			e.Message = errText
		default:
			e.Message = eb.Message
		}
	} else if len(trimmed) > 0 {
		e.Message = snippet(trimmed)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if status == http.StatusTooManyRequests {
		e.Reset, e.RetryAfter = rateLimitReset(h, e.Message, now)
	}
	return e
}

// minSecret is the shortest secret redact replaces: a shorter one would
// blank every occurrence of common text (and so show what it is).
const minSecret = 4

// secretForms returns the forms in which each secret (of at least
// minSecret bytes) can appear in a response that echoes the request: as
// it is, JSON-escaped (with and without "<" as \u003c) and HTML-escaped.
func secretForms(secrets []string) []string {
	var forms []string
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		add(s)
		for _, escapeHTML := range []bool{true, false} {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(escapeHTML)
			if enc.Encode(s) == nil {
				q := strings.TrimSuffix(b.String(), "\n")
				add(q[1 : len(q)-1])
			}
		}
		add(html.EscapeString(s))
	}
	return forms
}

// redactBody replaces the secrets' forms in a response body before it is
// read for an error (its snippet cuts and squeezes text, so a secret
// could no longer be found in it).
func redactBody(body []byte, forms []string) []byte {
	for _, f := range forms {
		body = bytes.ReplaceAll(body, []byte(f), []byte("[redacted]"))
	}
	return body
}

// redact replaces the secrets' forms in e's message, type and details'
// strings (decoded from the body's JSON, so unescaped) with "[redacted]".
// A secret is at least minSecret bytes, so a server's code such as
// "totp-required" keeps matching in practice.
func (e *Error) redact(forms []string) {
	if len(forms) == 0 {
		return
	}
	hide := func(t string) string {
		for _, f := range forms {
			t = strings.ReplaceAll(t, f, "[redacted]")
		}
		return t
	}
	e.Message, e.Type = hide(e.Message), hide(e.Type)
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			return hide(v)
		case map[string]any:
			for k, x := range v {
				v[k] = walk(x)
			}
		case []any:
			for i, x := range v {
				v[i] = walk(x)
			}
		}
		return v
	}
	walk(e.Details)
}

// rateLimitReset reads when a rate-limit window resets. X-RateLimit-Reset
// is Unix epoch milliseconds on the server's clock (a value that is plainly
// seconds is taken as seconds). The body's "wait N seconds" text is relative,
// so it is immune to clock skew: it is used when there is no header, and
// wins when the two disagree by more than the text's rounding.
//
// Retry-After (RFC 9110 §10.2.3: delta-seconds or an HTTP-date) is what a
// proxy in front of the server (nginx, Cloudflare) sends; Rocket.Chat itself
// never does (rocketchat-api.md §4). When it comes with the server's own
// reset, the later of the two wins: each is a limiter saying when it lets
// the request through (the proxy's and the server's), so a retry before
// the later one fails again at one of them; and a proxy rarely adds
// Retry-After to the server's 429, so in practice there is only one.
func rateLimitReset(h http.Header, msg string, now time.Time) (time.Time, time.Duration) {
	reset, after := serverReset(h, msg, now)
	if ra, ok := retryAfter(h, now); ok && (reset.IsZero() || ra > after) {
		return now.Add(ra), ra
	}
	return reset, after
}

// serverReset reads Rocket.Chat's own signals: X-RateLimit-Reset and the
// body's "wait N seconds" (see rateLimitReset).
func serverReset(h http.Header, msg string, now time.Time) (time.Time, time.Duration) {
	textAfter := time.Duration(-1)
	if m := waitSecondsRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			textAfter = time.Duration(n) * time.Second
		}
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
			var reset time.Time
			if n < 1e11 { // before 1973 in ms, after 5000 AD in s: seconds
				reset = time.Unix(n, 0)
			} else {
				reset = time.UnixMilli(n)
			}
			after := max(reset.Sub(now), 0)
			if textAfter < 0 || (after-textAfter).Abs() <= maxTextSkew {
				return reset, after
			}
		}
	}
	if textAfter >= 0 {
		return now.Add(textAfter), textAfter
	}
	return time.Time{}, 0
}

// retryAfter reads a Retry-After header: delta-seconds, or an HTTP-date.
// A date is taken relative to the response's Date header when there is
// one (both are on the responder's clock, so skew cancels out), else to
// now. A date in the past is a wait of 0; a value that is neither form is
// ignored.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && n > 0 {
		n, err = maxRetryAfterSeconds, nil // too many digits: a very long wait (RFC 9111 §1.2.2), not none
	}
	if err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, maxRetryAfterSeconds)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	from := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		from = d
	}
	return max(at.Sub(from), 0), true
}

// maxRetryAfterSeconds bounds a delta-seconds Retry-After so that it fits
// a time.Duration; any value near it is far past every wait the client
// accepts (RetryPolicy.MaxRateLimitWait).
const maxRetryAfterSeconds = 1 << 32

// maxTextSkew is how far X-RateLimit-Reset may be from the rounded-up
// "wait N seconds" before the clocks are taken to disagree.
const maxTextSkew = 2 * time.Second

// decodeDetails returns the "details" object; a value of another kind is
// kept under the key "details".
func decodeDetails(raw json.RawMessage) map[string]any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) == nil {
		return m
	}
	var v any
	if json.Unmarshal(raw, &v) == nil {
		return map[string]any{"details": v}
	}
	return nil
}

const snippetLen = 120

// snippet turns a non-JSON body (an HTML error page) into a short,
// printable, single-line text.
func snippet(b []byte) string {
	if t := htmlTitle(b); len(t) > 0 {
		b = t
	}
	var sb strings.Builder
	inTag, space := false, false
	for len(b) > 0 && sb.Len() < snippetLen {
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		switch {
		case r == '<':
			inTag = true
			continue
		case r == '>' && inTag:
			inTag = false
			space = sb.Len() > 0
			continue
		case inTag:
			continue
		case r == utf8.RuneError && size <= 1, r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			continue
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			space = sb.Len() > 0
			continue
		}
		if space {
			sb.WriteByte(' ')
			space = false
		}
		sb.WriteRune(r)
	}
	s := sb.String()
	if len(b) > 0 && s != "" {
		s += "..."
	}
	return s
}

// htmlTitle returns the text of an HTML page's <title>, or nil.
func htmlTitle(b []byte) []byte {
	lower := bytes.ToLower(b[:min(len(b), 4096)])
	i := bytes.Index(lower, []byte("<title>"))
	if i < 0 {
		return nil
	}
	j := bytes.Index(lower[i:], []byte("</title>"))
	if j < 0 {
		return nil
	}
	return bytes.TrimSpace(b[i+len("<title>") : i+j])
}

// successFalse reports whether a 2xx body is a JSON object whose top-level
// "success" is false. It is cheap on large bodies: a full parse happens only
// when the bytes `"success"` followed by false occur somewhere.
func successFalse(body []byte) bool {
	rest := body
	for {
		i := bytes.Index(rest, []byte(`"success"`))
		if i < 0 {
			return false
		}
		rest = rest[i+len(`"success"`):]
		v := bytes.TrimLeft(rest, " \t\r\n")
		if len(v) > 0 && v[0] == ':' && bytes.HasPrefix(bytes.TrimLeft(v[1:], " \t\r\n"), []byte("false")) {
			return topLevelSuccessFalse(body)
		}
	}
}

func topLevelSuccessFalse(body []byte) bool {
	var top struct {
		Success *bool `json:"success"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		return false
	}
	return top.Success != nil && !*top.Success
}

// requestError is a request's failure without an answer of the server (a
// transport failure, a context that ended, a retry wait cut short): err
// is the whole error, whose text names the method and the endpoint;
// RequestOf reads them.
type requestError struct {
	method, endpoint string
	err              error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// failed marks err as a failure of r without the server's answer.
func (r *request) failed(err error) error {
	return &requestError{method: r.method, endpoint: r.endpoint, err: err}
}

// RequestOf returns the method ("GET", "POST") and the endpoint name
// (never a URL or a query) of the request err is a failure of, when no
// answer of the server came: a transport failure, a context that ended
// during the request, a retry wait cut short. ok is false for any other
// error; an *Error has its Endpoint.
func RequestOf(err error) (method, endpoint string, ok bool) {
	var re *requestError
	if errors.As(err, &re) {
		return re.method, re.endpoint, true
	}
	return "", "", false
}

// apiError is a client-side error before any I/O; it exists to give such
// errors one format.
func apiError(endpoint, format string, args ...any) error {
	return fmt.Errorf("rc: %s: "+format, append([]any{endpoint}, args...)...)
}
