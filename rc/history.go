package rc

import (
	"context"
	"net/url"
	"time"
)

// SyncMessagesResult is the answer of chat.syncMessages.
type SyncMessagesResult struct {
	// Updated are the room's messages created or changed (an edit, a
	// reaction, a thread's counters) after the time asked, as the server
	// sent them (each with its Raw).
	Updated []*Message `json:"updated"`
	// Deleted are the messages deleted after the time asked.
	Deleted []DeletedMessage `json:"deleted"`
}

// DeletedMessage is an entry of chat.syncMessages' "deleted" list.
type DeletedMessage struct {
	ID        string    `json:"_id"`
	DeletedAt time.Time `json:"_deletedAt"`
}

// SyncMessages returns the messages of the room created, changed or
// deleted strictly after lastUpdate: what a client missed while away.
// lastUpdate must not be zero.
//
// Endpoint: GET /api/v1/chat.syncMessages
func (s *ChatService) SyncMessages(ctx context.Context, roomID string, lastUpdate time.Time) (*SyncMessagesResult, error) {
	if roomID == "" {
		return nil, apiError("chat.syncMessages", "empty room id")
	}
	if lastUpdate.IsZero() {
		return nil, apiError("chat.syncMessages", "zero lastUpdate")
	}
	q := url.Values{"roomId": {roomID}, "lastUpdate": {lastUpdate.UTC().Format(updatedSinceLayout)}}
	var out struct {
		Result SyncMessagesResult `json:"result"`
	}
	if err := s.client.Get(ctx, "chat.syncMessages", q, &out); err != nil {
		return nil, err
	}
	return &out.Result, nil
}
