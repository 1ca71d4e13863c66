package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// secretFragment is a URL fragment that must never be echoed.
const secretFragment = "frag-SECRET-42"

// TestCommandRefuses (issue 9, item 12): every flag and variable of run,
// exec and check that takes a value the daemon cannot use well is
// refused, with exit status 2 and a message naming the flag or variable;
// a secret, a URL's fragment or user information is never echoed. One row
// per route.
func TestCommandRefuses(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	script := filepath.Join(scripts, "ok.lua")
	require.NoError(t, os.WriteFile(script, []byte("local x = 1\n"), 0o644))
	files := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(files, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	hugeFile := file("huge", strings.Repeat("x", maxPasswordFile+1))
	twoNewlines := file("two-newlines", secretPassword+"\n\n")

	token := map[string]string{"RC_URL": "https://chat.example.com", "RC_USER_ID": "u1", "RC_TOKEN": secretToken}
	password := map[string]string{"RC_URL": "https://chat.example.com", "RC_USER": "bot", "RC_PASSWORD": secretPassword}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	run := func(args ...string) []string { return append([]string{"run", "--scripts", scripts}, args...) }
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		wants  []string // substrings of the message
		hidden []string // never in the output
	}{
		// Durations: floors, ceilings, zero and negative, in run, exec and check.
		{"poll interval below the floor", token, run("--poll-interval", "1ns"), []string{"--poll-interval 1ns is too short", "at least 1s"}, nil},
		{"poll interval huge", token, run("--poll-interval", "100000h"), []string{"--poll-interval 100000h0m0s is too long", "at most 24h"}, nil},
		{"negative debounce", token, run("--debounce", "-5s"), []string{"--debounce must be a positive duration"}, nil},
		{"zero load timeout", token, run("--load-timeout", "0"), []string{"--load-timeout must be a positive duration"}, nil},
		{"huge shutdown timeout", token, run("--shutdown-timeout", "2562047h"), []string{"--shutdown-timeout", "is too long"}, nil},
		{"dev activity below the floor", nil, run("--dev", "--dev-activity", "1ns"), []string{"--dev-activity 1ns is too short", "at least 100ms"}, nil},
		{"exec timeout zero", token, []string{"exec", "--timeout", "0s", script}, []string{"--timeout must be a positive duration"}, nil},
		{"exec timeout huge", token, []string{"exec", "--timeout", "48h", script}, []string{"--timeout 48h0m0s is too long"}, nil},
		{"check load timeout negative", nil, []string{"check", "--load-timeout", "-1s", script}, []string{"--load-timeout must be a positive duration"}, nil},
		// Memory limit and log level.
		{"memory limit too small", token, run("--memory-limit", "1B"), []string{"--memory-limit 1B is too small", "at least 16MiB", "or off"}, nil},
		{"log level trace", token, run("--log-level", "trace"), []string{`log level "trace"`, "debug, info, warn or error"}, nil},
		{"log level disabled from env", with(token, "RCLUA_LOG_LEVEL", "disabled"), run(), []string{`log level "disabled"`, "RCLUA_LOG_LEVEL"}, nil},
		{"log level as a number", token, run("--log-level", "-1"), []string{`log level "-1"`}, nil},
		// Flags given twice, in each command.
		{"run flag twice", token, run("--poll-interval", "5s", "--poll-interval", "6s"), []string{"run: --poll-interval is given twice"}, nil},
		{"bool flag twice", nil, run("--dev", "--dev"), []string{"run: --dev is given twice"}, nil},
		{"exec flag twice", token, []string{"exec", "--timeout", "5s", "--timeout=6s", script}, []string{"exec: --timeout is given twice"}, nil},
		{"check flag twice", nil, []string{"check", "--load-timeout", "1s", "--load-timeout", "2s", script}, []string{"check: --load-timeout is given twice"}, nil},
		// Commands.
		{"flag before the command", nil, []string{"--dev", "run"}, []string{"--dev before a command: flags go after the command"}, nil},
		{"exec of two files", token, []string{"exec", script, script}, []string{"give exactly one script file"}, nil},
		{"dev addr without a port", nil, run("--dev", "--dev-addr", "localhost"), []string{`--dev-addr "localhost": want host:port`}, nil},
		{"dev addr with a bad port", nil, run("--dev", "--dev-addr", "127.0.0.1:70000"), []string{`--dev-addr "127.0.0.1:70000"`}, nil},
		// Scripts folder.
		{"empty scripts folder name", token, []string{"run", "--scripts", ""}, []string{"the scripts folder's name is empty", "--scripts"}, nil},
		{"scripts folder with a line break", with(token, "RCLUA_SCRIPTS", scripts+"\n"), []string{"run"}, []string{"has white space around it", "RCLUA_SCRIPTS"}, nil},
		{"scripts folder is a file", token, []string{"run", "--scripts", script}, []string{"is not a folder"}, nil},
		// Credentials from the environment: white space, never echoed.
		{"token with a trailing newline", with(token, "RC_TOKEN", secretToken+"\n"), run(), []string{"RC_TOKEN has white space around it"}, []string{secretToken}},
		{"token with a space inside", with(token, "RC_TOKEN", "tok-SECRET 0123456789"), run(), []string{"RC_TOKEN has white space inside it"}, []string{"tok-SECRET"}},
		{"user id with a trailing space", with(token, "RC_USER_ID", "u1 "), run(), []string{"RC_USER_ID has white space around it"}, nil},
		{"user with a trailing newline", with(password, "RC_USER", "bot\n"), run(), []string{"RC_USER has white space around it"}, nil},
		{"TOTP with a space", with(password, "RC_TOTP", " 123456"), run(), []string{"RC_TOTP has white space around it"}, []string{"123456"}},
		{"password with a trailing newline", with(password, "RC_PASSWORD", secretPassword+"\n"), run(), []string{"RC_PASSWORD: the password holds a line break"}, []string{secretPassword}},
		{"user id and token both bad", with(token, "RC_USER_ID", " u1", "RC_TOKEN", secretToken+"\r\n"), run(), []string{"2 configuration problems", "RC_USER_ID has white space", "RC_TOKEN has white space"}, []string{secretToken}},
		// Password files: only regular, small files; one final newline.
		{"password file is a folder", with(password, "RC_PASSWORD", "", "RC_PASSWORD_FILE", files), run(), []string{"RC_PASSWORD_FILE: " + files + " is not a regular file (a folder)"}, nil},
		{"password file is huge", with(password, "RC_PASSWORD", "", "RC_PASSWORD_FILE", hugeFile), run(), []string{"RC_PASSWORD_FILE: " + hugeFile + " is 65537 bytes", "at most 65536"}, nil},
		{"password file with two newlines", with(password, "RC_PASSWORD", "", "RC_PASSWORD_FILE", twoNewlines), run(), []string{"the password holds a line break"}, []string{secretPassword}},
		{"password file name with a newline", with(password, "RC_PASSWORD", "", "RC_PASSWORD_FILE", twoNewlines+"\n"), run(), []string{"RC_PASSWORD_FILE has white space around the file name"}, nil},
		// Server addresses: ports, white space; fragments and user information never echoed.
		{"port too large", with(token, "RC_URL", "https://chat.example.com:99999"), run(), []string{`invalid port "99999"`, "from 1 to 65535", "RC_URL"}, nil},
		{"port not a number", with(token, "RC_URL", "https://chat.example.com:abc/chat"), run(), []string{`invalid port "abc"`, "RC_URL"}, nil},
		{"port zero", with(token, "RC_URL", "http://127.0.0.1:0"), run(), []string{`invalid port "0"`}, nil},
		{"port empty", with(token, "RC_URL", "http://127.0.0.1:"), run(), []string{"the port after ':' is empty"}, nil},
		{"port with a sign", with(token, "RC_URL", "http://127.0.0.1:+80"), run(), []string{`invalid port "+80"`}, nil},
		{"IPv6 with a bad port", with(token, "RC_URL", "http://[::1]:65536"), run(), []string{`invalid port "65536"`}, nil},
		{"bad port and a fragment", with(token, "RC_URL", "https://chat.example.com:abc/#"+secretFragment), run(), []string{"fragment hidden"}, []string{secretFragment}},
		{"fragment", with(token, "RC_URL", "https://chat.example.com/#"+secretFragment), run(), []string{"must not have a query or a fragment", "#(fragment hidden)"}, []string{secretFragment}},
		{"user information and a bad port", with(token, "RC_URL", "https://bot:"+secretPassword+"@chat.example.com:99999"), run(), []string{"must not contain credentials"}, []string{secretPassword}},
		{"URL with a trailing newline", with(token, "RC_URL", "https://chat.example.com\n"), run(), []string{"RC_URL (or --url) has white space around it"}, nil},
		{"--url with a bad port", token, run("--url", "https://chat.example.com:123456"), []string{`invalid port "123456"`}, nil},
		{"--post-limit 0", token, run("--post-limit", "0"), []string{"want a number of messages per minute from 1 to 10000, or off"}, nil},
		{"exec --post-limit too big", token, []string{"exec", "--post-limit", "10001", filepath.Join(scripts, "x.lua")}, []string{"flag -post-limit: want a number of messages per minute"}, nil},
		// Everything wrong at once is reported at once.
		{"every problem at once", with(token, "RC_URL", "https://chat.example.com:0", "RC_TOKEN", secretToken+"\n"),
			[]string{"run", "--scripts", filepath.Join(scripts, "missing"), "--poll-interval", "1ms"},
			[]string{"4 configuration problems", "--poll-interval 1ms is too short", "scripts folder", "does not exist", `invalid port "0"`, "RC_TOKEN has white space"}, []string{secretToken}},
		{"exec: file and configuration", nil, []string{"exec", filepath.Join(scripts, "missing.lua")}, []string{"2 configuration problems", "missing.lua", "nothing configured"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runNow(t, tc.env, tc.args...)
			require.Error(t, res.err, "%s must be refused", tc.name)
			assert.Equal(t, 2, exitCode(res.err, io.Discard), "exit status: %v", res.err)
			for _, want := range tc.wants {
				assert.Contains(t, res.err.Error(), want)
			}
			out := res.err.Error() + res.stdout + res.stderr
			for _, secret := range append(tc.hidden, secretToken, secretPassword, secretFragment) {
				assert.NotContains(t, out, secret, "never echoed")
			}
		})
	}
}

// TestCommandAccepts: the values next to the refused ones still work.
func TestCommandAccepts(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"https://chat.example.com:443", "http://127.0.0.1:65535/chat", "http://[::1]:3000", "http://[::1]", "https://chat.example.com/"} {
		_, err := checkURL(raw)
		assert.NoError(t, err, raw)
	}
	dir := t.TempDir()
	for content, want := range map[string]string{
		"pw\n": "pw", "pw\r\n": "pw", "pw": "pw", "with a space \n": "with a space ",
	} {
		p := filepath.Join(dir, "pw")
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		got, err := readPasswordFile(p)
		require.NoError(t, err, "%q", content)
		assert.Equal(t, want, got, "one final line break is ignored, nothing else")
	}
	creds, err := loadCredentials(envMap(map[string]string{"RC_USER": "bot", "RC_PASSWORD": "correct horse battery staple"}))
	require.NoError(t, err, "a password may hold spaces")
	assert.Equal(t, "correct horse battery staple", creds.password)
	for _, d := range []string{"1s", "24h"} {
		fs, o := runFlags(envMap(nil))
		require.NoError(t, fs.Parse([]string{"--poll-interval", d}))
		assert.NoError(t, checkDurations(durationRule{name: "poll-interval", d: o.pollInterval, min: minPollInterval}), d)
	}
	assert.NoError(t, checkMemoryLimit(16<<20))
	assert.NoError(t, checkMemoryLimit(-1), "off")
}

// runChildIn is runChild in the working directory dir.
func runChildIn(t *testing.T, dir string, env []string, args ...string) (int, string) {
	t.Helper()
	bin := rcluaBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, childEnv(env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "rclua %v did not return: %s", args, out.String())
	var ee *exec.ExitError
	if err != nil {
		require.ErrorAs(t, err, &ee)
		return ee.ExitCode(), out.String()
	}
	return 0, out.String()
}

// TestE2ERefusesFilesThatNeverEnd (issue 9, item 12): through the built
// binary (reading these would hang it or fill its memory): a device or a
// named pipe as the password file, the exec script or a check path is
// refused with its path and kind.
func TestE2ERefusesFilesThatNeverEnd(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.lua")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	scripts := t.TempDir()
	pw := []string{"RC_URL=" + s.URL, "RC_USER=" + rctest.BotUsername}
	tests := []struct {
		name  string
		env   []string
		args  []string
		wants []string
	}{
		{"password file /dev/zero", append(pw, "RC_PASSWORD_FILE=/dev/zero"), []string{"run", "--scripts", scripts}, []string{"RC_PASSWORD_FILE: /dev/zero is not a regular file (a character device)"}},
		{"password file a named pipe", append(pw, "RC_PASSWORD_FILE="+fifo), []string{"run", "--scripts", scripts}, []string{"RC_PASSWORD_FILE: " + fifo + " is not a regular file (a named pipe)"}},
		{"exec /dev/zero", botEnv(s), []string{"exec", "/dev/zero"}, []string{"exec: /dev/zero is not a regular file (a character device)"}},
		{"exec a named pipe", botEnv(s), []string{"exec", fifo}, []string{"exec: " + fifo + " is not a regular file (a named pipe)"}},
		{"check /dev/zero", nil, []string{"check", "/dev/zero"}, []string{"check: /dev/zero is not a regular file (a character device)"}},
		{"check a named pipe", nil, []string{"check", fifo}, []string{"check: " + fifo + " is not a regular file (a named pipe)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := runChildIn(t, dir, tc.env, tc.args...)
			assert.Equal(t, 2, code, "a configuration error: %s", out)
			for _, want := range tc.wants {
				assert.Contains(t, out, want)
			}
		})
	}
}

// TestE2ENothingConfiguredReportsEverything (issue 9, item 12): "rclua
// run" in an empty folder with an empty environment names every missing
// piece in one run: the scripts folder and the server with credentials.
func TestE2ENothingConfiguredReportsEverything(t *testing.T) {
	t.Parallel()
	code, out := runChildIn(t, t.TempDir(), nil, "run")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "rclua: 2 configuration problems:\n")
	assert.Contains(t, out, "\n  - scripts folder ./scripts does not exist: create it or set --scripts (or RCLUA_SCRIPTS)\n")
	assert.Contains(t, out, "\n  - nothing configured: set RC_URL (or --url)")
	assert.Contains(t, out, "RC_USER_ID and RC_TOKEN")
	assert.Contains(t, out, "rclua run --dev")
}

// TestBadAddress: a host that does not exist is a bad address (exit 3);
// a resolver that cannot answer, or a refused connection, is not (4).
func TestBadAddress(t *testing.T) {
	t.Parallel()
	notFound := fmt.Errorf("rc: me: %w", &net.DNSError{Err: "no such host", Name: "rc.example.invalid", IsNotFound: true})
	assert.ErrorContains(t, badAddress(notFound, "http://rc.example.invalid"), "no such host")
	assert.Nil(t, badAddress(fmt.Errorf("rc: me: %w", &net.DNSError{Err: "server misbehaving", Name: "rc.example.com", IsTemporary: true}), "x"))
	assert.Nil(t, badAddress(fmt.Errorf("rc: me: %w", syscall.ECONNREFUSED), "x"))
}

// TestFatalAuthErrorNotRocketChat: JSON of another shape from the login
// check is the wrong address (refused: exit 3, for run too), a body that
// is not JSON (a maintenance page) is retried.
func TestFatalAuthErrorNotRocketChat(t *testing.T) {
	t.Parallel()
	creds := credentials{mode: authToken}
	shape := fmt.Errorf("checking the credentials (me): %w", &rc.ResponseError{Endpoint: "me", Err: &json.UnmarshalTypeError{Value: "array"}})
	assert.ErrorContains(t, fatalAuthError(shape, creds, "http://x"), "does not answer as Rocket.Chat's REST API")
	var page json.RawMessage
	syntax := json.Unmarshal([]byte("<html>"), &page)
	require.Error(t, syntax)
	assert.Nil(t, fatalAuthError(fmt.Errorf("checking the credentials (me): %w", &rc.ResponseError{Endpoint: "me", Err: syntax}), creds, "http://x"))
}
