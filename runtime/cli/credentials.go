package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/rclua/rclua/rc"
)

// authMode says how the bot authenticates.
type authMode int

const (
	authNone     authMode = iota
	authToken             // RC_USER_ID + RC_TOKEN (personal access token)
	authPassword          // RC_USER + RC_PASSWORD / RC_PASSWORD_FILE (+ RC_TOTP)
)

// credentials are the bot's secrets. String and GoString hide them, so they
// never reach a log line or an error by accident.
type credentials struct {
	mode     authMode
	userID   string
	token    string
	user     string
	password string
	totp     string
}

// String describes the credentials without their secrets.
func (c credentials) String() string {
	switch c.mode {
	case authToken:
		return fmt.Sprintf("personal access token of user id %s", c.userID)
	case authPassword:
		if c.totp != "" {
			return fmt.Sprintf("password login of %s with a TOTP code", c.user)
		}
		return fmt.Sprintf("password login of %s", c.user)
	default:
		return "no credentials"
	}
}

// GoString is String, so %#v hides the secrets too.
func (c credentials) GoString() string { return c.String() }

// fixHint says how to fix the credentials after the server refused them.
func (c credentials) fixHint() string {
	if c.mode == authPassword {
		return "check RC_USER and RC_PASSWORD (or RC_PASSWORD_FILE), and RC_TOTP if the account uses two-factor authentication"
	}
	return "check RC_USER_ID and RC_TOKEN (a personal access token: Account > Personal Access Tokens)"
}

const credentialsHelp = "set RC_USER_ID and RC_TOKEN (a personal access token), or RC_USER and RC_PASSWORD (or RC_PASSWORD_FILE)"

// loadConnection reads the server address and the credentials. flagURL is
// the --url flag ("" when not given); it wins over RC_URL. The returned URL
// has no trailing slash. Every problem found is reported at once (see
// problems): an address and credentials both missing are one problem,
// "nothing configured".
func loadConnection(getenv func(string) string, flagURL string) (string, credentials, error) {
	rawURL := flagURL
	if rawURL == "" {
		rawURL = getenv(envURL)
	}
	creds, credErr := loadCredentials(getenv)
	if rawURL == "" && creds.mode == authNone && credErr == nil {
		return "", credentials{}, usagef("nothing configured: set %s (or --url) to the Rocket.Chat server's address and %s; or try the built-in fake server with: rclua run --dev", envURL, strings.TrimPrefix(credentialsHelp, "set "))
	}
	var u string
	var urlErr error
	if rawURL == "" {
		urlErr = usagef("no server address: set %s (or --url) to the Rocket.Chat server's address, e.g. https://chat.example.com", envURL)
	} else {
		u, urlErr = checkURL(rawURL)
	}
	if credErr == nil && creds.mode == authNone {
		credErr = usagef("no credentials: %s", credentialsHelp)
	}
	if err := problems(urlErr, credErr); err != nil {
		return "", credentials{}, err
	}
	return u, creds, nil
}

// checkURL validates a server address with rc.ParseBaseURL, the one
// validator, plus white space around it and the port's range (url.Parse
// takes :99999 and :0), and explains a refusal: what to write and which
// setting to change. A mistaken address may carry a secret (user:password@, a
// ?token= query), so messages show it only as rc.URLError.Shown does.
func checkURL(raw string) (string, error) {
	const want = "want http(s)://host[:port][/path], e.g. https://chat.example.com"
	if strings.TrimSpace(raw) != raw {
		return "", usagef("server address: %s (or --url) has white space around it (a line break from an env file?): %s", envURL, want)
	}
	base, err := rc.ParseBaseURL(raw)
	var ue *rc.URLError
	if err == nil {
		if why := portProblem(base); why != "" {
			return "", usagef("server address %s: %s: want a port from 1 to 65535, or none (set %s or --url)", base, why, envURL)
		}
		return base, nil
	}
	if !errors.As(err, &ue) {
		return "", err
	}
	shown := ue.Display()
	if why := portProblem(raw); why != "" && ue.Problem == rc.URLSyntax && !ue.Hidden {
		return "", usagef("server address %s: %s: want a port from 1 to 65535, or none (set %s or --url)", shown, why, envURL)
	}
	switch ue.Problem {
	case rc.URLScheme, rc.URLNoHost:
		return "", usagef("server address %s is not a valid URL: %s: %s (set %s or --url)", shown, ue.Reason(), want, envURL)
	case rc.URLCredentials:
		return "", usagef("server address %s must not contain credentials: put them in %s/%s or %s/%s", shown, envUserID, envToken, envUser, envPassword)
	case rc.URLQuery:
		return "", usagef("server address %s must not have a query or a fragment: %s", shown, want)
	case rc.URLAPIPath:
		return "", usagef("server address %s must not end in %s: give the address you open in a browser, e.g. %s (set %s or --url)",
			shown, ue.Suffix, ue.Suggested, envURL)
	default:
		return "", usagef("server address %s is not a valid URL: %s (set %s or --url)", shown, want, envURL)
	}
}

// portProblem says what is wrong with the port of the address raw
// (scheme://host[:port][/path]...), or "" when it has none or a valid one.
func portProblem(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if strings.Contains(rest, "@") {
		return "" // user information: refused for that, never shown
	}
	if i := strings.LastIndex(rest, "]"); i >= 0 {
		rest = rest[i+1:] // after an IPv6 address
	}
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return ""
	}
	port := rest[i+1:]
	if port == "" {
		return "the port after ':' is empty"
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
		return fmt.Sprintf("invalid port %q", port)
	}
	return ""
}

// maxPasswordFile bounds RC_PASSWORD_FILE: a password is a line, and a
// larger file is the wrong file.
const maxPasswordFile = 64 << 10

// checkEnvWord refuses white space in the value of the environment variable
// name (a user id, a token, a username, a code): it cannot be part of one,
// and is usually a line break from an env file. The message names the
// variable, never the value.
func checkEnvWord(name, v string) error {
	if strings.IndexFunc(v, unicode.IsSpace) < 0 {
		return nil
	}
	where := "inside"
	if strings.TrimSpace(v) != v {
		where = "around"
	}
	return usagef("%s has white space %s it (a line break or space from an env file or a copy?): remove it; white space is never part of it", name, where)
}

// checkPassword refuses a password holding a control character: no login
// form takes one, and a line break is usually an env file's.
func checkPassword(source, pw string) error {
	if strings.IndexFunc(pw, unicode.IsControl) < 0 {
		return nil
	}
	return usagef("%s: the password holds a line break or another control character: remove it (%s ignores one final line break)", source, envPasswordFile)
}

// readPasswordFile reads the password in path: a regular file of at most
// maxPasswordFile bytes, one final line break ignored. It never reads
// more than that (a device such as /dev/zero, a pipe or a huge file is
// refused with the path and the reason).
func readPasswordFile(path string) (string, error) {
	if strings.TrimSpace(path) != path {
		return "", usagef("%s has white space around the file name (a line break from an env file?): remove it", envPasswordFile)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", usagef("%s: cannot read the password file: %v", envPasswordFile, err)
	}
	if !fi.Mode().IsRegular() {
		return "", usagef("%s: %s is not a regular file (%s): give the file holding the password", envPasswordFile, path, fileKind(fi.Mode()))
	}
	if fi.Size() > maxPasswordFile {
		return "", usagef("%s: %s is %d bytes, more than a password file holds (at most %d): give the file holding the password", envPasswordFile, path, fi.Size(), maxPasswordFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", usagef("%s: cannot read the password file: %v", envPasswordFile, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", usagef("%s: cannot read the password file %s: %v", envPasswordFile, path, err)
	}
	if len(b) > maxPasswordFile {
		return "", usagef("%s: %s grew past %d bytes while being read: give the file holding the password", envPasswordFile, path, maxPasswordFile)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", usagef("%s: the password file %s is empty", envPasswordFile, path)
	}
	if err := checkPassword(envPasswordFile+" "+path, pw); err != nil {
		return "", err
	}
	return pw, nil
}

// fileKind names the type of a file that is not a regular file.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	default:
		return "not a regular file"
	}
}

// loadCredentials reads the credentials from the environment (and
// RC_PASSWORD_FILE). It returns authNone without error when none is set.
func loadCredentials(getenv func(string) string) (credentials, error) {
	userID, token := getenv(envUserID), getenv(envToken)
	user, password, passwordFile := getenv(envUser), getenv(envPassword), getenv(envPasswordFile)
	totp := getenv(envTOTP)
	tokenSet := userID != "" || token != ""
	passwordSet := user != "" || password != "" || passwordFile != ""
	switch {
	case tokenSet && passwordSet:
		return credentials{}, usagef("both a personal access token (%s/%s) and a password login (%s/%s/%s) are set: keep only one of them", envUserID, envToken, envUser, envPassword, envPasswordFile)
	case tokenSet:
		if userID == "" {
			return credentials{}, usagef("%s is set without %s: set %s to the bot's user id (shown next to the token when it is created)", envToken, envUserID, envUserID)
		}
		if token == "" {
			return credentials{}, usagef("%s is set without %s: set %s to the bot's personal access token", envUserID, envToken, envToken)
		}
		if totp != "" {
			return credentials{}, usagef("%s only applies to a password login (%s + %s): unset it when using %s/%s", envTOTP, envUser, envPassword, envUserID, envToken)
		}
		if err := problems(checkEnvWord(envUserID, userID), checkEnvWord(envToken, token)); err != nil {
			return credentials{}, err
		}
		return credentials{mode: authToken, userID: userID, token: token}, nil
	case passwordSet:
		if user == "" {
			return credentials{}, usagef("a password is set without %s: set %s to the bot's username or email", envUser, envUser)
		}
		if password != "" && passwordFile != "" {
			return credentials{}, usagef("both %s and %s are set: keep only one of them", envPassword, envPasswordFile)
		}
		if password == "" && passwordFile == "" {
			return credentials{}, usagef("%s is set without a password: set %s, or %s to a file holding it", envUser, envPassword, envPasswordFile)
		}
		pwErr := checkPassword(envPassword, password)
		if passwordFile != "" {
			password, pwErr = readPasswordFile(passwordFile)
		}
		if err := problems(checkEnvWord(envUser, user), pwErr, checkEnvWord(envTOTP, totp)); err != nil {
			return credentials{}, err
		}
		return credentials{mode: authPassword, user: user, password: password, totp: totp}, nil
	default:
		if totp != "" {
			return credentials{}, usagef("%s is set without a password login: set %s and %s too", envTOTP, envUser, envPassword)
		}
		return credentials{}, nil
	}
}
