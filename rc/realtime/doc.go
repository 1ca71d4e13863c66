// Package realtime is a client for the Rocket.Chat realtime API: DDP over
// a websocket at <server>/websocket (facts page §6).
//
// Dial connects and logs in with a token; Subscribe (or the helpers for
// the streams a bot needs) subscribes; Events delivers what arrives, in
// order, as typed values that keep the server's JSON:
//
//	c, err := realtime.Dial(ctx, "https://chat.example.com", token,
//		realtime.WithHTTPClient(restClient.HTTPClient()))
//	if errors.Is(err, realtime.ErrUpgradeRefused) {
//		// no websocket there (a proxy?): poll instead
//	}
//	...
//	defer c.Close()
//	if _, err := c.SubscribeMyMessages(ctx); err != nil { ... }
//	for ev := range c.Events() {
//		switch {
//		case ev.Kind == realtime.Ready:
//			// after each (re)connection: catch up through REST
//		case ev.IsMessage():
//			msg, room, err := ev.Message()
//			...
//		}
//	}
//	// Events is closed: c.Err() says why (nil after Close).
//
// The client keeps the connection up by itself: it answers the server's
// pings, pings when it has sent nothing for a while (WithKeepAlive), and
// gives a connection up when nothing arrives for longer (WithWatchdog).
// After a failure it reconnects with a jittered backoff (WithBackoff),
// logs in again, and only then subscribes again every active subscription,
// once each. Connected, Ready and Disconnected events tell the consumer;
// the server does not replay what it sent while the client was away, so
// a consumer that must miss nothing catches up through REST on Ready. A
// login refused at a reconnection (a revoked token) is final: the client
// stops, Events is closed and Err matches ErrLoginRefused (and
// rc.ErrUnauthorized).
//
// The client logs nothing; errors are returned or carried by events. Every
// goroutine it starts ends with Close.
package realtime
