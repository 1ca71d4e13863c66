package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc/rctest"
)

// devCurlLines starts the --dev server with a JSON logger (the format when
// stderr is not a terminal) and returns it with the curl commands its log
// printed, keyed by the endpoint that ends each one's URL.
func devCurlLines(t *testing.T) (*devServer, map[string]string) {
	t.Helper()
	var buf syncBuffer
	d, err := startDev("127.0.0.1:0", zerolog.New(&buf))
	require.NoError(t, err)
	t.Cleanup(d.close)
	cmds := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var entry struct{ Message string }
		require.NoError(t, json.Unmarshal([]byte(line), &entry), "a JSON log line: %s", line)
		_, cmd, ok := strings.Cut(entry.Message, ": curl ")
		if !ok {
			continue
		}
		cmd = "curl " + cmd
		// Paste-ready: the raw JSON line holds the command exactly as it
		// must be typed, nothing escaped.
		assert.Contains(t, line, cmd, "the JSON log line holds the command unescaped")
		endpoint := cmd[strings.LastIndex(cmd, "/")+1:]
		cmds[endpoint] = cmd
	}
	require.Contains(t, cmds, "subscriptions.get", "a curl line to look around as the bot")
	require.Contains(t, cmds, "chat.postMessage", "a curl line to mention the bot as alice")
	require.Contains(t, cmds, "login", "a curl line to log in as bob")
	return d, cmds
}

// shellWords splits a command line as sh would, for the only quoting the
// --dev lines use: single quotes. Anything else that sh treats specially
// fails the test: it would not paste the same everywhere.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case quoted:
			cur.WriteRune(r)
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.ContainsRune("\"\\$`!*?;&|<>(){}~", r):
			t.Fatalf("character %q outside single quotes in %q", r, line)
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	require.False(t, quoted, "unbalanced quote in %q", line)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// curlRequest builds the request curl would send for the flags the --dev
// lines use (-s, -H, -d, --data-urlencode, the URL).
func curlRequest(t *testing.T, line string) *http.Request {
	t.Helper()
	words := shellWords(t, line)
	require.Equal(t, "curl", words[0])
	hdr := http.Header{}
	var data []string
	target := ""
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() string {
			i++
			require.Less(t, i, len(words), "%s needs an argument", w)
			return words[i]
		}
		switch {
		case w == "-s":
		case w == "-H":
			k, v, ok := strings.Cut(next(), ":")
			require.True(t, ok)
			hdr.Set(k, strings.TrimSpace(v))
		case w == "-d":
			data = append(data, next())
		case w == "--data-urlencode":
			k, v, ok := strings.Cut(next(), "=")
			require.True(t, ok, "name=content")
			data = append(data, k+"="+url.QueryEscape(v))
		case strings.HasPrefix(w, "http://"):
			target = w
		default:
			t.Fatalf("unexpected curl argument %q", w)
		}
	}
	method := http.MethodGet
	var body io.Reader
	if data != nil {
		method, body = http.MethodPost, strings.NewReader(strings.Join(data, "&"))
		hdr.Set("Content-Type", "application/x-www-form-urlencoded") // curl -d's default
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	req.Header = hdr
	return req
}

// runCurlLine runs line as printed: with sh and curl when both exist,
// otherwise as the request built from the parsed line. It returns the
// response body.
func runCurlLine(t *testing.T, line string, viaCurl bool) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if viaCurl {
		cmd := exec.CommandContext(ctx, "sh", "-c", line)
		// A proxy of the machine's environment must not take the
		// loopback request.
		cmd.Env = append(os.Environ(), "no_proxy=127.0.0.1,localhost", "NO_PROXY=127.0.0.1,localhost")
		out, err := cmd.Output()
		require.NoError(t, err, "%s", line)
		return out
	}
	resp, err := http.DefaultClient.Do(curlRequest(t, line).WithContext(ctx))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	return body
}

// TestDevCurlLines: the --dev curl lines, taken from a JSON log, work as
// printed: the bot's lists its subscriptions, alice's posts a mention.
func TestDevCurlLines(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name    string
		viaCurl bool
	}{{"parsed", false}, {"curl", true}}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			if mode.viaCurl {
				for _, bin := range []string{"sh", "curl"} {
					if _, err := exec.LookPath(bin); err != nil {
						t.Skipf("no %s: the parsed line is checked instead", bin)
					}
				}
			}
			d, cmds := devCurlLines(t)
			assert.Contains(t, cmds["chat.postMessage"], rctest.AliceToken, "alice's fixed demo token")

			var got struct {
				Update  []json.RawMessage
				Success bool
			}
			require.NoError(t, json.Unmarshal(runCurlLine(t, cmds["subscriptions.get"], mode.viaCurl), &got))
			assert.True(t, got.Success)
			assert.NotEmpty(t, got.Update, "the bot's subscriptions")

			before, _ := d.srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
			var posted struct {
				Success bool
				Message struct{ Msg string }
			}
			require.NoError(t, json.Unmarshal(runCurlLine(t, cmds["chat.postMessage"], mode.viaCurl), &posted))
			assert.True(t, posted.Success)
			assert.Equal(t, "hello @"+rctest.BotUsername, posted.Message.Msg)
			msgs := d.srv.Messages(rctest.GeneralRoomID)
			last := msgs[len(msgs)-1]
			assert.Equal(t, rctest.AliceUsername, last.Username, "posted as alice")
			assert.Equal(t, "hello @"+rctest.BotUsername, last.Text)
			after, _ := d.srv.Subscription(rctest.BotUsername, rctest.GeneralRoomID)
			assert.Equal(t, before.UserMentions+1, after.UserMentions, "the bot is mentioned")

			var login struct {
				Status string
				Data   struct{ UserID, AuthToken string }
			}
			require.NoError(t, json.Unmarshal(runCurlLine(t, cmds["login"], mode.viaCurl), &login))
			assert.Equal(t, "success", login.Status)
			assert.Equal(t, rctest.BobUserID, login.Data.UserID, "bob logged in with the password the line names")
			assert.NotEmpty(t, login.Data.AuthToken)
		})
	}
}

// TestDevLogsBotActions: under --dev, what the bot does on the fake
// server (a post, in a thread too; a reaction; a read) is logged with the
// room's name, and what the users do is not.
func TestDevLogsBotActions(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	d, err := startDev("127.0.0.1:0", zerolog.New(&buf))
	require.NoError(t, err)
	t.Cleanup(d.close)
	d.startActivity(time.Hour) // no demo posts during the test
	call := func(endpoint, uid, token, body string) map[string]any {
		return devCall(t, d, endpoint, uid, token, body)
	}
	post := func(uid, token, body string) map[string]any {
		return call("chat.postMessage", uid, token, body)["message"].(map[string]any)
	}
	post(rctest.AliceUserID, rctest.AliceToken, `{"channel":"#random","text":"alice's own words"}`)
	post(rctest.BotUserID, rctest.BotToken, `{"channel":"@alice","text":"a DM"}`)
	root := post(rctest.BotUserID, rctest.BotToken, `{"channel":"#general","text":"pong"}`)
	post(rctest.BotUserID, rctest.BotToken, `{"channel":"#general","text":"in the thread","tmid":"`+root["_id"].(string)+`"}`)
	call("chat.react", rctest.BotUserID, rctest.BotToken, `{"messageId":"`+root["_id"].(string)+`","emoji":"eyes"}`)
	call("subscriptions.read", rctest.BotUserID, rctest.BotToken, `{"rid":"`+rctest.RandomRoomID+`"}`)
	waitForText(t, &buf, `"room":"#random","message":"--dev: the bot marked the room read"`, 10*time.Second)
	logs := buf.String()
	assert.Contains(t, logs, `"room":"#general","text":"pong","message":"--dev: the bot posted"`)
	assert.Contains(t, logs, `"room":"#general","thread":"`+root["_id"].(string)+`","text":"in the thread","message":"--dev: the bot posted"`)
	assert.Contains(t, logs, `"room":"#general","emoji":":eyes:","message_id":"`+root["_id"].(string)+`","message":"--dev: the bot reacted"`)
	assert.Contains(t, logs, `"room":"@alice","text":"a DM","message":"--dev: the bot posted"`)
	assert.NotContains(t, logs, "alice's own words", "a user's post is not the bot's")
}

func TestShellWordsAndCurlRequest(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"curl", "-H", "A: b c", "x"}, shellWords(t, "curl -H 'A: b c' x"))
	req := curlRequest(t, "curl -s -H 'X-A: 1' -d a=%23b --data-urlencode 'c=d @e' http://h/p")
	assert.Equal(t, http.MethodPost, req.Method)
	assert.Equal(t, "1", req.Header.Get("X-A"))
	body, err := io.ReadAll(req.Body)
	require.NoError(t, err)
	v, err := url.ParseQuery(string(body))
	require.NoError(t, err)
	assert.Equal(t, "#b", v.Get("a"))
	assert.Equal(t, "d @e", v.Get("c"))
}

// TestDevBusyAddr: an explicit --dev-addr that is taken exits 1 (not a
// configuration error) with a message saying what to do.
func TestDevBusyAddr(t *testing.T) { // not parallel: an in-process daemon takes SIGHUP
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := ln.Addr().String()

	_, err = startDev(addr, zerolog.Nop())
	require.Error(t, err)
	assert.True(t, errors.Is(err, syscall.EADDRINUSE), "the cause stays visible to errors.Is")
	assert.Equal(t, "--dev-addr "+addr+": address in use: choose another --dev-addr or omit it", err.Error())

	res := runNow(t, nil, "run", "--dev", "--dev-addr", addr, "--log-format", "json", "--scripts", t.TempDir())
	require.Error(t, res.err)
	var stderr strings.Builder
	assert.Equal(t, 1, exitCode(res.err, &stderr), "exit status 1")
	assert.Contains(t, stderr.String(), "choose another --dev-addr or omit it")
}

// TestDevLogsBotActionsAtShutdown: what the bot did just before the
// daemon stops is logged too (the last look happens at shutdown).
func TestDevLogsBotActionsAtShutdown(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	d, err := startDev("127.0.0.1:0", zerolog.New(&buf))
	require.NoError(t, err)
	d.startActivity(time.Hour)
	devCall(t, d, "chat.postMessage", rctest.BotUserID, rctest.BotToken, `{"channel":"#general","text":"last words"}`)
	d.close()
	assert.Contains(t, buf.String(), `"text":"last words","message":"--dev: the bot posted"`)
}

// devCall POSTs body (JSON) to endpoint of d's fake server as uid and
// returns the decoded answer, which must be a 200.
func devCall(t *testing.T, d *devServer, endpoint, uid, token, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url()+"/api/v1/"+endpoint, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User-Id", uid)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}
