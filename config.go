package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/source"
)

// Environment variables read by rclua. Secrets are read from here (or from
// the file RC_PASSWORD_FILE names) and never from flags.
const (
	envURL          = "RC_URL"
	envUserID       = "RC_USER_ID"
	envToken        = "RC_TOKEN"
	envUser         = "RC_USER"
	envPassword     = "RC_PASSWORD"
	envPasswordFile = "RC_PASSWORD_FILE"
	envTOTP         = "RC_TOTP"
	envScripts      = "RCLUA_SCRIPTS"
	envLogLevel     = "RCLUA_LOG_LEVEL"
	envLogFormat    = "RCLUA_LOG_FORMAT"
)

// Defaults of the daemon's flags: runtime's own, and the --dev ones.
const (
	defaultScripts         = runtime.DefaultScriptsDir
	defaultPollInterval    = source.DefaultPollInterval
	defaultDebounce        = runtime.DefaultDebounce
	defaultLoadTimeout     = runtime.DefaultLoadTimeout
	defaultHandlerTimeout  = runtime.DefaultHandlerTimeout
	defaultShutdownTimeout = runtime.DefaultShutdownTimeout
	defaultMemoryLimit     = byteSize(runtime.DefaultMemoryLimit)
	defaultDevPollInterval = 2 * time.Second
	defaultDevActivity     = 3 * time.Second
)

// newFlagSet returns a flag set whose usage prints help and the flags.
func newFlagSet(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args. On -h/--help it prints the usage to stdout and
// returns flag.ErrHelp (which run turns into success); a bad flag is a
// usage error.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		if secret := refuseSecretFlags(fs.Name(), args); secret != nil {
			return secret
		}
		return usagef("%s: %v (see rclua %s --help)", fs.Name(), err, fs.Name())
	}
	return nil
}

// refuseSecretFlags explains a failed parse caused by a flag that people
// try for the credentials (--token, --password, ...): it names the
// environment variable to set instead. Secrets are never flags: they would
// show in ps and in the shell's history. It returns nil when no such flag
// is among args.
func refuseSecretFlags(cmd string, args []string) error {
	for _, arg := range args {
		if arg == "--" {
			return nil // the flags end here
		}
		if !strings.HasPrefix(arg, "-") {
			continue // a flag's value or an argument
		}
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if env := secretEnv(name); env != "" {
			return usagef("%s: --%s: secrets are never flags (they would show in ps and the shell history): set %s in the environment instead (see rclua %s --help)", cmd, name, env, cmd)
		}
	}
	return nil
}

// secretEnv is the environment variable for a would-be secret flag, or "".
func secretEnv(flagName string) string {
	switch flagName {
	case "token", "auth-token", "rc-token":
		return envToken
	case "user-id", "userid":
		return envUserID
	case "user", "username":
		return envUser
	case "password", "pass":
		return envPassword
	case "password-file":
		return envPasswordFile
	case "totp", "otp", "2fa":
		return envTOTP
	}
	return ""
}

// flagWasSet reports whether the named flag was given on the command line.
func flagWasSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// envOr returns getenv(key), or def when it is empty.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

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
	shown := ue.Shown
	if shown == "" {
		shown = "(hidden: it contains '@')"
	}
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

// durationValue is a time.Duration flag whose parse error says what to
// write: the flag package's own says only "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a Go duration such as 500ms, 10s or 5m")
	}
	*d = durationValue(v)
	return nil
}

// durationVar defines a duration flag like fs.DurationVar, with a clearer
// parse error. usage names its value type in backquotes (`duration`).
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

// namedDuration is a duration flag's name and value.
type namedDuration struct {
	name string
	d    time.Duration
}

// positive checks that every duration is > 0.
func positive(ds ...namedDuration) error {
	for _, nd := range ds {
		if nd.d <= 0 {
			return usagef("--%s must be a positive duration such as 500ms or 10s, not %v", nd.name, nd.d)
		}
	}
	return nil
}

// byteSize is a size flag: a number with a unit (KiB, MiB, GiB; KB, MB,
// GB; B), or "off" for no limit, which it stores as -1.
type byteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v < 0:
		return "off"
	case v >= 1<<30 && v%(1<<30) == 0:
		return strconv.FormatInt(v>>30, 10) + "GiB"
	case v >= 1<<20 && v%(1<<20) == 0:
		return strconv.FormatInt(v>>20, 10) + "MiB"
	default:
		return strconv.FormatInt(v, 10) + "B"
	}
}

func (b *byteSize) Set(s string) error {
	if s == "off" {
		*b = -1
		return nil
	}
	for _, u := range byteUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64/u.mult {
			break
		}
		*b = byteSize(n * u.mult)
		return nil
	}
	return errors.New("want a size such as 512MiB or 2GiB, or off")
}
