package rc

import (
	"net/url"
	"strings"
)

// URLProblem says what is wrong with a server address ParseBaseURL refuses.
type URLProblem int

// The problems ParseBaseURL reports.
const (
	URLSyntax      URLProblem = iota + 1 // not a URL at all (or empty)
	URLScheme                            // the scheme is not http or https
	URLNoHost                            // no host
	URLCredentials                       // user information (user:password@): secrets belong elsewhere
	URLQuery                             // a query or a fragment
	URLAPIPath                           // it ends in /api or /api/v1: the API's address, not the server's
)

// URLError is a server address that ParseBaseURL (and so New) refuses.
// Neither its fields nor its message ever hold the address's user
// information or query, which may carry a password or a token.
type URLError struct {
	// Problem says what is wrong.
	Problem URLProblem
	// Shown is the address as it may be shown to a person: the whole input
	// when it is harmless, the part before a query or fragment, or "" when
	// it is empty or Hidden.
	Shown string
	// Hidden reports that the address is not shown at all: it holds an '@'
	// (and so maybe a password).
	Hidden bool
	// Suggested is, for URLAPIPath, the address to give instead: the
	// input without its /api/v1 (or /api) suffix.
	Suggested string
	// Suffix is, for URLAPIPath, the suffix found ("/api/v1" or "/api").
	Suffix string
}

// Error returns "rc: invalid base URL <shown>: <problem>".
func (e *URLError) Error() string {
	return "rc: invalid base URL " + e.Display() + ": " + e.Reason()
}

// Display is Shown for a message: quoted, or a note saying why the address
// is not shown.
func (e *URLError) Display() string {
	switch {
	case e.Hidden:
		return "(hidden: it contains '@')"
	case e.Shown == "":
		return `""`
	}
	return e.Shown
}

// Reason says what is wrong in a few words, without the address.
func (e *URLError) Reason() string {
	switch e.Problem {
	case URLScheme:
		return "the scheme must be http or https"
	case URLNoHost:
		return "it has no host"
	case URLCredentials:
		return "it must not contain credentials"
	case URLQuery:
		return "it must not have a query or a fragment"
	case URLAPIPath:
		return "it must not end in " + e.Suffix + ": give the server's address, e.g. " + e.Suggested
	default:
		return "not a URL of the form http(s)://host[:port][/path]"
	}
}

// ParseBaseURL checks a Rocket.Chat server address, the address a person
// opens in a browser ("https://chat.example.com", or
// "https://example.com/chat" for a server under a sub-path), and returns it
// without trailing slashes. It refuses, with a *URLError, an address that
// is not http(s)://host[:port][/path]: another scheme, no host, user
// information, a query or fragment, or a path ending in /api or /api/v1
// (the REST API's own address: the client adds /api/v1/ itself).
//
// It is the one validator of server addresses in rclua: New calls it, and
// the command explains its errors.
func ParseBaseURL(raw string) (string, error) {
	e := &URLError{}
	e.Shown, e.Hidden = shownURL(raw)
	if strings.TrimSpace(raw) == "" {
		e.Problem = URLSyntax
		return "", e
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		e.Problem = URLSyntax
	case u.Scheme != "http" && u.Scheme != "https":
		e.Problem = URLScheme
	case u.Host == "" || u.Hostname() == "":
		e.Problem = URLNoHost
	case u.User != nil:
		e.Problem = URLCredentials
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		e.Problem = URLQuery
	}
	if e.Problem != 0 {
		return "", e
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	base := u.String()
	for _, suffix := range []string{"/api/v1", "/api"} {
		if strings.HasSuffix(u.Path, suffix) {
			e.Problem, e.Suffix = URLAPIPath, suffix
			e.Suggested = strings.TrimSuffix(base, suffix)
			return "", e
		}
	}
	return base, nil
}

// shownURL is raw as it may be shown: hidden when it holds an '@' (user
// information, maybe a password); else the part before the first '?' or
// '#' (a query or a fragment may hold a token), or raw itself.
func shownURL(raw string) (shown string, hidden bool) {
	if strings.Contains(raw, "@") {
		return "", true
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		if raw[i] == '?' {
			return raw[:i] + "?(query hidden)", false
		}
		return raw[:i] + "#(fragment hidden)", false
	}
	return raw, false
}
