package rc

import (
	"context"
	"net/http"
	"net/url"
)

// updatedSinceLayout is how times are sent to the server: ISO-8601 in UTC
// with milliseconds, as the server's own dates ("2024-07-02T18:07:35.267Z").
const updatedSinceLayout = "2006-01-02T15:04:05.000Z"

func (opts *GetSubscriptionsOptions) query() url.Values {
	if opts == nil || opts.UpdatedSince.IsZero() {
		return nil
	}
	return url.Values{"updatedSince": {opts.UpdatedSince.UTC().Format(updatedSinceLayout)}}
}

// Get returns the user's subscriptions: all of them, or with
// opts.UpdatedSince those changed strictly after that time, plus the ones
// removed since then. The server never paginates this call. opts may be nil.
// The result's ServerTime is the server's clock when it answered.
// Each Subscription's Raw shares the response body's backing array.
//
// Endpoint: GET /api/v1/subscriptions.get
func (s *SubscriptionsService) Get(ctx context.Context, opts *GetSubscriptionsOptions) (*SubscriptionsResult, error) {
	r, err := s.client.newRequest(http.MethodGet, "subscriptions.get", opts.query(), nil)
	if err != nil {
		return nil, err
	}
	data, err := s.client.do(ctx, r)
	if err != nil {
		return nil, err
	}
	res, err := decodeSubscriptionsResult(data)
	if err != nil {
		return nil, &ResponseError{Endpoint: "subscriptions.get", Err: err}
	}
	res.ServerTime = r.date
	return res, nil
}

// GetRaw is Get returning the whole checked response body,
// {"update":[...],"remove":[...],"success":true}.
//
// Endpoint: GET /api/v1/subscriptions.get
func (s *SubscriptionsService) GetRaw(ctx context.Context, opts *GetSubscriptionsOptions) ([]byte, error) {
	return s.client.GetRaw(ctx, "subscriptions.get", opts.query())
}

// GetOne returns the user's subscription to the room, or nil and no error
// when the user has none there (the server answers {"subscription": null}).
//
// Endpoint: GET /api/v1/subscriptions.getOne
func (s *SubscriptionsService) GetOne(ctx context.Context, roomID string) (*Subscription, error) {
	data, err := s.GetOneRaw(ctx, roomID)
	if err != nil {
		return nil, err
	}
	sub := new(Subscription)
	raw, found, err := decodeMember(data, "subscription", (*subscriptionJSON)(sub))
	if err != nil {
		return nil, &ResponseError{Endpoint: "subscriptions.getOne", Err: err}
	}
	if !found {
		return nil, nil
	}
	sub.Raw = raw
	return sub, nil
}

// GetOneRaw is GetOne returning the whole checked response body,
// {"subscription":{...}|null,"success":true}.
//
// Endpoint: GET /api/v1/subscriptions.getOne
func (s *SubscriptionsService) GetOneRaw(ctx context.Context, roomID string) ([]byte, error) {
	if roomID == "" {
		return nil, apiError("subscriptions.getOne", "empty room id")
	}
	return s.client.GetRaw(ctx, "subscriptions.getOne", url.Values{"roomId": {roomID}})
}

type readRequest struct {
	RID         string `json:"rid"`
	ReadThreads bool   `json:"readThreads,omitempty"`
}

// Read marks the room read for the user: unread counts and mentions go to
// zero, the alert is cleared and the last-seen time set to now. With
// opts.ReadThreads the room's unread threads are cleared too. opts may be
// nil.
//
// Endpoint: POST /api/v1/subscriptions.read
func (s *SubscriptionsService) Read(ctx context.Context, roomID string, opts *ReadOptions) error {
	if roomID == "" {
		return apiError("subscriptions.read", "empty room id")
	}
	body := readRequest{RID: roomID, ReadThreads: opts != nil && opts.ReadThreads}
	return s.post(ctx, "subscriptions.read", body)
}

type unreadRequest struct {
	RoomID string `json:"roomId"`
}

// Unread marks the room unread from its newest message. The server answers
// an error of type "error-no-message-for-unread" for a room without
// messages.
//
// Endpoint: POST /api/v1/subscriptions.unread
func (s *SubscriptionsService) Unread(ctx context.Context, roomID string) error {
	if roomID == "" {
		return apiError("subscriptions.unread", "empty room id")
	}
	return s.post(ctx, "subscriptions.unread", unreadRequest{RoomID: roomID})
}

type messageRef struct {
	ID string `json:"_id"`
}

type unreadFromMessageRequest struct {
	FirstUnreadMessage messageRef `json:"firstUnreadMessage"`
}

// UnreadFromMessage marks the message's room unread from that message on.
// The message must not be the user's own.
//
// Endpoint: POST /api/v1/subscriptions.unread
func (s *SubscriptionsService) UnreadFromMessage(ctx context.Context, messageID string) error {
	if messageID == "" {
		return apiError("subscriptions.unread", "empty message id")
	}
	return s.post(ctx, "subscriptions.unread", unreadFromMessageRequest{FirstUnreadMessage: messageRef{ID: messageID}})
}

func (s *SubscriptionsService) post(ctx context.Context, endpoint string, body any) error {
	_, err := s.client.PostRaw(ctx, endpoint, body)
	return err
}
