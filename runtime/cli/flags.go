package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

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
	envEvents       = "RCLUA_EVENTS"
	envSecretsDir   = "RCLUA_SECRETS_DIR"
	// envCredentials is where systemd's LoadCredential= puts the files:
	// the default secrets folder.
	envCredentials = "CREDENTIALS_DIRECTORY"
)

// secretsDirVar registers --secrets-dir: the folder rc.secret reads
// secret files from (env RCLUA_SECRETS_DIR, default $CREDENTIALS_DIRECTORY
// when systemd sets it).
func secretsDirVar(fs *flag.FlagSet, p *string, getenv func(string) string) {
	fs.StringVar(p, "secrets-dir", envOr(getenv, envSecretsDir, getenv(envCredentials)),
		"`folder` of secret files for rc.secret, one file per secret named as the secret; RCLUA_SECRET_<NAME> in the environment wins (env "+envSecretsDir+", default $"+envCredentials+" when systemd sets it)")
}

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
	defaultEvents          = eventsAuto
	defaultCatchUp         = source.DefaultCatchUp
)

// The values of --events.
const (
	eventsAuto     = "auto"     // realtime when the server upgrades to a websocket, else polling
	eventsRealtime = "realtime" // the realtime API only, reconnecting
	eventsPoll     = "poll"     // polling subscriptions.get only
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

// parseFlags parses args, whose flags may come before, between or after
// the arguments (everything after "--" is an argument). On -h/--help it
// prints the usage to stdout and returns flag.ErrHelp (which run turns
// into success); a bad flag, or a flag given twice (the flag package would
// keep the last one silently), is a usage error.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	fs.SetOutput(io.Discard)
	ordered := flagsFirst(fs, args)
	restore := refuseRepeats(fs)
	err := fs.Parse(ordered)
	twice := restore()
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	if err != nil {
		if secret := refuseSecretFlags(fs.Name(), args); secret != nil {
			return secret
		}
		if twice != "" {
			return usagef("%s: --%s is given twice: give each flag once (see rclua %s --help)", fs.Name(), twice, fs.Name())
		}
		return usagef("%s: %v (see rclua %s --help)", fs.Name(), err, fs.Name())
	}
	return nil
}

// flagsFirst returns args with the flags first, then "--" and the
// arguments in their order, so that "rclua reload hello --state-dir S"
// reads as "rclua reload --state-dir S hello" (the flag package stops at
// the first argument, and would take --state-dir for a script's name). A
// flag's value is the next arg unless the flag is boolean or written
// --name=value. After the first argument, only the command's own flags
// are flags: anything else starting with "-" is an argument as before
// ("rclua store get hello -counter" reads the key -counter); before it,
// an unknown flag is left for Parse to report. "-" is an argument
// (standard input).
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil && len(rest) > 0 && name != "h" && name != "help" { // help is asked for anywhere
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if hasValue || f == nil {
			continue
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(rest) == 0 {
		return flags
	}
	return append(append(flags, "--"), rest...)
}

// errRepeated fails the second Set of a flag (see refuseRepeats).
var errRepeated = errors.New("given twice")

// onceValue is a flag's value that refuses a second Set.
type onceValue struct {
	flag.Value
	set, twice bool
}

func (v *onceValue) Set(s string) error {
	if v.set {
		v.twice = true
		return errRepeated
	}
	v.set = true
	return v.Value.Set(s)
}

// IsBoolFlag keeps a boolean flag boolean (--dev takes no value).
func (v *onceValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// refuseRepeats makes every flag of fs refuse a second value until the
// returned restore is called; restore puts the flags' own values back
// (the usage prints them) and returns the name of a flag given twice, or
// "".
func refuseRepeats(fs *flag.FlagSet) (restore func() string) {
	wrapped := map[*flag.Flag]*onceValue{}
	fs.VisitAll(func(f *flag.Flag) {
		w := &onceValue{Value: f.Value}
		wrapped[f], f.Value = w, w
	})
	return func() string {
		twice := ""
		for f, w := range wrapped {
			f.Value = w.Value
			if w.twice {
				twice = f.Name
			}
		}
		return twice
	}
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

// maxDuration bounds every duration flag: a day is beyond any sensible
// poll, timeout or debounce, and far from the overflow of time.Duration
// sums.
const maxDuration = 24 * time.Hour

// durationRule is a duration flag's name, value and floor: min 0 means any
// positive duration; why says what a shorter one would do.
type durationRule struct {
	name string
	d    time.Duration
	min  time.Duration
	why  string
}

// checkDurations checks every duration against its rule and maxDuration,
// and returns every problem found (see problems).
func checkDurations(rules ...durationRule) error {
	var errs []error
	for _, r := range rules {
		switch {
		case r.d <= 0:
			errs = append(errs, usagef("--%s must be a positive duration such as 500ms or 10s, not %v", r.name, r.d))
		case r.d < r.min:
			errs = append(errs, usagef("--%s %v is too short: at least %v (%s)", r.name, r.d, r.min, r.why))
		case r.d > maxDuration:
			errs = append(errs, usagef("--%s %v is too long: at most %v", r.name, r.d, maxDuration))
		}
	}
	return problems(errs...)
}

// memoryFlags is --memory-limit, of run, exec and test.
type memoryFlags struct {
	limit    byteSize // -1: off
	goMemEnv bool     // GOMEMLIMIT is set: Go's soft memory limit is the user's
}

// register adds --memory-limit to fs; stopped says what the watchdog
// stops ("running handlers are").
func (m *memoryFlags) register(fs *flag.FlagSet, getenv func(string) string, stopped string) {
	m.limit = defaultMemoryLimit
	m.goMemEnv = getenv("GOMEMLIMIT") != ""
	fs.Var(&m.limit, "memory-limit", "Go heap `size` above which "+stopped+" stopped (e.g. 512MiB, 2GiB, or off; at least 16MiB)")
}

// apply makes the limit Go's soft memory limit too, unless GOMEMLIMIT
// set one or the watchdog is off, and returns what puts the old one
// back. The GC works harder as the heap nears the limit, so a heap the
// watchdog finds over it is live memory, stopped at once, rather than
// garbage a blocking collection must first rule out while a call keeps
// allocating.
func (m *memoryFlags) apply() (restore func()) {
	if m.limit <= 0 || m.goMemEnv {
		return func() {}
	}
	old := debug.SetMemoryLimit(int64(m.limit))
	return func() { debug.SetMemoryLimit(old) }
}

// minMemoryLimit is the smallest --memory-limit: below it the daemon's own
// heap would pass the limit and every handler would be stopped at once.
const minMemoryLimit = 16 << 20

// checkMemoryLimit refuses a limit below minMemoryLimit ("off" is -1).
func checkMemoryLimit(b byteSize) error {
	if b >= 0 && b < minMemoryLimit {
		return usagef("--memory-limit %s is too small: at least 16MiB (rclua's own heap would pass it and every call would be stopped), or off", b.String())
	}
	return nil
}

// postLimit is --post-limit: how many messages a script may post in a
// minute (at most 10000), or "off" (stored as -1).
type postLimit int

// maxPostLimit bounds --post-limit: past it, a limit bounds nothing.
const maxPostLimit = 10000

func (p *postLimit) String() string {
	if *p < 0 {
		return "off"
	}
	return strconv.Itoa(int(*p))
}

func (p *postLimit) Set(s string) error {
	if s == "off" {
		*p = -1
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxPostLimit {
		return fmt.Errorf("want a number of messages per minute from 1 to %d, or off", maxPostLimit)
	}
	*p = postLimit(n)
	return nil
}

// postLimitVar adds --post-limit to fs, with runtime's default.
func postLimitVar(fs *flag.FlagSet, p *postLimit) {
	*p = runtime.DefaultPostLimit
	fs.Var(p, "post-limit", "messages a script may post per minute, by any route (rc.chat.post_message, msg:reply, rc.post), or off")
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
