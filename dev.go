package main

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

// startDev starts the fake server on addr ("" for the default) and logs how
// to reach it. The bot's token it prints is the fake server's demo token.
func startDev(addr string, log zerolog.Logger) (*devServer, error) {
	explicit := addr != ""
	if !explicit {
		addr = defaultDevAddr
	}
	srv, err := rctest.Listen(addr)
	if err != nil && !explicit && errors.Is(err, syscall.EADDRINUSE) {
		log.Info().Str("addr", addr).Msg("--dev: address busy; using a free port")
		srv, err = rctest.Listen("127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("--dev: starting the fake server on %s: %w", addr, err)
	}
	d := &devServer{srv: srv, log: log}
	log.Info().Str("url", srv.URL).Str("bot", rctest.BotUsername).Str("bot_user_id", rctest.BotUserID).
		Msg("--dev: fake Rocket.Chat server running (demo users alice, bob, carol; rooms #general, #random, ops, a DM with alice)")
	log.Info().Msgf("--dev: look around as the bot (demo token, not a secret): curl -s -H 'X-User-Id: %s' -H 'X-Auth-Token: %s' %s/api/v1/subscriptions.get",
		rctest.BotUserID, rctest.BotToken, srv.URL)
	aliceID, aliceToken := srv.CreateToken("alice")
	log.Info().Msgf(`--dev: mention the bot as alice: curl -s -H 'X-User-Id: %s' -H 'X-Auth-Token: %s' -H 'Content-Type: application/json' -d '{"channel":"#general","text":"hello @%s"}' %s/api/v1/chat.postMessage`,
		aliceID, aliceToken, rctest.BotUsername, srv.URL)
	return d, nil
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
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.srv.RunActivity(ctx, every)
	}()
	d.log.Info().Stringer("every", every).Msg("--dev: simulated activity started")
}

// close stops the activity and the server.
func (d *devServer) close() {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.srv.Close()
}
