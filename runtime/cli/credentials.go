package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
// has no trailing slash.
func loadConnection(getenv func(string) string, flagURL string) (string, credentials, error) {
	rawURL := flagURL
	if rawURL == "" {
		rawURL = getenv(envURL)
	}
	creds, credErr := loadCredentials(getenv)
	if rawURL == "" && creds.mode == authNone && credErr == nil {
		return "", credentials{}, usagef("nothing configured: set %s (or --url) to the Rocket.Chat server's address and %s; or try the built-in fake server with: rclua run --dev", envURL, strings.TrimPrefix(credentialsHelp, "set "))
	}
	if credErr != nil {
		return "", credentials{}, credErr
	}
	if rawURL == "" {
		return "", credentials{}, usagef("no server address: set %s (or --url) to the Rocket.Chat server's address, e.g. https://chat.example.com", envURL)
	}
	u, err := checkURL(rawURL)
	if err != nil {
		return "", credentials{}, err
	}
	if creds.mode == authNone {
		return "", credentials{}, usagef("no credentials for %s: %s", u, credentialsHelp)
	}
	return u, creds, nil
}

// checkURL validates a server address with rc.ParseBaseURL, the one
// validator, and explains a refusal: what to write and which setting to
// change. A mistaken address may carry a secret (user:password@, a
// ?token= query), so messages show it only as rc.URLError.Shown does.
func checkURL(raw string) (string, error) {
	base, err := rc.ParseBaseURL(raw)
	var ue *rc.URLError
	if err == nil || !errors.As(err, &ue) {
		return base, err
	}
	shown := ue.Display()
	const want = "want http(s)://host[:port][/path], e.g. https://chat.example.com"
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
		if passwordFile != "" {
			b, err := os.ReadFile(passwordFile)
			if err != nil {
				return credentials{}, usagef("%s: cannot read the password file: %v", envPasswordFile, err)
			}
			password = strings.TrimRight(string(b), "\r\n")
			if password == "" {
				return credentials{}, usagef("%s: the password file %s is empty", envPasswordFile, passwordFile)
			}
		}
		return credentials{mode: authPassword, user: user, password: password, totp: totp}, nil
	default:
		if totp != "" {
			return credentials{}, usagef("%s is set without a password login: set %s and %s too", envTOTP, envUser, envPassword)
		}
		return credentials{}, nil
	}
}
