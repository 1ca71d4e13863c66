package rc

import (
	"context"
	"fmt"
	"net/url"
)

func (o UserInfoOptions) query() (url.Values, error) {
	switch {
	case o.UserID != "" && o.Username != "":
		return nil, apiError("users.info", "UserID and Username are exclusive")
	case o.UserID != "":
		return url.Values{"userId": {o.UserID}}, nil
	case o.Username != "":
		return url.Values{"username": {o.Username}}, nil
	}
	return nil, apiError("users.info", "one of UserID and Username is required")
}

// Info returns a user, selected by id or by username (exactly one).
//
// Endpoint: GET /api/v1/users.info
func (s *UsersService) Info(ctx context.Context, opts UserInfoOptions) (*User, error) {
	data, err := s.InfoRaw(ctx, opts)
	if err != nil {
		return nil, err
	}
	u := new(User)
	raw, found, err := decodeMember(data, "user", (*userJSON)(u))
	if err != nil {
		return nil, &ResponseError{Endpoint: "users.info", Err: err}
	}
	if !found {
		return nil, fmt.Errorf("rc: users.info: response without a user")
	}
	u.Raw = raw
	return u, nil
}

// InfoRaw is Info returning the whole checked response body,
// {"user":{...},"success":true}.
//
// Endpoint: GET /api/v1/users.info
func (s *UsersService) InfoRaw(ctx context.Context, opts UserInfoOptions) ([]byte, error) {
	q, err := opts.query()
	if err != nil {
		return nil, err
	}
	return s.client.GetRaw(ctx, "users.info", q)
}
