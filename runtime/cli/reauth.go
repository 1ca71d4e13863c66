package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// Re-login pacing: a session that the server ends again within
// quickRelogin of the last re-login counts towards a streak; after
// maxQuickRelogins such re-logins in a row the server is taken to refuse
// the account's sessions for good.
const (
	quickRelogin     = time.Minute
	maxQuickRelogins = 3
)

// authKeeper is the client's RenewFunc (rc.WithReauth): when the server
// refuses the credentials during operation, a password login logs in
// again, while a personal access token, which nothing can renew, is lost.
// Once the credentials are lost for good (a token refused, a new login
// refused, or sessions the server keeps ending at once) lost is closed and
// the command stops with exit status 3 and the message it gives for the
// same refusal at start.
type authKeeper struct {
	creds   credentials
	baseURL string
	log     zerolog.Logger
	backoff rc.Backoff // between login attempts while the server cannot be reached

	// Used only inside renew: rc runs one renewal at a time.
	last   time.Time // the last re-login
	streak int       // re-logins in a row, each within quickRelogin of the one before

	lostOnce sync.Once
	lost     chan struct{} // closed when the credentials are lost for good
	lostErr  error         // the *refusedError to stop with; set before lost is closed
}

func newAuthKeeper(creds credentials, baseURL string, log zerolog.Logger) *authKeeper {
	return &authKeeper{creds: creds, baseURL: baseURL, log: log, backoff: connectBackoff(), lost: make(chan struct{})}
}

// failed returns the error to stop with once the credentials are lost,
// else nil.
func (k *authKeeper) failed() error {
	select {
	case <-k.lost:
		return k.lostErr
	default:
		return nil
	}
}

// lose records that the credentials are lost because of err (a 401, or
// the refusal of a new login).
func (k *authKeeper) lose(err error) {
	k.lostOnce.Do(func() {
		k.lostErr = fatalAuthError(err, k.creds, k.baseURL)
		if k.lostErr == nil {
			k.lostErr = refusedf("the server refused the credentials (%s): %s: %w", k.creds, k.creds.fixHint(), err)
		}
		close(k.lost)
	})
}

// renew is the rc.RenewFunc. refused is the 401 of a request.
func (k *authKeeper) renew(ctx context.Context, c *rc.Client, refused error) error {
	if k.failed() != nil {
		return refused
	}
	// From server 9.0 a permission denial (error-unauthorized) is a 401
	// too: the credentials are refused only if "who am I" is refused as
	// well. If that cannot be told (the server is unreachable), nothing is
	// decided: the next 401 asks again.
	if _, err := c.Me(ctx); err == nil || !errors.Is(err, rc.ErrUnauthorized) {
		return refused
	}
	if k.creds.mode != authPassword {
		k.lose(refused)
		return refused
	}
	if !k.last.IsZero() && time.Since(k.last) < quickRelogin {
		k.streak++
	} else {
		k.streak = 0
	}
	if k.streak >= maxQuickRelogins {
		k.lose(fmt.Errorf("the server ended %d new sessions within %v of their login: %w", k.streak, quickRelogin, refused))
		return refused
	}
	k.log.Warn().Err(refused).Str("user", k.creds.user).Msg("the server ended the login session; logging in again")
	if k.streak > 0 && !sleepCtx(ctx, k.backoff.Delay(k.streak)) {
		return fmt.Errorf("%w (logging in again: %w)", refused, ctx.Err())
	}
	for attempt := 1; ; attempt++ {
		err := login(ctx, c, k.creds)
		if err == nil {
			k.last = time.Now()
			k.log.Info().Str("user", k.creds.user).Int("attempts", attempt).Msg("logged in again")
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (logging in again: %w)", refused, err)
		}
		if fatalAuthError(err, k.creds, k.baseURL) != nil {
			k.lose(err)
			return fmt.Errorf("%w; logging in again failed: %w", refused, err)
		}
		wait := k.backoff.Delay(attempt)
		k.log.Warn().Err(err).Int("attempt", attempt).Stringer("retry_in", wait.Round(time.Millisecond)).
			Msg("cannot log in again; retrying")
		if !sleepCtx(ctx, wait) {
			return fmt.Errorf("%w (logging in again: %w)", refused, err)
		}
	}
}

// sleepCtx waits d, or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
