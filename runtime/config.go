package runtime

import (
	"time"
)

// Config configures a Host. Zero values take the documented defaults.
type Config struct {
	ScriptsDir     string        // folder of *.lua scripts; default "./scripts"
	Debounce       time.Duration // quiet period per file before a reload; default 100ms
	Rescan         time.Duration // periodic full rescan of the folder; default 30s
	PollInterval   time.Duration // subscriptions.get poll period; default 10s
	LoadTimeout    time.Duration // deadline of a script's top-level run; default 5s
	HandlerTimeout time.Duration // deadline of every handler call; default 30s
	QueueLen       int           // events queued per script before dropping; default 256
	Unsafe         bool          // open the full Lua libraries (trusted setups only)
	// ShutdownTimeout bounds how long handlers that are running when Run's
	// context ends may take to finish before they are cancelled; default 10s.
	ShutdownTimeout time.Duration

	// Unexported knobs, defaulted like the others; tests lower them.
	minEvery    time.Duration // smallest rc.every interval; default 1s
	pollOverlap time.Duration // overlap window of the poll cursor; default 5s
	maxBackoff  time.Duration // cap of the poll back-off; default 5m
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.ScriptsDir == "" {
		c.ScriptsDir = "./scripts"
	}
	def(&c.Debounce, 100*time.Millisecond)
	def(&c.Rescan, 30*time.Second)
	def(&c.PollInterval, 10*time.Second)
	def(&c.LoadTimeout, 5*time.Second)
	def(&c.HandlerTimeout, 30*time.Second)
	if c.QueueLen <= 0 {
		c.QueueLen = 256
	}
	def(&c.minEvery, time.Second)
	def(&c.pollOverlap, 5*time.Second)
	def(&c.maxBackoff, 5*time.Minute)
	def(&c.ShutdownTimeout, 10*time.Second)
	return c
}
