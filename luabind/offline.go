package luabind

import (
	"context"
	"errors"
	"net/url"

	"github.com/rs/zerolog"

	"github.com/rclua/rclua/rc"
)

// ErrOffline is what every call of an Offline module returns.
var ErrOffline = errors.New("no network in check mode")

// Offline returns the Module of check mode (rclua check): the same rc
// table as FromClient's, whose every call to the server returns nil, err
// with the message "no network in check mode" (status 0, error_type
// "transport"), logging to log.
func Offline(log zerolog.Logger) *Module {
	return &Module{Subscriptions: offline{}, Chat: offline{}, Users: offline{}, Rooms: offlineRooms{}, API: offlineAPI{}, Logger: log}
}

// offline, offlineRooms and offlineAPI implement the service interfaces
// without a network (Subscriptions.GetRaw and API.GetRaw differ, and so do
// Users.InfoRaw and Rooms.InfoRaw, hence three types).
type (
	offline      struct{}
	offlineRooms struct{}
	offlineAPI   struct{}
)

func (offline) GetRaw(context.Context, *rc.GetSubscriptionsOptions) ([]byte, error) {
	return nil, ErrOffline
}
func (offline) GetOneRaw(context.Context, string) ([]byte, error)   { return nil, ErrOffline }
func (offline) Read(context.Context, string, *rc.ReadOptions) error { return ErrOffline }
func (offline) Unread(context.Context, string) error                { return ErrOffline }
func (offline) UnreadFromMessage(context.Context, string) error     { return ErrOffline }
func (offline) PostMessageRaw(context.Context, *rc.PostMessage) ([]byte, error) {
	return nil, ErrOffline
}
func (offline) React(context.Context, *rc.Reaction) error { return ErrOffline }
func (offline) UpdateRaw(context.Context, *rc.UpdateMessage) ([]byte, error) {
	return nil, ErrOffline
}
func (offline) Delete(context.Context, string, string) error                { return ErrOffline }
func (offline) InfoRaw(context.Context, rc.UserInfoOptions) ([]byte, error) { return nil, ErrOffline }
func (offlineRooms) InfoRaw(context.Context, rc.RoomInfoOptions) ([]byte, error) {
	return nil, ErrOffline
}
func (offlineAPI) MeRaw(context.Context) ([]byte, error) { return nil, ErrOffline }
func (offlineAPI) GetRaw(context.Context, string, url.Values) ([]byte, error) {
	return nil, ErrOffline
}
func (offlineAPI) PostRaw(context.Context, string, any) ([]byte, error) { return nil, ErrOffline }

// The offline services implement the interfaces.
var (
	_ Subscriptions = offline{}
	_ Chat          = offline{}
	_ Users         = offline{}
	_ Rooms         = offlineRooms{}
	_ API           = offlineAPI{}
)
