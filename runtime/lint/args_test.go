package lint

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/sandbox"
)

// TestOptionKindsAgreeWithTheFunctions: for every option of every rc
// function's options table, and a literal of each kind, the check reports
// a wrong kind exactly when the function itself raises for it at run time
// (the check once let {room_id = 42} and {should_react = "yes"} pass, and
// every call failed in the daemon). The functions run in the offline
// module, whose argument checks are the real ones.
func TestOptionKindsAgreeWithTheFunctions(t *testing.T) {
	t.Parallel()
	L := sandbox.New(sandbox.Options{})
	defer L.Close()
	luabind.Offline(zerolog.Nop()).Open(L, nil)
	api := FromState(L, luabind.DefaultMinInterval)
	literals := map[string]string{"string": `"x"`, "number": "1", "boolean": "true", "table": "{}"}
	checked := 0 // calls tried
	for _, fn := range slices.Sorted(func(yield func(string) bool) {
		for k := range callSpecs {
			if !yield(k) {
				return
			}
		}
	}) {
		if strings.Contains(fn, ":") {
			continue // a method needs a message: TestCallArgs and the message tests
		}
		ps := callSpecs[fn]
		for i, p := range ps {
			for _, field := range p.keys {
				for _, lit := range literals {
					args := make([]string, i+1)
					for j := range i {
						args[j] = sample(ps[j])
					}
					// The required options at values they take, then the
					// one tried: an argument error is then the tried one's.
					var opts []string
					if fn == "rc.chat.post_message" && field != "channel" && field != "room_id" {
						opts = append(opts, `channel = "#general"`) // one of the two is required
					}
					for _, k := range p.keys {
						if fp := p.fields[k]; k != field && !fp.optional {
							opts = append(opts, fmt.Sprintf("[%q] = %s", k, sample(fp)))
						}
					}
					opts = append(opts, fmt.Sprintf("[%q] = %s", field, lit))
					args[i] = "{" + strings.Join(opts, ", ") + "}"
					src := fmt.Sprintf("%s(%s)", fn, strings.Join(args, ", "))
					fs, err := api.Check("s.lua", []byte(src))
					require.NoError(t, err, src)
					linted := slices.ContainsFunc(fs, func(f Finding) bool { return f.Kind == KindCallArg })
					runErr := L.DoString(src)
					raised := runErr != nil && strings.Contains(runErr.Error(), "bad argument #")
					assert.Equal(t, raised, linted, "%s: run time %v, check %v", src, runErr, fs)
					checked++
				}
			}
		}
	}
	assert.GreaterOrEqual(t, checked, 100, "the options of the rc functions were tried")
}

// sample is a literal that p takes.
func sample(p param) string {
	switch {
	case p.any, p.kinds["number"]:
		return "1"
	case p.kinds["string"]:
		return `"x"`
	case p.kinds["table"]:
		return "{}"
	case p.kinds["boolean"]:
		return "true"
	case p.kinds["function"]:
		return "function() end"
	}
	return "nil"
}
