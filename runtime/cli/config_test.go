package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

const (
	secretToken    = "tok-SECRET-0123456789"
	secretPassword = "pw-SECRET-hunter2"
)

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	scripts := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(secretPassword+"\n"), 0o600))
	emptyFile := filepath.Join(t.TempDir(), "empty")
	require.NoError(t, os.WriteFile(emptyFile, nil, 0o600))
	token := map[string]string{"RC_URL": "https://chat.example.com", "RC_USER_ID": "u1", "RC_TOKEN": secretToken}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		wants []string // substrings of the error
	}{
		{"nothing set", nil, nil, []string{"nothing configured", "RC_URL", "RC_USER_ID", "RC_TOKEN", "RC_USER", "RC_PASSWORD", "--dev"}},
		{"both token and password", with(token, "RC_USER", "bot", "RC_PASSWORD", secretPassword), nil, []string{"both a personal access token", "keep only one"}},
		{"token and password file", with(token, "RC_USER", "bot", "RC_PASSWORD_FILE", pwFile), nil, []string{"both a personal access token"}},
		{"bad URL scheme", with(token, "RC_URL", "ftp://chat.example.com"), nil, []string{"not a valid URL", "http or https", "RC_URL"}},
		{"bad URL syntax", with(token, "RC_URL", "http://[::1"), nil, []string{"not a valid URL", "RC_URL"}},
		{"URL without host", with(token, "RC_URL", "https://"), nil, []string{"no host"}},
		{"URL with credentials", with(token, "RC_URL", "https://bot:"+secretPassword+"@chat.example.com"), nil, []string{"must not contain credentials"}},
		{"bad --url flag", token, []string{"--url", "chat.example.com"}, []string{"not a valid URL"}},
		{"user without password", with(token, "RC_USER_ID", "", "RC_TOKEN", "", "RC_USER", "bot"), nil, []string{"RC_USER is set without a password", "RC_PASSWORD", "RC_PASSWORD_FILE"}},
		{"password without user", with(token, "RC_USER_ID", "", "RC_TOKEN", "", "RC_PASSWORD", secretPassword), nil, []string{"without RC_USER"}},
		{"password and password file", with(token, "RC_USER_ID", "", "RC_TOKEN", "", "RC_USER", "bot", "RC_PASSWORD", secretPassword, "RC_PASSWORD_FILE", pwFile), nil, []string{"both RC_PASSWORD and RC_PASSWORD_FILE"}},
		{"unreadable password file", with(token, "RC_USER_ID", "", "RC_TOKEN", "", "RC_USER", "bot", "RC_PASSWORD_FILE", pwFile+".missing"), nil, []string{"RC_PASSWORD_FILE", "cannot read"}},
		{"empty password file", with(token, "RC_USER_ID", "", "RC_TOKEN", "", "RC_USER", "bot", "RC_PASSWORD_FILE", emptyFile), nil, []string{"is empty"}},
		{"token without user id", with(token, "RC_USER_ID", ""), nil, []string{"RC_TOKEN is set without RC_USER_ID"}},
		{"user id without token", with(token, "RC_TOKEN", ""), nil, []string{"RC_USER_ID is set without RC_TOKEN"}},
		{"TOTP with a token", with(token, "RC_TOTP", "123456"), nil, []string{"RC_TOTP only applies"}},
		{"no URL", with(token, "RC_URL", ""), nil, []string{"no server address", "RC_URL"}},
		{"no credentials", map[string]string{"RC_URL": "https://chat.example.com"}, nil, []string{"no credentials", "RC_USER_ID", "RC_TOKEN"}},
		{"bad duration", token, []string{"--poll-interval", "soon"}, []string{"poll-interval", "invalid value", "want a Go duration such as 500ms"}},
		{"duration without a unit", token, []string{"--shutdown-timeout", "10"}, []string{"shutdown-timeout", "want a Go duration such as 500ms"}},
		{"URL with a query", with(token, "RC_URL", "https://chat.example.com/?token="+secretToken), nil, []string{"must not have a query", "query hidden"}},
		{"URL ending in /api/v1", with(token, "RC_URL", "https://chat.example.com/rc/api/v1/"), nil, []string{"must not end in /api/v1", "https://chat.example.com/rc ", "RC_URL"}},
		{"URL ending in /api", with(token, "RC_URL", "https://chat.example.com/api"), nil, []string{"must not end in /api", "e.g. https://chat.example.com "}},
		{"bad memory limit", token, []string{"--memory-limit", "lots"}, []string{"memory-limit", "want a size such as 512MiB"}},
		{"memory limit without a unit", token, []string{"--memory-limit", "512"}, []string{"memory-limit", "want a size such as 512MiB"}},
		{"zero duration", token, []string{"--handler-timeout", "0s"}, []string{"--handler-timeout must be a positive duration"}},
		{"bad log level", token, []string{"--log-level", "loud"}, []string{"log level", "loud"}},
		{"bad log level from env", with(token, "RCLUA_LOG_LEVEL", "loud"), nil, []string{"log level", "RCLUA_LOG_LEVEL"}},
		{"bad log format", token, []string{"--log-format", "xml"}, []string{"log format", "json or console"}},
		{"dev with url", nil, []string{"--dev", "--url", "https://chat.example.com"}, []string{"--dev and --url contradict"}},
		{"dev-addr without dev", token, []string{"--dev-addr", "127.0.0.1:0"}, []string{"--dev-addr needs --dev"}},
		{"stray argument", token, []string{"extra"}, []string{"unexpected argument"}},
		{"token as a flag", token, []string{"--token=" + secretToken}, []string{"--token: secrets are never flags", "set RC_TOKEN in the environment"}},
		{"password as a flag", token, []string{"-password", secretPassword}, []string{"--password: secrets are never flags", "set RC_PASSWORD"}},
		{"user as a flag", token, []string{"--user", "bot"}, []string{"set RC_USER "}},
		{"missing scripts folder", token, []string{"--scripts", filepath.Join(scripts, "nope")}, []string{"scripts folder", "does not exist", "--scripts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run"}, tc.args...)
			if !slices.Contains(tc.args, "--scripts") {
				args = append([]string{"run", "--scripts", scripts}, tc.args...)
			}
			res := runNow(t, tc.env, args...)
			require.Error(t, res.err, "config %s must be refused", tc.name)
			for _, want := range tc.wants {
				assert.Contains(t, res.err.Error(), want, "message for %s", tc.name)
			}
			assert.Equal(t, 2, exitCode(res.err, io.Discard), "exit status for %s", tc.name)
			for _, secret := range []string{secretToken, secretPassword} {
				assert.NotContains(t, res.err.Error()+res.stderr+res.stdout, secret, "secret leaked for %s", tc.name)
			}
		})
	}
}

func TestUsageAndHelp(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"run", "exec", "check", "version"} {
		res := runNow(t, nil, cmd, "--help")
		assert.NoError(t, res.err, "%s --help", cmd)
		assert.Contains(t, res.stdout, "rclua "+cmd, "%s --help prints its usage", cmd)
	}
	res := runNow(t, nil, "run", "--help")
	for _, flag := range []string{"-url", "-scripts", "-poll-interval", "-debounce", "-load-timeout", "-handler-timeout", "-shutdown-timeout", "-log-level", "-log-format", "-dev", "-dev-addr", "-memory-limit"} {
		assert.Contains(t, res.stdout, flag, "run --help lists %s", flag)
	}
	for _, secretFlag := range []string{"-token", "-password"} {
		assert.NotContains(t, res.stdout, secretFlag+" ", "secrets are never flags")
	}

	res = runNow(t, nil)
	assert.Equal(t, 2, exitCode(res.err, io.Discard), "no command")
	res = runNow(t, nil, "frobnicate")
	assert.Equal(t, 2, exitCode(res.err, io.Discard), "unknown command")
	assert.ErrorContains(t, res.err, `unknown command "frobnicate"`)

	res = runNow(t, nil, "version")
	require.NoError(t, res.err)
	assert.Equal(t, "rclua "+versionString()+"\n", res.stdout)
	assert.Equal(t, "rclua/"+versionString(), userAgent())
}

func TestCheckUsage(t *testing.T) {
	t.Parallel()
	res := runNow(t, nil, "check")
	assert.Equal(t, 2, exitCode(res.err, io.Discard), "check without paths")
	res = runNow(t, nil, "exec")
	assert.Equal(t, 2, exitCode(res.err, io.Discard), "exec without a file")
	res = runNow(t, nil, "exec", t.TempDir())
	assert.Equal(t, 2, exitCode(res.err, io.Discard), "exec of a folder")
}

func TestCredentialsNeverPrinted(t *testing.T) {
	t.Parallel()
	c := credentials{mode: authToken, userID: "u1", token: secretToken}
	p := credentials{mode: authPassword, user: "bot", password: secretPassword, totp: "123456"}
	for _, s := range []string{c.String(), c.GoString(), p.String(), p.GoString()} {
		assert.NotContains(t, s, secretToken)
		assert.NotContains(t, s, secretPassword)
		assert.NotContains(t, s, "123456")
	}
	assert.NotContains(t, fmtAll(c, p), secretToken)
	assert.NotContains(t, fmtAll(c, p), secretPassword)
}

func fmtAll(vs ...any) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(fmt.Sprintf("%v %+v %#v %s", v, v, v, v))
	}
	return b.String()
}

// TestRefusedCredentials: a 401 at start is a clear fatal error naming what
// to check, without the secret.
func TestRefusedCredentials(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	env := map[string]string{"RC_URL": s.URL, "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": secretToken}
	res := runNow(t, env, "run", "--scripts", t.TempDir())
	require.Error(t, res.err)
	assert.Contains(t, res.err.Error(), "401")
	assert.Contains(t, res.err.Error(), "RC_TOKEN")
	assert.Equal(t, 3, exitCode(res.err, io.Discard), "refused credentials: exit 3, not restarted by systemd")
	assert.NotContains(t, res.err.Error()+res.stderr, secretToken)

	env = map[string]string{"RC_URL": s.URL, "RC_USER": rctest.BotUsername, "RC_PASSWORD": secretPassword}
	res = runNow(t, env, "run", "--scripts", t.TempDir())
	require.Error(t, res.err)
	assert.Contains(t, res.err.Error(), "RC_PASSWORD")
	assert.NotContains(t, res.err.Error()+res.stderr, secretPassword)
	assert.Equal(t, 3, exitCode(res.err, io.Discard), "refused password")

	// A URL with a path where no Rocket.Chat API answers (404) is a wrong
	// RC_URL, not a refused login.
	env = map[string]string{"RC_URL": s.URL + "/chat", "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": rctest.BotToken}
	res = runNow(t, env, "run", "--scripts", t.TempDir())
	require.Error(t, res.err)
	assert.Contains(t, res.err.Error(), "no Rocket.Chat REST API at "+s.URL+"/chat")
	assert.Contains(t, res.err.Error(), "check RC_URL")
	assert.NotContains(t, res.err.Error(), "login", "a 404 is no refused login")
	assert.Equal(t, 3, exitCode(res.err, io.Discard), "wrong address")
}

// startRun runs "rclua run" in the background; stop cancels it and returns
// its error.
func startRun(t *testing.T, env map[string]string, args ...string) (logs *syncBuffer, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"run", "--log-format", "json"}, args...), envMap(env), io.Discard, logs)
	}()
	var once bool
	var result error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				result = errors.New("run did not return after cancel")
			}
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return logs, stop
}

// TestPasswordLogin logs in with RC_USER/RC_PASSWORD_FILE, starts, and logs
// out at shutdown (a login session, unlike a token, is ended).
func TestPasswordLogin(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte(rctest.BotPassword+"\n"), 0o600))
	env := map[string]string{"RC_URL": s.URL + "/", "RC_USER": rctest.BotUsername, "RC_PASSWORD_FILE": pwFile}
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, "rclua started", 10*time.Second)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), `"user":"`+rctest.BotUsername+`"`)
	assert.NotContains(t, logs.String(), rctest.BotPassword)
	var endpoints []string
	for _, r := range s.Requests() {
		endpoints = append(endpoints, r.Endpoint)
	}
	assert.Contains(t, endpoints, "login")
	assert.Contains(t, endpoints, "logout", "a password session is logged out at shutdown")
}

// TestTokenNeverLoggedOut: a personal access token must survive shutdown.
func TestTokenNeverLoggedOut(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	env := map[string]string{"RC_URL": s.URL, "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": rctest.BotToken}
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, "rclua started", 10*time.Second)
	require.NoError(t, stop())
	for _, r := range s.Requests() {
		assert.NotEqual(t, "logout", r.Endpoint, "logout would delete the token")
	}
	assert.NotContains(t, logs.String(), rctest.BotToken)
}

// TestUnreachableServerRetried: the daemon keeps trying an unreachable
// server with backoff and starts once it answers.
func TestUnreachableServerRetried(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	// The client itself retries a GET up to 3 times; fail more often than
	// that so the start-up loop has to retry.
	s.Fault("me", rctest.Fault{DropConnection: true, Times: 4})
	env := map[string]string{"RC_URL": s.URL, "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": rctest.BotToken}
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, "cannot reach the Rocket.Chat server; retrying", 10*time.Second)
	waitForText(t, logs, "rclua started", 15*time.Second)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "reached the server")
}

// TestUnreachableServerStopsOnSignal: stopping while the server is down is
// a clean exit.
func TestUnreachableServerStopsOnSignal(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	url := s.URL
	s.Close() // nothing listens there any more
	env := map[string]string{"RC_URL": url, "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": rctest.BotToken}
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, `"attempt":1`, 10*time.Second)
	assert.NoError(t, stop(), "a stop while retrying exits cleanly")
}

// TestTOTPLogin: an account with two-factor needs RC_TOTP; with it, the
// daemon starts.
func TestTOTPLogin(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	s.SetTOTP(rctest.BotUsername, "424242")
	env := map[string]string{"RC_URL": s.URL, "RC_USER": rctest.BotUsername, "RC_PASSWORD": rctest.BotPassword}
	res := runNow(t, env, "run", "--scripts", t.TempDir())
	require.Error(t, res.err, "no code")
	assert.Contains(t, res.err.Error(), "set RC_TOTP")
	assert.Equal(t, 3, exitCode(res.err, io.Discard))

	env["RC_TOTP"] = "424242"
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, "rclua started", 10*time.Second)
	require.NoError(t, stop())
	assert.NotContains(t, logs.String(), "424242", "the code is a secret too")
}

func TestLoggerFormats(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log, err := logFlags{level: "info", format: ""}.newLogger(&buf)
	require.NoError(t, err)
	log.Debug().Msg("hidden")
	log.Info().Str("k", "v").Msg("shown")
	assert.NotContains(t, buf.String(), "hidden", "below the level")
	assert.Contains(t, buf.String(), `"message":"shown"`, "JSON when not a terminal")

	var con syncBuffer
	log, err = logFlags{level: "DEBUG", format: "console"}.newLogger(&con)
	require.NoError(t, err)
	log.Debug().Str("k", "v").Msg("readable")
	assert.Contains(t, con.String(), "DBG readable k=v")
	assert.NotContains(t, con.String(), "{")
	assert.False(t, isTerminal(&con))
}

// TestEmptyScriptsFolderHint: a daemon started on an empty folder says
// what to do instead of idling silently.
func TestEmptyScriptsFolderHint(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP and the default admin port
	s := rctest.NewServer()
	defer s.Close()
	env := map[string]string{"RC_URL": s.URL, "RC_USER_ID": rctest.BotUserID, "RC_TOKEN": rctest.BotToken}
	logs, stop := startRun(t, env, "--scripts", t.TempDir())
	waitForText(t, logs, "rclua started", 10*time.Second)
	require.NoError(t, stop())
	assert.Contains(t, logs.String(), "no *.lua scripts in the scripts folder yet: add one there")
}

func TestByteSizeFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "2GiB": 2 << 30, "64KiB": 64 << 10, "1GB": 1e9, "300MB": 300e6, "4096B": 4096, "off": -1,
	} {
		var b byteSize
		require.NoError(t, b.Set(in), in)
		assert.Equal(t, want, int64(b), in)
	}
	for _, in := range []string{"", "1", "0MiB", "-1GiB", "1.5GiB", "GiB", "9999999999999GiB", "1TiB"} {
		var b byteSize
		assert.Error(t, b.Set(in), "%q is refused", in)
	}
	for in, want := range map[byteSize]string{1 << 30: "1GiB", 512 << 20: "512MiB", 1000: "1000B", -1: "off"} {
		assert.Equal(t, want, in.String())
	}
}

// TestConsoleEscape: the console's escaping, rune by rune: controls,
// format characters, private use above U+FFFF (a surrogate pair in JSON)
// and bytes that are not UTF-8; letters of any script stay.
func TestConsoleEscape(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "café 日本 ok", consoleEscape("café 日本 ok", false, false), "readable text untouched")
	assert.Equal(t, `a\tb\n\r\x1b\x7f\u009b\u202e\U000f0000\xff`, consoleEscape("a\tb\n\r\x1b\x7f\u009b\u202e\U000f0000\xff", false, false))
	assert.Equal(t, "a\tb\\n", consoleEscape("a\tb\n", true, false), "keepTab")
	assert.Equal(t, `"\u007f\u202e\udb80\udc00"`, consoleEscape("\"\x7f\u202e\U000f0000\"", false, true), "JSON escapes")
}
