package rc

import (
	"context"
	"fmt"
	"net/url"
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
		return nil, fmt.Errorf("rc: rooms.info: decoding response: %w", err)
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
