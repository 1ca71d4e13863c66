package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc/rctest"
)

// defaultDevAddr is where --dev listens unless --dev-addr says otherwise:
// Rocket.Chat's own usual port, so that URLs in its docs work as they are.
// When it is busy, a free loopback port is used instead.
const defaultDevAddr = "127.0.0.1:3000"

// devServer is the fake Rocket.Chat of --dev and its activity generator.
type devServer struct {
	srv    *rctest.Server
	log    zerolog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// addrInUseError is an explicit --dev-addr that another process holds.
// It is not a configuration error (exit status 1): the address may free
// up; the message says what to do now.
type addrInUseError struct {
	addr string
	err  error
}

func (e *addrInUseError) Error() string {
	return "--dev-addr " + e.addr + ": address in use: choose another --dev-addr or omit it"
}

func (e *addrInUseError) Unwrap() error { return e.err }

// startDev starts the fake server on addr ("" for the default) and logs how
// to reach it. The tokens it prints are the fake server's fixed demo
// tokens, not secrets.
func startDev(addr string, log zerolog.Logger) (*devServer, error) {
	explicit := addr != ""
	if !explicit {
		addr = defaultDevAddr
	}
	// The bot role, as a real bot account has: alias and avatar
	// (message-impersonate), no rate limit (facts page §4, §5).
	bot := rctest.WithBotRoles("bot")
	srv, err := rctest.Listen(addr, bot)
	if err != nil && !explicit && errors.Is(err, syscall.EADDRINUSE) {
		log.Info().Str("addr", addr).Msg("--dev: address busy; using a free port")
		srv, err = rctest.Listen("127.0.0.1:0", bot)
	}
	if err != nil && explicit && errors.Is(err, syscall.EADDRINUSE) {
		return nil, &addrInUseError{addr: addr, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("--dev: starting the fake server on %s: %w", addr, err)
	}
	d := &devServer{srv: srv, log: log}
	log.Info().Str("url", srv.URL).Str("bot", rctest.BotUsername).Str("bot_user_id", rctest.BotUserID).
		Msg("--dev: fake Rocket.Chat server running (demo users alice, bob, carol; rooms #general, #random, ops, a DM with alice)")
	log.Info().Msg("--dev: look around as the bot (demo token, not a secret): " + devLookCurl(srv.URL))
	log.Info().Msg("--dev: mention the bot as alice (demo token, not a secret): " + devMentionCurl(srv.URL))
	log.Info().Msg("--dev: act as bob or carol: every demo password is <username>-password; log in for a token (the answer's data.userId, data.authToken): " + devLoginCurl(srv.URL))
	return d, nil
}

// devLookCurl is a curl command listing the bot's subscriptions on the
// --dev server at baseURL.
//
// The --dev curl lines are pasted from the log, which is JSON when stderr
// is not a terminal: they must not contain a character JSON escapes (a
// double quote, a backslash, a control character), so a body is sent as
// form fields, which the server parses like JSON (-d is
// application/x-www-form-urlencoded).
func devLookCurl(baseURL string) string {
	return "curl -s -H 'X-User-Id: " + rctest.BotUserID + "' -H 'X-Auth-Token: " + rctest.BotToken + "' " +
		baseURL + "/api/v1/subscriptions.get"
}

// devMentionCurl is a curl command posting, as alice with her fixed demo
// token, a message mentioning the bot in #general of the --dev server at
// baseURL. See devLookCurl for why it has no JSON body.
func devMentionCurl(baseURL string) string {
	return "curl -s -H 'X-User-Id: " + rctest.AliceUserID + "' -H 'X-Auth-Token: " + rctest.AliceToken + "'" +
		" -d channel=%23general --data-urlencode 'text=hello @" + rctest.BotUsername + "' " +
		baseURL + "/api/v1/chat.postMessage"
}

// devLoginCurl is a curl command logging bob in on the --dev server at
// baseURL. See devLookCurl for why it has no JSON body.
func devLoginCurl(baseURL string) string {
	return "curl -s -d user=" + rctest.BobUsername + " -d password=" + rctest.BobUsername + "-password " + baseURL + "/api/v1/login"
}

func (d *devServer) url() string { return d.srv.URL }

func (d *devServer) credentials() credentials {
	return credentials{mode: authToken, userID: rctest.BotUserID, token: rctest.BotToken}
}

// startActivity makes the demo users post a message every interval, some
// of them mentioning the bot, until close.
func (d *devServer) startActivity(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(2)
	go func() {
		defer d.wg.Done()
		d.srv.RunActivity(ctx, every)
	}()
	go func() {
		defer d.wg.Done()
		d.logBotActions(ctx, devActionsEvery)
	}()
	d.log.Info().Stringer("every", every).Msg("--dev: simulated activity started")
}

// devActionsEvery is how often --dev looks for what the bot did.
const devActionsEvery = 500 * time.Millisecond

// logBotActions logs what the bot does on the fake server (its posts,
// reactions and reads, from the server's action log), every interval
// until ctx ends: under --dev the scripts' replies are seen in the log,
// without a client of the fake server.
func (d *devServer) logBotActions(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case <-ctx.Done():
			d.logActions(&seen) // what the bot did since the last look
			return
		case <-t.C:
			d.logActions(&seen)
		}
	}
}

// logActions logs the bot's actions numbered after *seen, and moves
// *seen past them.
func (d *devServer) logActions(seen *uint64) {
	for _, a := range d.srv.Actions(*seen) {
		*seen = a.Seq
		if a.UserID != rctest.BotUserID {
			continue
		}
		room := d.roomLabel(a.RoomID)
		switch a.Kind {
		case rctest.ActionPost:
			ev := d.log.Info().Str("room", room)
			if a.ThreadID != "" {
				ev = ev.Str("thread", a.ThreadID)
			}
			ev.Str("text", clipText(a.Text, 200)).Msg("--dev: the bot posted")
		case rctest.ActionReact, rctest.ActionUnreact:
			d.log.Info().Str("room", room).Str("emoji", a.Emoji).Str("message_id", a.MessageID).Msg("--dev: the bot " + string(a.Kind) + "ed")
		case rctest.ActionRead:
			d.log.Info().Str("room", room).Msg("--dev: the bot marked the room read")
		case rctest.ActionUnread:
			d.log.Info().Str("room", room).Msg("--dev: the bot marked the room unread")
		}
	}
}

// roomLabel names a room of the bot as a user reads it: #name, or
// @username for a DM (the id when the bot is not subscribed).
func (d *devServer) roomLabel(roomID string) string {
	sub, ok := d.srv.Subscription(rctest.BotUsername, roomID)
	switch {
	case roomID == "":
		return "(from a message)"
	case !ok:
		return roomID
	case sub.RoomType == "d":
		return "@" + sub.Name
	}
	return "#" + sub.Name
}

// clipText shortens s to at most n runes, marking the cut.
func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// close stops the activity and the server.
func (d *devServer) close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.srv.Close()
}
