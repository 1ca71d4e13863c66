package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// clientRetry is the client's retry policy in the daemon: a 429 waits for
// the window to reset (bounded), a GET is retried after a 5xx or a transport
// error. Handler deadlines bound every wait.
func clientRetry() rc.RetryPolicy {
	return rc.RetryPolicy{
		MaxAttempts:      3,
		MinBackoff:       250 * time.Millisecond,
		MaxBackoff:       5 * time.Second,
		MaxRateLimitWait: 15 * time.Second,
	}
}

// newClient builds the REST client for baseURL; keeper (when not nil)
// handles a refusal of the credentials during operation. A password login
// happens later (authenticate): New never does I/O.
func newClient(baseURL string, creds credentials, retry bool, keeper *authKeeper, extra ...rc.Option) (*rc.Client, error) {
	opts := append([]rc.Option{rc.WithUserAgent(userAgent())}, extra...)
	if creds.mode == authToken {
		opts = append(opts, rc.WithToken(creds.userID, creds.token))
	}
	if retry {
		opts = append(opts, rc.WithRetry(clientRetry()))
	}
	if keeper != nil {
		opts = append(opts, rc.WithReauth(keeper.renew))
	}
	c, err := rc.New(baseURL, opts...)
	if err != nil {
		return nil, usagef("server address %s: %v", baseURL, err)
	}
	return c, nil
}

// login logs in with a password (and a two-factor code when set); it does
// nothing for a personal access token.
func login(ctx context.Context, c *rc.Client, creds credentials) error {
	switch {
	case creds.mode != authPassword:
		return nil
	case creds.totp != "":
		return c.LoginWithTOTP(ctx, creds.user, creds.password, creds.totp)
	default:
		return c.Login(ctx, creds.user, creds.password)
	}
}

// authenticate logs in (password login) and checks the credentials with
// "me". It returns the bot's user.
func authenticate(ctx context.Context, c *rc.Client, creds credentials) (*rc.User, error) {
	if err := login(ctx, c, creds); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	u, err := c.Me(ctx)
	if err != nil {
		return nil, fmt.Errorf("checking the credentials (me): %w", err)
	}
	if u.ID == "" {
		// JSON, but not Rocket.Chat's user (a server answering {} to
		// every path): no script would get anything right from it.
		return nil, refusedf("the answer to GET /api/v1/me has no user _id: this is not Rocket.Chat's REST API: check %s (or --url): it is the address you open in a browser, without /api/v1", envURL)
	}
	return u, nil
}

// refusedError is the server's refusal of the credentials or of the
// address (401, 403, 404, a two-factor code needed): retrying cannot fix
// it, so it has its own exit status, 3, which a service manager is told
// not to restart on (RestartPreventExitStatus=2 3 in the README's unit):
// restarting with a wrong password every few seconds would lock the
// account.
type refusedError struct{ err error }

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// refusedf returns a *refusedError with a formatted message.
func refusedf(format string, args ...any) error {
	return &refusedError{err: fmt.Errorf(format, args...)}
}

// fatalAuthError turns an authentication failure that retrying cannot fix
// into a clear *refusedError; it returns nil for a failure worth retrying
// (unreachable server, 5xx, rate limit, a body that is not JSON).
func fatalAuthError(err error, creds credentials, baseURL string) error {
	var refused *refusedError
	var resp *rc.ResponseError
	var syntax *jsontext.SyntacticError
	var syntaxV1 *json.SyntaxError
	switch {
	case errors.As(err, &refused):
		return err
	case errors.As(err, &resp) && !errors.As(err, &syntax) && !errors.As(err, &syntaxV1):
		// JSON of another shape: not Rocket.Chat. (A body that is not
		// JSON at all, a proxy's maintenance page, is retried.)
		return refusedf("the server at %s does not answer as Rocket.Chat's REST API: check %s (or --url): it is the address you open in a browser, without /api/v1: %w", baseURL, envURL, err)
	case errors.Is(err, rc.ErrTOTPRequired):
		return refusedf("the account needs a two-factor code: set %s (a personal access token, %s + %s, suits a daemon better): %w", envTOTP, envUserID, envToken, err)
	case errors.Is(err, rc.ErrUnauthorized):
		return refusedf("the server refused the credentials (401 unauthorized, %s): %s: %w", creds, creds.fixHint(), err)
	case errors.Is(err, rc.ErrForbidden):
		return refusedf("the server forbids this account (403, %s): check that the account is active and may use the REST API: %w", creds, err)
	}
	var re *rc.Error
	if !errors.As(err, &re) || re.Status < 400 || re.Status >= 500 ||
		re.Status == http.StatusTooManyRequests || re.Status == http.StatusRequestTimeout {
		return nil
	}
	if re.Status == http.StatusNotFound {
		return refusedf("no Rocket.Chat REST API at %s (404 not found): check %s (or --url): it is the address you open in a browser, without /api/v1: %w", baseURL, envURL, err)
	}
	return refusedf("the server rejected the login (%d, %s): %s: %w", re.Status, creds, creds.fixHint(), err)
}

// connectBackoff paces the start-up credential check against an unreachable
// server: 1s, 2s, 4s, ... up to a minute (each wait jittered), forever.
func connectBackoff() rc.Backoff { return rc.Backoff{Min: time.Second, Max: time.Minute} }

// connect authenticates, retrying an unreachable or failing server with
// backoff until it answers or ctx ends. A refused login is returned at once.
// It returns (nil, nil) when ctx ends first. failed, when not nil, is told
// of each attempt that failed and is retried.
func connect(ctx context.Context, c *rc.Client, creds credentials, baseURL string, b rc.Backoff, log zerolog.Logger, failed func(attempt int, err error)) (*rc.User, error) {
	for attempt := 1; ; attempt++ {
		u, err := authenticate(ctx, c, creds)
		if err == nil {
			if attempt > 1 {
				log.Info().Str("server", baseURL).Int("attempts", attempt).Msg("reached the server")
			}
			return u, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if fatal := fatalAuthError(err, creds, baseURL); fatal != nil {
			return nil, fatal
		}
		if failed != nil {
			failed(attempt, err)
		}
		wait := b.Delay(attempt)
		log.Warn().Err(err).Str("server", baseURL).Int("attempt", attempt).Stringer("retry_in", wait.Round(time.Millisecond)).
			Msg("cannot reach the Rocket.Chat server; retrying")
		if !sleepCtx(ctx, wait) {
			return nil, nil
		}
	}
}

// logout ends a session started by a password login. It is never called
// for a personal access token: the server would delete the token.
func logout(ctx context.Context, c *rc.Client, creds credentials, log zerolog.Logger) {
	if creds.mode != authPassword {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.Logout(ctx); err != nil {
		log.Warn().Err(err).Msg("logout failed")
	}
}
