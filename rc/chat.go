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
		return nil, fmt.Errorf("rc: chat.postMessage: decoding response: %w", err)
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
