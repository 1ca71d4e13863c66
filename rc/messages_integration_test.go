package rc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

func boolPtr(b bool) *bool { return &b }

// messageIn returns the stored message id of room.
func messageIn(t *testing.T, s *rctest.Server, room, id string) (rctest.MessageInfo, bool) {
	t.Helper()
	for _, m := range s.Messages(room) {
		if m.ID == id {
			return m, true
		}
	}
	return rctest.MessageInfo{}, false
}

// serverError requires err to be an *rc.Error with status, error text and
// errorType.
func serverError(t *testing.T, err error, status int, text, typ string) {
	t.Helper()
	var re *rc.Error
	require.True(t, errors.As(err, &re), "an *rc.Error: %v", err)
	assert.Equal(t, status, re.Status)
	assert.Equal(t, text, re.Message)
	assert.Equal(t, typ, re.Type)
}

func TestIntegrationReactUpdateDelete(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	c := newBot(t, s)
	ctx := context.Background()

	theirs, err := s.PostMessage(rctest.AliceUsername, rctest.GeneralRoomID, "deploy please")
	require.NoError(t, err)
	require.NoError(t, c.Chat.React(ctx, &rc.Reaction{MessageID: theirs.ID, Emoji: ":rocket:", ShouldReact: boolPtr(true)}))
	require.NoError(t, c.Chat.React(ctx, &rc.Reaction{MessageID: theirs.ID, Emoji: "rocket", ShouldReact: boolPtr(true)}))
	got, _ := messageIn(t, s, rctest.GeneralRoomID, theirs.ID)
	assert.Equal(t, map[string][]string{":rocket:": {rctest.BotUsername}}, got.Reactions)
	require.NoError(t, c.Chat.React(ctx, &rc.Reaction{MessageID: theirs.ID, Emoji: "rocket"}), "toggle")
	got, _ = messageIn(t, s, rctest.GeneralRoomID, theirs.ID)
	assert.Empty(t, got.Reactions)
	serverError(t, c.Chat.React(ctx, &rc.Reaction{MessageID: theirs.ID, Emoji: "nope"}),
		400, "Invalid emoji provided. [error-not-allowed]", "error-not-allowed")
	serverError(t, c.Chat.React(ctx, &rc.Reaction{MessageID: "missing", Emoji: "eyes"}),
		400, `The provided "messageId" does not match any existing message. [error-message-not-found]`, "error-message-not-found")

	mine, err := c.Chat.PostMessage(ctx, &rc.PostMessage{RoomID: rctest.GeneralRoomID, Text: "v1"})
	require.NoError(t, err)
	upd, err := c.Chat.Update(ctx, &rc.UpdateMessage{RoomID: rctest.GeneralRoomID, MessageID: mine.ID, Text: "v2"})
	require.NoError(t, err)
	assert.Equal(t, "v2", upd.Msg)
	assert.False(t, upd.EditedAt.IsZero(), "editedAt")
	assert.Contains(t, string(upd.Raw), `"editedBy"`)
	_, err = c.Chat.Update(ctx, &rc.UpdateMessage{RoomID: rctest.GeneralRoomID, MessageID: theirs.ID, Text: "x"})
	serverError(t, err, 400, "Message editing not allowed [error-action-not-allowed]", "error-action-not-allowed")
	var re *rc.Error
	require.True(t, errors.As(err, &re))
	assert.Equal(t, map[string]any{"method": "updateMessage", "action": "Message_editing"}, re.Details)
	raw, err := c.Chat.UpdateRaw(ctx, &rc.UpdateMessage{RoomID: rctest.GeneralRoomID, MessageID: mine.ID, Text: "v3"})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"msg":"v3"`)

	serverError(t, c.Chat.Delete(ctx, rctest.RandomRoomID, mine.ID),
		400, "The room id provided does not match where the message is from.", "")
	serverError(t, c.Chat.Delete(ctx, rctest.GeneralRoomID, theirs.ID),
		400, "Not allowed [error-action-not-allowed]", "error-action-not-allowed")
	require.NoError(t, c.Chat.Delete(ctx, rctest.GeneralRoomID, mine.ID))
	_, ok := messageIn(t, s, rctest.GeneralRoomID, mine.ID)
	assert.False(t, ok, "deleted on the server")
	serverError(t, c.Chat.Delete(ctx, rctest.GeneralRoomID, mine.ID),
		400, `No message found with the id of "`+mine.ID+`".`, "")

	before := len(s.Requests())
	for _, err := range []error{
		c.Chat.React(ctx, nil),
		c.Chat.React(ctx, &rc.Reaction{Emoji: "x"}),
		c.Chat.React(ctx, &rc.Reaction{MessageID: "m"}),
		c.Chat.Delete(ctx, "", "m"),
		c.Chat.Delete(ctx, "r", ""),
	} {
		assert.Error(t, err)
	}
	_, err = c.Chat.Update(ctx, &rc.UpdateMessage{RoomID: "r"})
	assert.ErrorContains(t, err, "rc: chat.update: MessageID is required")
	_, err = c.Chat.Update(ctx, nil)
	assert.Error(t, err)
	assert.Len(t, s.Requests(), before, "bad input is refused before any request")
}

func TestIntegrationRoomsInfo(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	t.Cleanup(s.Close)
	c := newBot(t, s)
	ctx := context.Background()

	g, err := c.Rooms.Info(ctx, rc.RoomInfoOptions{RoomName: "general"})
	require.NoError(t, err)
	assert.Equal(t, rctest.GeneralRoomID, g.ID)
	assert.Equal(t, "c", g.Type)
	assert.Equal(t, "general", g.Name)
	assert.Positive(t, g.UsersCount)
	assert.Positive(t, g.Messages)
	assert.False(t, g.TS.IsZero())
	assert.False(t, g.UpdatedAt.IsZero())
	assert.Contains(t, string(g.Raw), `"default":true`, "Raw keeps every field")

	d, err := c.Rooms.Info(ctx, rc.RoomInfoOptions{RoomID: rctest.DiscussionRoomID})
	require.NoError(t, err)
	assert.Equal(t, rctest.GeneralRoomID, d.ParentRoomID)
	raw, err := c.Rooms.InfoRaw(ctx, rc.RoomInfoOptions{RoomID: rctest.DiscussionRoomID})
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"parent":{"_id":"GENERAL"`)

	_, err = c.Rooms.Info(ctx, rc.RoomInfoOptions{RoomName: "nope"})
	serverError(t, err, 400, `The required "roomId" or "roomName" param provided does not match any channel [error-room-not-found]`, "error-room-not-found")

	uid, token := s.CreateToken(rctest.AliceUsername)
	alice, err := rc.New(s.URL, rc.WithToken(uid, token))
	require.NoError(t, err)
	_, err = alice.Rooms.Info(ctx, rc.RoomInfoOptions{RoomID: rctest.OpsRoomID})
	serverError(t, err, 400, "not-allowed", "Not Allowed")

	before := len(s.Requests())
	_, err = c.Rooms.Info(ctx, rc.RoomInfoOptions{})
	assert.ErrorContains(t, err, "rc: rooms.info: one of RoomID and RoomName is required")
	_, err = c.Rooms.Info(ctx, rc.RoomInfoOptions{RoomID: "a", RoomName: "b"})
	assert.ErrorContains(t, err, "exclusive")
	assert.Len(t, s.Requests(), before)
}
