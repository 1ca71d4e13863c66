package luabind

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	lua "github.com/yuin/gopher-lua"
)

// TestParseDuration: seconds, Go durations and whole days read the same
// way everywhere; what is not a duration, or is too long to be one (by
// days, by hours, by seconds, NaN), is an error naming the value.
func TestParseDuration(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	for in, want := range map[lua.LValue]time.Duration{
		lua.LNumber(90):                      90 * time.Second,
		lua.LNumber(0.5):                     500 * time.Millisecond,
		lua.LNumber(-2):                      -2 * time.Second,
		lua.LString("90s"):                   90 * time.Second,
		lua.LString("1h30m"):                 90 * time.Minute,
		lua.LString("-5m"):                   -5 * time.Minute,
		lua.LString("2d"):                    2 * day,
		lua.LString("1d12h"):                 36 * time.Hour,
		lua.LString("7d30m10s"):              7*day + 30*time.Minute + 10*time.Second,
		lua.LString("36500d"):                36500 * day,
		lua.LString("0d"):                    0,
		lua.LString("876000h"):               876000 * time.Hour,
		lua.LNumber(3153600000):              3153600000 * time.Second,
		lua.LString("1.5h"):                  90 * time.Minute,
		lua.LString("100ms"):                 100 * time.Millisecond,
		lua.LString("0"):                     0,
		lua.LString("1d0s"):                  day,
		lua.LString("3d1h1m1s"):              3*day + time.Hour + time.Minute + time.Second,
		lua.LString("10d2m"):                 10*day + 2*time.Minute,
		lua.LString("1d500ms"):               day + 500*time.Millisecond,
		lua.LString("2d1.5h"):                2*day + 90*time.Minute,
		lua.LString("12h"):                   12 * time.Hour,
		lua.LString("1d1d"):                  -1, // marker: error (see below)
		lua.LString("d"):                     -1,
		lua.LString("2 d"):                   -1,
		lua.LString("1d-5m"):                 -1,
		lua.LString("1d+5m"):                 -1,
		lua.LString("-1d"):                   -1,
		lua.LString("1.5d"):                  -1,
		lua.LString("soon"):                  -1,
		lua.LString(""):                      -1,
		lua.LString("36501d"):                -1,
		lua.LString("876001h"):               -1,
		lua.LString("1d876000h"):             -1,
		lua.LString("99999999999999999999d"): -1,
		lua.LNumber(3153600001):              -1,
		lua.LNumber(math.NaN()):              -1,
		lua.LNumber(math.Inf(1)):             -1,
		lua.LNumber(math.Inf(-1)):            -1,
		lua.LTrue:                            -1,
	} {
		got, err := ParseDuration(in, "ttl")
		if want == -1 {
			assert.Error(t, err, "%v", in)
			if err != nil {
				assert.Contains(t, err.Error(), "ttl", "the error names what it reads")
			}
			continue
		}
		if assert.NoError(t, err, "%v", in) {
			assert.Equal(t, want, got, "%v", in)
		}
	}
}

// TestParseDurationSaysWhy: a duration too long for the limit says so;
// one that is no duration says what would be.
func TestParseDurationSaysWhy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"36501d":                `ttl "36501d" is out of range: at most 100 years`,
		"99999999999999999999d": `ttl "99999999999999999999d" is out of range`,
		"2562048h":              `ttl "2562048h" is out of range`,
		"876001h":               `ttl "876001h" is out of range`,
		"36500d1ns":             `ttl "36500d1ns" is out of range`,
		"1d99999999999h":        `ttl "1d99999999999h" is out of range`,
		"soon":                  `bad ttl "soon": want a duration such as "90s", "5m", "1h30m", "2d" or a number of seconds (10, not "10")`,
		"1d1d":                  `bad ttl "1d1d": want`,
		"1d-5m":                 `bad ttl "1d-5m": want`,
		"5 minutes":             `bad ttl "5 minutes": want`,
	} {
		_, err := ParseDuration(lua.LString(in), "ttl")
		if assert.Error(t, err, in) {
			assert.Contains(t, err.Error(), want, in)
		}
	}
}
