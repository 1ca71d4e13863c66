package luabind

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime/sandbox"
)

// secretState is a real sandbox state whose rc.secret gives secrets and
// whose log lines go to the returned buffer.
func secretState(t *testing.T, secrets map[string]string) (run func(src string), logs *syncBuffer) {
	t.Helper()
	L := sandbox.New(sandbox.Options{})
	t.Cleanup(L.Close)
	logs = &syncBuffer{}
	m := Offline(zerolog.New(logs))
	m.Secrets = &Secrets{Lookup: func(name string) (string, error) { return secrets[name], nil }}
	m.Open(L, nil)
	return func(src string) {
		t.Helper()
		require.NoError(t, L.DoString(src))
	}, logs
}

// TestSecretRedactedInEveryForm: a secret's value is redacted from rc.log
// and print however the script carries it: as a number field, in a table
// field, in rc.json.encode's text (not HTML-escaped), in string.format's
// %q, and every line logged stays valid JSON, even with a secret
// as short as one character of JSON.
func TestSecretRedactedInEveryForm(t *testing.T) {
	t.Parallel()
	const odd = `ab<cd"ef&g>h` + "\n\u00e9"
	run, logs := secretState(t, map[string]string{"pin": "4711", "odd": odd, "short": "1"})
	run(`
local pin, odd, short = rc.secret("pin"), rc.secret("odd"), rc.secret("short")
rc.log.info("number", {pin = tonumber(pin), neg = -tonumber(pin), frac = tonumber(pin) + 0.5})
rc.log.info("table", {t = {odd, {odd = odd, [odd] = 1, n = tonumber(pin)}}})
rc.log.info("json " .. rc.json.encode({v = odd}), {j = rc.json.encode(odd)})
rc.log.info(string.format("q %q", odd), {q = string.format("%q", odd)})
print("print", rc.json.encode({odd}), string.format("%q", odd))
rc.log.info("short", {t = {a = 1, b = "x1y", c = {1, 2, 11}}})
`)
	lines := logs.lines()
	require.Len(t, lines, 6)
	out := strings.Join(lines, "\n")
	for _, leak := range []string{"4711", "ab<cd", `ab\u003ccd`, `cd\"ef`, `cd\\\"ef`, "h\\\n", "g>h", `g\u003eh`} {
		assert.NotContains(t, out, leak)
	}
	for _, line := range lines {
		var v map[string]any
		assert.NoError(t, json.Unmarshal([]byte(line), &v), "valid JSON: %s", line)
		assert.Contains(t, line, Redacted)
	}
	assert.Contains(t, lines[0], `"pin":"[redacted]"`, "a number field holding a secret")
	assert.Contains(t, lines[0], `"neg":"-[redacted]"`)
	assert.Contains(t, lines[1], `"n":"[redacted]"`, "a number inside a table field")
	assert.Contains(t, lines[5], `"b":"x[redacted]y"`, "a short secret is redacted in the decoded values")
	assert.Contains(t, lines[5], `"a":"[redacted]"`)
}

// TestSecretRedactionLeavesOtherValues: without a secret handed out,
// fields log as they are (numbers as numbers, tables as their JSON).
func TestSecretRedactionLeavesOtherValues(t *testing.T) {
	t.Parallel()
	run, logs := secretState(t, map[string]string{})
	run(`rc.log.info("x", {n = 4711, t = {a = "<b>", list = {1, 2}}})`)
	lines := logs.lines()
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `"n":4711`)
	assert.Contains(t, lines[0], `"t":{"a":"<b>","list":[1,2]}`)
}

// TestSecretRedactedWhereTextWasCut: text cut short before redaction
// (luajson.Clip's 64 bytes, a clipped error value) keeps no beginning of
// a secret before the cut's "...", in any of its forms; other text before
// a "..." is left alone.
func TestSecretRedactedWhereTextWasCut(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	s := &Secrets{}
	s.remember(jwt)
	s.remember(`q"uote` + strings.Repeat("z", 20))
	for _, tc := range []struct{ in, want string }{
		{"unknown option \"" + jwt[:50] + "...\"", "unknown option \"" + Redacted + "...\""},
		{"x = " + jwt[:60] + "... (truncated)", "x = " + Redacted + "... (truncated)"},
		{"a " + jwt + " b " + jwt[:10] + "...", "a " + Redacted + " b " + Redacted + "..."},
		{`{t = "q\"uotezz...}`, `{t = "` + Redacted + `...}`}, // a quoted form's beginning
		{"loading...", "loading..."},
		{jwt[:3] + "...", jwt[:3] + "..."}, // shorter than minCut
		{"eyJ... and " + jwt[:20] + "... and done...", "eyJ... and " + Redacted + "... and done..."},
	} {
		assert.Equal(t, tc.want, s.Redact(tc.in), tc.in)
	}
	run, logs := secretState(t, map[string]string{"jwt": jwt})
	run(`
local jwt = rc.secret("jwt")
local ok, err = pcall(rc.chat.post_message, {[jwt] = 1})
rc.log.info(err)
local ok2, err2 = pcall(rc.every, "x" .. jwt, function() end)
rc.log.info(tostring(err2))
`)
	out := strings.Join(logs.lines(), "\n")
	assert.NotContains(t, out, jwt[:12], "no beginning of the secret in a clipped key or value")
	assert.Equal(t, 2, strings.Count(out, Redacted), out)
}
