package rc

// TEMPORARY: the exported surface of the client, stubbed so that dependent
// packages compile while the implementation is written. The rc implementer
// deletes this file and replaces it with the real code.

import (
	"context"
	"errors"
	"net/url"
	"time"
)

var errStub = errors.New("rc: not implemented")

// Client is a Rocket.Chat REST client.
type Client struct {
	Subscriptions *SubscriptionsService
	Chat          *ChatService
	Users         *UsersService
}

// Option configures a Client.
type Option func(*Client) error

// New returns a client.
func New(baseURL string, opts ...Option) (*Client, error) { return nil, errStub }

// SubscriptionsService calls subscriptions.* endpoints.
type SubscriptionsService struct{ c *Client }

// ChatService calls chat.* endpoints.
type ChatService struct{ c *Client }

// UsersService calls users.* endpoints.
type UsersService struct{ c *Client }

func (s *SubscriptionsService) Get(ctx context.Context, opts *GetSubscriptionsOptions) (*SubscriptionsResult, error) {
	return nil, errStub
}
func (s *SubscriptionsService) GetRaw(ctx context.Context, opts *GetSubscriptionsOptions) ([]byte, error) {
	return nil, errStub
}
func (s *SubscriptionsService) GetOne(ctx context.Context, roomID string) (*Subscription, error) {
	return nil, errStub
}
func (s *SubscriptionsService) GetOneRaw(ctx context.Context, roomID string) ([]byte, error) {
	return nil, errStub
}
func (s *SubscriptionsService) Read(ctx context.Context, roomID string, opts *ReadOptions) error {
	return errStub
}
func (s *SubscriptionsService) Unread(ctx context.Context, roomID string) error { return errStub }
func (s *SubscriptionsService) UnreadFromMessage(ctx context.Context, messageID string) error {
	return errStub
}
func (s *ChatService) PostMessage(ctx context.Context, m *PostMessage) (*Message, error) {
	return nil, errStub
}
func (s *ChatService) PostMessageRaw(ctx context.Context, m *PostMessage) ([]byte, error) {
	return nil, errStub
}
func (s *UsersService) Info(ctx context.Context, opts UserInfoOptions) (*User, error) {
	return nil, errStub
}
func (s *UsersService) InfoRaw(ctx context.Context, opts UserInfoOptions) ([]byte, error) {
	return nil, errStub
}
func (c *Client) Me(ctx context.Context) (*User, error)     { return nil, errStub }
func (c *Client) MeRaw(ctx context.Context) ([]byte, error) { return nil, errStub }
func (c *Client) Get(ctx context.Context, endpoint string, query url.Values, out any) error {
	return errStub
}
func (c *Client) Post(ctx context.Context, endpoint string, body, out any) error { return errStub }
func (c *Client) GetRaw(ctx context.Context, endpoint string, query url.Values) ([]byte, error) {
	return nil, errStub
}
func (c *Client) PostRaw(ctx context.Context, endpoint string, body any) ([]byte, error) {
	return nil, errStub
}

// Error is the typed error for every failure the server reports.
type Error struct {
	Endpoint   string         // endpoint name, e.g. "subscriptions.get" (never a URL)
	Status     int            // HTTP status
	Message    string         // the server's "error" (or "message") text
	Type       string         // the server's "errorType", "" when absent
	Details    map[string]any // the server's "details", nil when absent
	RetryAfter time.Duration  // rate limit: time until the window resets, as received
	Reset      time.Time      // rate limit: when the window resets (zero when unknown)
}

func (e *Error) Error() string { return "rc: " + e.Endpoint + ": " + e.Message }

var (
	ErrUnauthorized = errors.New("rc: unauthorized")
	ErrForbidden    = errors.New("rc: forbidden")
	ErrRateLimited  = errors.New("rc: rate limited")
	ErrTOTPRequired = errors.New("rc: two-factor code required")
)
