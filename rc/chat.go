package rc

import (
	"context"
	"encoding/json"
	"fmt"
)

// postMessageBody is what chat.postMessage is sent: PostMessage with the
// attachments from RawAttachments when given. Its Attachments, shallower
// than PostMessage's, replaces that field in the encoding.
type postMessageBody struct {
	*PostMessage
	Attachments any `json:"attachments,omitempty"`
}

func (m *PostMessage) body() (*postMessageBody, error) {
	if m == nil {
		return nil, apiError("chat.postMessage", "nil message")
	}
	switch {
	case m.RoomID == "" && m.Channel == "":
		return nil, apiError("chat.postMessage", "one of RoomID and Channel is required")
	case m.RoomID != "" && m.Channel != "":
		return nil, apiError("chat.postMessage", "RoomID and Channel are exclusive")
	}
	b := &postMessageBody{PostMessage: m}
	switch {
	case len(m.RawAttachments) > 0:
		if !json.Valid(m.RawAttachments) {
			return nil, apiError("chat.postMessage", "RawAttachments is not valid JSON")
		}
		b.Attachments = m.RawAttachments
	case len(m.Attachments) > 0:
		b.Attachments = m.Attachments
	}
	return b, nil
}

// PostMessage posts a message to a room (RoomID) or to a "#channel",
// "@username" or room id (Channel), and returns the message the server
// stored.
//
// Endpoint: POST /api/v1/chat.postMessage
func (s *ChatService) PostMessage(ctx context.Context, m *PostMessage) (*Message, error) {
	data, err := s.PostMessageRaw(ctx, m)
	if err != nil {
		return nil, err
	}
	msg := new(Message)
	raw, found, err := decodeMember(data, "message", (*messageJSON)(msg))
	if err != nil {
		return nil, &ResponseError{Endpoint: "chat.postMessage", Err: err}
	}
	if !found {
		return nil, fmt.Errorf("rc: chat.postMessage: response without a message")
	}
	msg.Raw = raw
	return msg, nil
}

// PostMessageRaw is PostMessage returning the whole checked response body,
// {"ts":...,"channel":"...","message":{...},"success":true}.
//
// Endpoint: POST /api/v1/chat.postMessage
func (s *ChatService) PostMessageRaw(ctx context.Context, m *PostMessage) ([]byte, error) {
	body, err := m.body()
	if err != nil {
		return nil, err
	}
	return s.client.PostRaw(ctx, "chat.postMessage", body)
}

func (r *Reaction) body() (*Reaction, error) {
	switch {
	case r == nil:
		return nil, apiError("chat.react", "nil reaction")
	case r.MessageID == "":
		return nil, apiError("chat.react", "MessageID is required")
	case r.Emoji == "":
		return nil, apiError("chat.react", "Emoji is required")
	}
	return r, nil
}

// React sets, removes or (ShouldReact nil) toggles the user's reaction to
// a message. The emoji may be given with or without its colons
// ("thumbsup" or ":thumbsup:"); the server refuses one it does not know.
//
// Endpoint: POST /api/v1/chat.react
func (s *ChatService) React(ctx context.Context, r *Reaction) error {
	body, err := r.body()
	if err != nil {
		return err
	}
	_, err = s.client.PostRaw(ctx, "chat.react", body)
	return err
}

func (u *UpdateMessage) body() (*UpdateMessage, error) {
	switch {
	case u == nil:
		return nil, apiError("chat.update", "nil update")
	case u.RoomID == "":
		return nil, apiError("chat.update", "RoomID is required")
	case u.MessageID == "":
		return nil, apiError("chat.update", "MessageID is required")
	}
	return u, nil
}

// Update replaces the text of a message in a room and returns the message
// as the server stored it (with editedAt and editedBy). The user must be
// allowed to edit it: their own message, or the edit-message permission.
//
// Endpoint: POST /api/v1/chat.update
func (s *ChatService) Update(ctx context.Context, u *UpdateMessage) (*Message, error) {
	data, err := s.UpdateRaw(ctx, u)
	if err != nil {
		return nil, err
	}
	msg := new(Message)
	raw, found, err := decodeMember(data, "message", (*messageJSON)(msg))
	if err != nil {
		return nil, &ResponseError{Endpoint: "chat.update", Err: err}
	}
	if !found {
		return nil, fmt.Errorf("rc: chat.update: response without a message")
	}
	msg.Raw = raw
	return msg, nil
}

// UpdateRaw is Update returning the whole checked response body,
// {"message":{...},"success":true}.
//
// Endpoint: POST /api/v1/chat.update
func (s *ChatService) UpdateRaw(ctx context.Context, u *UpdateMessage) ([]byte, error) {
	body, err := u.body()
	if err != nil {
		return nil, err
	}
	return s.client.PostRaw(ctx, "chat.update", body)
}

// deleteMessageBody is what chat.delete is sent.
type deleteMessageBody struct {
	RoomID    string `json:"roomId"`
	MessageID string `json:"msgId"`
}

// Delete deletes the message messageID, which must be in the room roomID.
// The user must be allowed to delete it: their own message, or the
// delete-message permission.
//
// Endpoint: POST /api/v1/chat.delete
func (s *ChatService) Delete(ctx context.Context, roomID, messageID string) error {
	switch {
	case roomID == "":
		return apiError("chat.delete", "roomID is required")
	case messageID == "":
		return apiError("chat.delete", "messageID is required")
	}
	_, err := s.client.PostRaw(ctx, "chat.delete", &deleteMessageBody{RoomID: roomID, MessageID: messageID})
	return err
}
