package rc

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	jsonv2 "github.com/go-json-experiment/json"
)

// ErrNotLoggedIn is returned (wrapped) by Logout when the client holds no
// session that Login started: none at all, or a personal access token that
// logout would delete on the server.
var ErrNotLoggedIn = errors.New("rc: no login session")

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Code     string `json:"code,omitempty"`
}

type loginResponse struct {
	Data struct {
		UserID    string `json:"userId"`
		AuthToken string `json:"authToken"`
	} `json:"data"`
}

// Login logs in with a username (or e-mail address) and password and makes
// the client use the session it gets for every later request, instead of
// any token it had (concurrent requests already sent keep theirs). When the
// user has two-factor authentication, the error matches ErrTOTPRequired
// (errors.Is); call LoginWithTOTP with the code then.
//
// Endpoint: POST /api/v1/login
func (c *Client) Login(ctx context.Context, user, password string) error {
	return c.login(ctx, user, password, "")
}

// LoginWithTOTP is Login with a two-factor code (TOTP or e-mail code).
//
// Endpoint: POST /api/v1/login
func (c *Client) LoginWithTOTP(ctx context.Context, user, password, code string) error {
	if code == "" {
		return apiError("login", "empty two-factor code")
	}
	return c.login(ctx, user, password, code)
}

func (c *Client) login(ctx context.Context, user, password, code string) error {
	if user == "" {
		return apiError("login", "empty user")
	}
	if password == "" {
		return apiError("login", "empty password")
	}
	r, err := c.newRequest(http.MethodPost, "login", nil, loginRequest{User: user, Password: password, Code: code})
	if err != nil {
		return err
	}
	r.auth = false
	r.secrets = []string{password, code}
	data, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	var lr loginResponse
	if err := jsonv2.Unmarshal(data, &lr, decodeOpts); err != nil {
		return &ResponseError{Endpoint: "login", Err: err}
	}
	if lr.Data.UserID == "" || lr.Data.AuthToken == "" {
		return apiError("login", "response without userId and authToken")
	}
	c.setCredentials(&credentials{userID: lr.Data.UserID, token: lr.Data.AuthToken, session: true})
	return nil
}

// Logout ends the session that Login started and forgets it. On a client
// built with WithToken it refuses, with an error wrapping ErrNotLoggedIn,
// and sends nothing: the server would delete the personal access token.
// Any 2xx answer is success (the body may be empty).
//
// Endpoint: POST /api/v1/logout
func (c *Client) Logout(ctx context.Context) error {
	cr := c.credentials()
	switch {
	case cr == nil:
		return fmt.Errorf("rc: logout: %w", ErrNotLoggedIn)
	case !cr.session:
		return fmt.Errorf("rc: logout: refusing to log out a personal access token (the server would delete it): %w", ErrNotLoggedIn)
	}
	r, err := c.newRequest(http.MethodPost, "logout", nil, nil)
	if err != nil {
		return err
	}
	r.cred = cr
	r.renewed = true // a session already ended is not renewed only to be ended
	if _, err := c.do(ctx, r); err != nil {
		return err
	}
	c.mu.Lock()
	if c.cred == cr { // not replaced by a concurrent Login
		c.cred = nil
	}
	c.mu.Unlock()
	return nil
}

// Me returns the authenticated user. Its Raw is the whole response body
// (the user's fields and "success").
//
// Endpoint: GET /api/v1/me
func (c *Client) Me(ctx context.Context) (*User, error) {
	data, err := c.MeRaw(ctx)
	if err != nil {
		return nil, err
	}
	u := new(User)
	if err := jsonv2.Unmarshal(data, (*userJSON)(u), decodeOpts); err != nil {
		return nil, &ResponseError{Endpoint: "me", Err: err}
	}
	u.Raw = data
	return u, nil
}

// MeRaw is Me returning the whole checked response body.
//
// Endpoint: GET /api/v1/me
func (c *Client) MeRaw(ctx context.Context) ([]byte, error) {
	return c.GetRaw(ctx, "me", nil)
}

// Info returns the server's version ("8.7": major and minor only). It sends
// no credentials.
//
// Endpoint: GET /api/info
func (c *Client) Info(ctx context.Context) (*ServerInfo, error) {
	r := &request{method: http.MethodGet, endpoint: "info", url: c.root + "/api/info"}
	data, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	var info ServerInfo
	if err := jsonv2.Unmarshal(data, &info, decodeOpts); err != nil {
		return nil, &ResponseError{Endpoint: "info", Err: err}
	}
	return &info, nil
}

// renewingKey marks the context of a RenewFunc call: requests made inside
// it never renew.
type renewingKey struct{}

// mayRenew reports whether the failure err of r is a refusal of its
// credentials that the client's RenewFunc should see.
func (c *Client) mayRenew(ctx context.Context, r *request, err error) bool {
	return c.renew != nil && r.auth && !r.renewed && errors.Is(err, ErrUnauthorized) &&
		ctx.Value(renewingKey{}) == nil
}

// reauth runs the RenewFunc after the server refused the credentials used
// with err, one call at a time, and returns the credentials to send the
// request with again. When the credentials were replaced while the request
// was under way (by a renew of another request, or a Login), it takes them
// without calling renew.
func (c *Client) reauth(ctx context.Context, used *credentials, err error) (*credentials, error) {
	select {
	case c.renewing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (while waiting for the credentials to be renewed: %w)", err, ctx.Err())
	}
	defer func() { <-c.renewing }()
	if cur := c.credentials(); cur != nil && cur != used {
		return cur, nil
	}
	if rerr := c.renew(context.WithValue(ctx, renewingKey{}, true), c, err); rerr != nil {
		return nil, rerr
	}
	if cur := c.credentials(); cur != nil && cur != used {
		return cur, nil
	}
	return nil, err // renew kept the credentials the server refused
}
