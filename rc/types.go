package rc

import (
	"encoding/json"
	"time"
)

// UserRef is the short form of a user embedded in other objects
// (a subscription's "u", a message's "u").
type UserRef struct {
	ID       string `json:"_id"`
	Username string `json:"username"`
	Name     string `json:"name,omitempty"`
}

// Subscription is one user's membership of one room, as the server's
// ISubscription object. Typed fields cover what Go code reads; Raw keeps the
// whole JSON object the server sent, so that every field, including ones
// newer servers add, reaches callers that want it (the Lua bindings).
type Subscription struct {
	ID                      string    `json:"_id"`
	User                    UserRef   `json:"u"`
	RoomID                  string    `json:"rid"`
	Name                    string    `json:"name"`
	FName                   string    `json:"fname,omitempty"`
	Type                    string    `json:"t"`
	TS                      time.Time `json:"ts"`
	LastSeen                time.Time `json:"ls"`
	LastReply               time.Time `json:"lr"`
	Favorite                bool      `json:"f"`
	Open                    bool      `json:"open"`
	Alert                   bool      `json:"alert"`
	Unread                  int       `json:"unread"`
	UserMentions            int       `json:"userMentions"`
	GroupMentions           int       `json:"groupMentions"`
	ThreadUnread            []string  `json:"tunread,omitempty"`
	ThreadUnreadUser        []string  `json:"tunreadUser,omitempty"`
	ThreadUnreadGroup       []string  `json:"tunreadGroup,omitempty"`
	ParentRoomID            string    `json:"prid,omitempty"`
	Roles                   []string  `json:"roles,omitempty"`
	DisableNotifications    bool      `json:"disableNotifications"`
	MuteGroupMentions       bool      `json:"muteGroupMentions"`
	HideUnreadStatus        bool      `json:"hideUnreadStatus"`
	DesktopNotifications    string    `json:"desktopNotifications,omitempty"`
	MobilePushNotifications string    `json:"mobilePushNotifications,omitempty"`
	EmailNotifications      string    `json:"emailNotifications,omitempty"`
	AudioNotifications      string    `json:"audioNotifications,omitempty"` // very old servers
	AudioNotificationValue  string    `json:"audioNotificationValue,omitempty"`
	UpdatedAt               time.Time `json:"_updatedAt"`

	// Raw is the subscription object exactly as the server sent it. The
	// Raw fields of one Subscriptions.Get result share the response body's
	// backing array: keeping one keeps the whole body alive (bytes.Clone it
	// to keep one alone for long). Never modify it.
	Raw json.RawMessage `json:"-"`
}

// RemovedSubscription is an entry of subscriptions.get's "remove" list:
// a subscription deleted after the requested time.
type RemovedSubscription struct {
	ID        string    `json:"_id"`
	DeletedAt time.Time `json:"_deletedAt"`
}

// SubscriptionsResult is the answer of subscriptions.get.
type SubscriptionsResult struct {
	Update []*Subscription       `json:"update"`
	Remove []RemovedSubscription `json:"remove"`
	// ServerTime is the server's clock when it answered: the response's
	// HTTP Date header, in whole seconds (rounded down). It is zero when
	// the response had none. A poller compares _updatedAt with it, never
	// with the local clock.
	ServerTime time.Time `json:"-"`
}

// GetSubscriptionsOptions are the optional parameters of subscriptions.get.
type GetSubscriptionsOptions struct {
	// UpdatedSince, when not zero, asks only for subscriptions changed
	// (and removed) strictly after this time. It is sent as ISO-8601 with
	// milliseconds in UTC ("2024-07-02T18:07:35.267Z").
	UpdatedSince time.Time
}

// ReadOptions are the optional parameters of subscriptions.read.
type ReadOptions struct {
	// ReadThreads also marks the room's unread threads read.
	ReadThreads bool
}

// Attachment is a message attachment (chat.postMessage "attachments").
type Attachment struct {
	Color             string            `json:"color,omitempty"`
	Text              string            `json:"text,omitempty"`
	TS                string            `json:"ts,omitempty"`
	ThumbURL          string            `json:"thumb_url,omitempty"`
	MessageLink       string            `json:"message_link,omitempty"`
	Collapsed         bool              `json:"collapsed,omitempty"`
	AuthorName        string            `json:"author_name,omitempty"`
	AuthorLink        string            `json:"author_link,omitempty"`
	AuthorIcon        string            `json:"author_icon,omitempty"`
	Title             string            `json:"title,omitempty"`
	TitleLink         string            `json:"title_link,omitempty"`
	TitleLinkDownload bool              `json:"title_link_download,omitempty"`
	ImageURL          string            `json:"image_url,omitempty"`
	AudioURL          string            `json:"audio_url,omitempty"`
	VideoURL          string            `json:"video_url,omitempty"`
	Fields            []AttachmentField `json:"fields,omitempty"`
}

// AttachmentField is one field of an attachment.
type AttachmentField struct {
	Short bool   `json:"short,omitempty"`
	Title string `json:"title"`
	Value string `json:"value"`
}

// PostMessage is the body of chat.postMessage. Exactly one of RoomID and
// Channel must be set; Channel takes "#channel", "@username" or a room id.
type PostMessage struct {
	RoomID      string       `json:"roomId,omitempty"`
	Channel     string       `json:"channel,omitempty"`
	Text        string       `json:"text,omitempty"`
	Alias       string       `json:"alias,omitempty"`
	Emoji       string       `json:"emoji,omitempty"`
	Avatar      string       `json:"avatar,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Attachments given as raw JSON (for callers that build them
	// themselves, such as Lua) take precedence over Attachments.
	RawAttachments json.RawMessage `json:"-"`
	ThreadID       string          `json:"tmid,omitempty"`
}

// Message is a chat message (IMessage). Raw keeps the whole object.
type Message struct {
	ID        string    `json:"_id"`
	RoomID    string    `json:"rid"`
	Msg       string    `json:"msg"`
	TS        time.Time `json:"ts"`
	User      UserRef   `json:"u"`
	ThreadID  string    `json:"tmid,omitempty"`
	Alias     string    `json:"alias,omitempty"`
	UpdatedAt time.Time `json:"_updatedAt"`
	Mentions  []UserRef `json:"mentions,omitempty"`
	// Type is set on system messages only ("uj" a user joined, "rm" a
	// removed message, ...).
	Type string `json:"t,omitempty"`
	// EditedAt is set once the message was edited (zero otherwise).
	EditedAt time.Time `json:"editedAt"`

	Raw json.RawMessage `json:"-"`
}

// User is a user object as users.info and me return it. Raw keeps the
// whole object.
type User struct {
	ID       string   `json:"_id"`
	Username string   `json:"username"`
	Name     string   `json:"name,omitempty"`
	Status   string   `json:"status,omitempty"`
	Active   bool     `json:"active"`
	Roles    []string `json:"roles,omitempty"`

	Raw json.RawMessage `json:"-"`
}

// UserInfoOptions selects the user for users.info: exactly one field set.
type UserInfoOptions struct {
	UserID   string
	Username string
}

// ServerInfo is the answer of GET /api/info.
type ServerInfo struct {
	Version string `json:"version"`
}

// Reaction is the body of chat.react.
type Reaction struct {
	MessageID string `json:"messageId"`
	// Emoji is the reaction's name, with or without colons: "thumbsup" or
	// ":thumbsup:".
	Emoji string `json:"emoji"`
	// ShouldReact true adds the user's reaction, false removes it; nil
	// toggles it.
	ShouldReact *bool `json:"shouldReact,omitempty"`
}

// UpdateMessage is the body of chat.update: the new text of message
// MessageID in room RoomID.
type UpdateMessage struct {
	RoomID    string `json:"roomId"`
	MessageID string `json:"msgId"`
	Text      string `json:"text"`
}

// Room is a room (IRoom) as rooms.info returns it. Raw keeps the whole
// object.
type Room struct {
	ID           string    `json:"_id"`
	Type         string    `json:"t"` // "c" channel, "p" private group, "d" direct, "l" livechat
	Name         string    `json:"name,omitempty"`
	FName        string    `json:"fname,omitempty"`
	ParentRoomID string    `json:"prid,omitempty"` // set on a discussion
	UsersCount   int       `json:"usersCount"`
	Messages     int       `json:"msgs"`
	ReadOnly     bool      `json:"ro"`
	TS           time.Time `json:"ts"`
	LastMessage  time.Time `json:"lm"`
	UpdatedAt    time.Time `json:"_updatedAt"`

	Raw json.RawMessage `json:"-"`
}

// RoomInfoOptions selects the room for rooms.info: exactly one field set.
type RoomInfoOptions struct {
	RoomID   string
	RoomName string
}
