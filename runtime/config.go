package runtime

import (
	"time"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/watch"
)

// Config configures a Host. Zero values take the documented defaults.
type Config struct {
	ScriptsDir     string        // folder of *.lua scripts; default "./scripts"
	Debounce       time.Duration // quiet period per file before a reload; default 100ms
	Rescan         time.Duration // periodic full rescan of the folder; default 30s
	LoadTimeout    time.Duration // deadline of a script's top-level run; default 5s
	HandlerTimeout time.Duration // deadline of every handler call; default 30s
	QueueLen       int           // events that could not merge queued per script before the sources wait for it; default 256
	Unsafe         bool          // open the full Lua libraries (trusted setups only)
	// SecretsDir is the folder of secret files rc.secret reads (after the
	// environment's RCLUA_SECRET_<NAME>): the file <name>. Empty: none.
	SecretsDir string
	// ShutdownTimeout bounds how long handlers that are running when Run's
	// context ends may take to finish before they are cancelled; default 10s.
	ShutdownTimeout time.Duration
	// MemoryLimit is the Go heap, in bytes, above which the memory
	// watchdog stops every handler and top-level load running at that
	// moment (they fail with "memory limit exceeded"; the scripts stay
	// loaded) and collects the garbage. The heap is sampled every 25ms while
	// a handler or load runs (not while the host is idle) and garbage is
	// collected before deciding, so one allocation may overshoot the limit.
	// Zero means 1 GiB; a negative value turns the watchdog off.
	MemoryLimit int64
	// BackoffAfter is how many handler calls of a script may fail in a row
	// (errors or deadline stops) before its triggers are paused: 1 minute
	// at first, doubling at each further run of failures up to 1 hour,
	// jittered. A successful call, a reload or Enable resets it. Zero
	// means 5; a negative value turns back-off off.
	BackoffAfter int
	// Disabled names the scripts (file name without ".lua") that start
	// disabled: see Host.Disable.
	Disabled []string
	// PostLimit is how many messages one script may post in a minute, by
	// any route (luabind.PostLimit, kept across the script's reloads);
	// past it its posts return nil, err. Zero means DefaultPostLimit;
	// negative: no limit.
	PostLimit int

	// Unexported knobs, defaulted like the others; tests lower them.
	minEvery   time.Duration                     // smallest rc.every interval; default 1s
	memEvery   time.Duration                     // heap sampling period of the memory watchdog; default 25ms
	aliveEvery time.Duration                     // period of the liveness probe (Host.Alive); default 1s
	memRead    func() uint64                     // the watchdog's heap reading; default the Go heap (tests replace it)
	now        func() time.Time                  // the wall clock of rc.cron and the post limit; default time.Now
	cronWake   time.Duration                     // longest wait of an rc.cron timer before it reads the clock again; default 1m
	timerWoke  func(label string, now time.Time) // called each time an rc.cron timer reads the clock (tests)
	// backoffMin and backoffMax bound a back-off's pause; default 1m and 1h.
	backoffMin, backoffMax time.Duration
}

// Defaults of the Config fields, used when a field is zero.
const (
	DefaultScriptsDir      = "./scripts"
	DefaultDebounce        = watch.DefaultDebounce
	DefaultRescan          = watch.DefaultRescan
	DefaultLoadTimeout     = 5 * time.Second
	DefaultHandlerTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultQueueLen        = 256
	DefaultMemoryLimit     = 1 << 30 // 1 GiB
	DefaultBackoffAfter    = 5
	DefaultPostLimit       = 60
	DefaultBackoffMin      = time.Minute
	DefaultBackoffMax      = time.Hour
)

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.ScriptsDir == "" {
		c.ScriptsDir = DefaultScriptsDir
	}
	def(&c.Debounce, DefaultDebounce)
	def(&c.Rescan, DefaultRescan)
	def(&c.LoadTimeout, DefaultLoadTimeout)
	def(&c.HandlerTimeout, DefaultHandlerTimeout)
	if c.QueueLen <= 0 {
		c.QueueLen = DefaultQueueLen
	}
	def(&c.minEvery, luabind.DefaultMinInterval)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	def(&c.memEvery, 25*time.Millisecond)
	def(&c.aliveEvery, time.Second)
	def(&c.cronWake, time.Minute)
	if c.now == nil {
		c.now = time.Now
	}
	if c.PostLimit == 0 {
		c.PostLimit = DefaultPostLimit
	}
	if c.BackoffAfter == 0 {
		c.BackoffAfter = DefaultBackoffAfter
	}
	def(&c.backoffMin, DefaultBackoffMin)
	def(&c.backoffMax, DefaultBackoffMax)
	c.backoffMax = max(c.backoffMax, c.backoffMin)
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	return c
}

// newPostLimit returns a script's post limit of c (nil: none).
func (c Config) newPostLimit() *luabind.PostLimit {
	if c.PostLimit <= 0 {
		return nil
	}
	return luabind.NewPostLimit(c.PostLimit, time.Minute, c.now)
}
