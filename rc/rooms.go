package rc

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

func (o RoomInfoOptions) query() (url.Values, error) {
	switch {
	case o.RoomID != "" && o.RoomName != "":
		return nil, apiError("rooms.info", "RoomID and RoomName are exclusive")
	case o.RoomID != "":
		return url.Values{"roomId": {o.RoomID}}, nil
	case o.RoomName != "":
		return url.Values{"roomName": {o.RoomName}}, nil
	}
	return nil, apiError("rooms.info", "one of RoomID and RoomName is required")
}

// Info returns a room the user may see, selected by id or by name
// (exactly one; a name is a channel's or a private group's, without "#").
//
// Endpoint: GET /api/v1/rooms.info
func (s *RoomsService) Info(ctx context.Context, opts RoomInfoOptions) (*Room, error) {
	data, err := s.InfoRaw(ctx, opts)
	if err != nil {
		return nil, err
	}
	r := new(Room)
	raw, found, err := decodeMember(data, "room", (*roomJSON)(r))
	if err != nil {
		return nil, &ResponseError{Endpoint: "rooms.info", Err: err}
	}
	if !found {
		return nil, fmt.Errorf("rc: rooms.info: response without a room")
	}
	r.Raw = raw
	return r, nil
}

// InfoRaw is Info returning the whole checked response body,
// {"room":{...},"success":true}, with "parent" for a discussion.
//
// Endpoint: GET /api/v1/rooms.info
func (s *RoomsService) InfoRaw(ctx context.Context, opts RoomInfoOptions) ([]byte, error) {
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	return s.client.GetRaw(ctx, "rooms.info", q)
}

// RoomsResult is the answer of rooms.get.
type RoomsResult struct {
	// Update are the rooms the user is a member of (subscribed to), those
	// changed after the time asked when one was given: a room changes
	// with every message posted in it (its message count and last
	// message), whatever that does to the user's subscription.
	Update []*Room `json:"update"`
	// Remove are the rooms deleted after the time asked.
	Remove []RemovedRoom `json:"remove"`
}

// RemovedRoom is an entry of rooms.get's "remove" list.
type RemovedRoom struct {
	ID        string    `json:"_id"`
	DeletedAt time.Time `json:"_deletedAt"`
}

// Get returns the rooms the user is a member of; with a non-zero
// updatedSince only those changed (or deleted) after it, on the server's
// clock.
//
// Endpoint: GET /api/v1/rooms.get
func (s *RoomsService) Get(ctx context.Context, updatedSince time.Time) (*RoomsResult, error) {
	var q url.Values
	if !updatedSince.IsZero() {
		q = url.Values{"updatedSince": {updatedSince.UTC().Format(updatedSinceLayout)}}
	}
	out := new(RoomsResult)
	if err := s.client.Get(ctx, "rooms.get", q, out); err != nil {
		return nil, err
	}
	return out, nil
}
