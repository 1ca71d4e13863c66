// Package rc is a client for the Rocket.Chat REST API (/api/v1).
//
// A Client is built with New and options; it does no I/O until a method is
// called. Services group the endpoints, as in go-github:
//
//	c, err := rc.New("https://chat.example.com", rc.WithToken(userID, token))
//	if err != nil {
//		return err
//	}
//	res, err := c.Subscriptions.Get(ctx, nil)
//	if err != nil {
//		return err
//	}
//	for _, s := range res.Update {
//		if s.UserMentions > 0 {
//			_, err := c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: s.RoomID, Text: "on it"})
//			...
//		}
//	}
//
// Authentication is a personal access token (WithToken) or a session from
// Login / LoginWithTOTP. Logout ends only a session that Login started: on a
// token it refuses, because the server would delete the token.
//
// Any other endpoint is reachable through Get and Post (decoding into a Go
// value with encoding/json) or GetRaw and PostRaw (returning the checked
// body as bytes, for callers that convert JSON themselves).
//
// Every failure the server reports is an *Error (a non-2xx status, or a 2xx
// with "success": false), matched with errors.Is against ErrUnauthorized,
// ErrForbidden, ErrRateLimited and ErrTOTPRequired. Transport failures and
// context errors are returned wrapped, so errors.Is(err, context.Canceled)
// works; they are not *Error.
//
// Retries are off unless WithRetry sets a RetryPolicy. Response bodies are
// bounded (WithMaxBodySize, default 32 MiB) and each attempt has a timeout
// (WithTimeout, default 30s). Tokens and passwords never appear in error
// strings or in any fmt formatting of a Client.
//
// Typed results keep the JSON object the server sent in their Raw field, so
// that fields this package does not name still reach callers.
package rc
