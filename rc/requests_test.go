package rc

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const subJSON = `{"_id":"5ALsG3QhpJfdMpyc8","rid":"GENERAL","t":"c","name":"general","fname":"General",` +
	`"ts":"2024-02-15T07:17:38.547Z","ls":"2024-05-30T16:47:36.993Z","lr":"2024-05-30T16:47:36.994Z",` +
	`"u":{"_id":"EoyAmF4mxx5HxJHJB","username":"bot","name":"Bot"},"open":true,"alert":true,"unread":3,` +
	`"userMentions":1,"groupMentions":2,"roles":["owner"],"f":true,"tunread":["t1"],"tunreadUser":["t2"],` +
	`"tunreadGroup":["t3"],"prid":"P1","audioNotificationValue":"chime",` +
	`"disableNotifications":true,"muteGroupMentions":true,"hideUnreadStatus":true,` +
	`"desktopNotifications":"all","mobilePushNotifications":"mentions","emailNotifications":"nothing",` +
	`"audioNotifications":"beep","newField":{"x":[1,2]},"_updatedAt":"2024-07-02T18:07:35.267Z"}`

func TestRequests(t *testing.T) {
	t.Parallel()
	since := time.Date(2024, 7, 2, 20, 7, 35, 267_891_000, time.FixedZone("CEST", 2*3600))
	tests := []struct {
		name     string
		method   string
		path     string // under /api/v1/ (or /api/info)
		query    url.Values
		body     string // expected JSON body, "" for none
		noAuth   bool
		response string
		call     func(ctx context.Context, c *Client) (any, error)
		check    func(t *testing.T, got any)
	}{
		{
			name: "subscriptions.get all", method: "GET", path: "/subscriptions.get",
			response: `{"update":[` + subJSON + `],"remove":[],"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Subscriptions.Get(ctx, nil) },
			check: func(t *testing.T, got any) {
				res := got.(*SubscriptionsResult)
				require.Len(t, res.Update, 1)
				checkSubscription(t, res.Update[0])
				assert.Empty(t, res.Remove)
			},
		},
		{
			name: "subscriptions.get updatedSince", method: "GET", path: "/subscriptions.get",
			query:    url.Values{"updatedSince": {"2024-07-02T18:07:35.267Z"}},
			response: `{"update":[],"remove":[{"_id":"Rd8","_deletedAt":"2024-07-02T12:00:01.123Z"}],"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Subscriptions.Get(ctx, &GetSubscriptionsOptions{UpdatedSince: since})
			},
			check: func(t *testing.T, got any) {
				res := got.(*SubscriptionsResult)
				assert.Empty(t, res.Update)
				require.Len(t, res.Remove, 1)
				assert.Equal(t, "Rd8", res.Remove[0].ID)
				assert.Equal(t, time.Date(2024, 7, 2, 12, 0, 1, 123e6, time.UTC), res.Remove[0].DeletedAt.UTC())
			},
		},
		{
			name: "subscriptions.get raw", method: "GET", path: "/subscriptions.get",
			response: `{"update":[],"remove":[],"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Subscriptions.GetRaw(ctx, &GetSubscriptionsOptions{})
			},
			check: func(t *testing.T, got any) {
				assert.JSONEq(t, `{"update":[],"remove":[],"success":true}`, string(got.([]byte)))
			},
		},
		{
			name: "subscriptions.getOne", method: "GET", path: "/subscriptions.getOne",
			query:    url.Values{"roomId": {"GENERAL"}},
			response: `{"subscription":` + subJSON + `,"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Subscriptions.GetOne(ctx, "GENERAL") },
			check:    func(t *testing.T, got any) { checkSubscription(t, got.(*Subscription)) },
		},
		{
			name: "subscriptions.getOne null", method: "GET", path: "/subscriptions.getOne",
			query:    url.Values{"roomId": {"a b&c"}},
			response: `{"subscription":null,"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Subscriptions.GetOne(ctx, "a b&c") },
			check:    func(t *testing.T, got any) { assert.Nil(t, got.(*Subscription), "no subscription") },
		},
		{
			name: "subscriptions.getOne raw", method: "GET", path: "/subscriptions.getOne",
			query:    url.Values{"roomId": {"R1"}},
			response: `{"subscription":null,"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Subscriptions.GetOneRaw(ctx, "R1") },
			check: func(t *testing.T, got any) {
				assert.JSONEq(t, `{"subscription":null,"success":true}`, string(got.([]byte)))
			},
		},
		{
			name: "subscriptions.read", method: "POST", path: "/subscriptions.read",
			body: `{"rid":"GENERAL"}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Subscriptions.Read(ctx, "GENERAL", nil)
			},
		},
		{
			name: "subscriptions.read threads", method: "POST", path: "/subscriptions.read",
			body: `{"rid":"GENERAL","readThreads":true}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Subscriptions.Read(ctx, "GENERAL", &ReadOptions{ReadThreads: true})
			},
		},
		{
			name: "subscriptions.unread", method: "POST", path: "/subscriptions.unread",
			body: `{"roomId":"GENERAL"}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Subscriptions.Unread(ctx, "GENERAL")
			},
		},
		{
			name: "subscriptions.unread from message", method: "POST", path: "/subscriptions.unread",
			body: `{"firstUnreadMessage":{"_id":"M1"}}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Subscriptions.UnreadFromMessage(ctx, "M1")
			},
		},
		{
			name: "chat.postMessage", method: "POST", path: "/chat.postMessage",
			body: `{"channel":"#general","text":"hi","alias":"A","emoji":":x:","avatar":"http://a/b.png","tmid":"T1",` +
				`"attachments":[{"title":"t","fields":[{"short":true,"title":"k","value":"v"}]}]}`,
			response: `{"ts":1719943655267,"channel":"general","message":{"_id":"M9","rid":"GENERAL","msg":"hi",` +
				`"ts":"2024-07-02T18:07:35.267Z","u":{"_id":"U1","username":"bot"},"tmid":"T1","md":[{"type":"PARAGRAPH"}],` +
				`"_updatedAt":"2024-07-02T18:07:35.268Z"},"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Chat.PostMessage(ctx, &PostMessage{Channel: "#general", Text: "hi", Alias: "A", Emoji: ":x:",
					Avatar: "http://a/b.png", ThreadID: "T1",
					Attachments: []Attachment{{Title: "t", Fields: []AttachmentField{{Short: true, Title: "k", Value: "v"}}}}})
			},
			check: func(t *testing.T, got any) {
				m := got.(*Message)
				assert.Equal(t, "M9", m.ID)
				assert.Equal(t, "GENERAL", m.RoomID)
				assert.Equal(t, "hi", m.Msg)
				assert.Equal(t, "T1", m.ThreadID)
				assert.Equal(t, "bot", m.User.Username)
				assert.Equal(t, time.Date(2024, 7, 2, 18, 7, 35, 267e6, time.UTC), m.TS.UTC())
				assert.Contains(t, string(m.Raw), `"md":[{"type":"PARAGRAPH"}]`, "raw keeps unknown fields")
				assert.True(t, json.Valid(m.Raw))
			},
		},
		{
			name: "chat.postMessage raw attachments", method: "POST", path: "/chat.postMessage",
			body:     `{"roomId":"R1","text":"x","attachments":[{"color":"red","custom":1}]}`,
			response: `{"message":{"_id":"M1"},"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Chat.PostMessageRaw(ctx, &PostMessage{RoomID: "R1", Text: "x",
					Attachments:    []Attachment{{Color: "ignored"}},
					RawAttachments: json.RawMessage(`[{"color":"red","custom":1}]`)})
			},
			check: func(t *testing.T, got any) {
				assert.JSONEq(t, `{"message":{"_id":"M1"},"success":true}`, string(got.([]byte)))
			},
		},
		{
			name: "users.info by id", method: "GET", path: "/users.info",
			query:    url.Values{"userId": {"U1"}},
			response: `{"user":{"_id":"U1","username":"alice","name":"Alice","status":"online","active":true,"roles":["user"],"utcOffset":2},"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Users.Info(ctx, UserInfoOptions{UserID: "U1"})
			},
			check: func(t *testing.T, got any) {
				u := got.(*User)
				assert.Equal(t, User{ID: "U1", Username: "alice", Name: "Alice", Status: "online", Active: true,
					Roles: []string{"user"}, Raw: u.Raw}, *u)
				assert.JSONEq(t, `{"_id":"U1","username":"alice","name":"Alice","status":"online","active":true,"roles":["user"],"utcOffset":2}`, string(u.Raw))
			},
		},
		{
			name: "users.info by username", method: "GET", path: "/users.info",
			query:    url.Values{"username": {"alice"}},
			response: `{"user":{"_id":"U1","username":"alice"},"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Users.InfoRaw(ctx, UserInfoOptions{Username: "alice"})
			},
		},
		{
			name: "me", method: "GET", path: "/me",
			response: `{"_id":"U1","username":"bot","roles":["bot"],"active":true,"settings":{},"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			check: func(t *testing.T, got any) {
				u := got.(*User)
				assert.Equal(t, "U1", u.ID)
				assert.Equal(t, []string{"bot"}, u.Roles)
				assert.Contains(t, string(u.Raw), `"settings":{}`)
			},
		},
		{
			name: "info", method: "GET", path: "/api/info", noAuth: true,
			response: `{"version":"8.7","success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Info(ctx) },
			check:    func(t *testing.T, got any) { assert.Equal(t, "8.7", got.(*ServerInfo).Version) },
		},
		{
			name: "raw get", method: "GET", path: "/channels.list",
			query:    url.Values{"count": {"2"}, "sort": {`{"ts":-1}`}},
			response: `{"channels":[{"_id":"C1"}],"count":1,"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				var out struct {
					Channels []struct {
						ID string `json:"_id"`
					} `json:"channels"`
				}
				err := c.Get(ctx, "channels.list", url.Values{"count": {"2"}, "sort": {`{"ts":-1}`}}, &out)
				return out.Channels[0].ID, err
			},
			check: func(t *testing.T, got any) { assert.Equal(t, "C1", got) },
		},
		{
			name: "raw post", method: "POST", path: "/chat.react",
			body: `{"messageId":"M1","emoji":":+1:"}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				var out map[string]any
				err := c.Post(ctx, "chat.react", map[string]string{"messageId": "M1", "emoji": ":+1:"}, &out)
				return out, err
			},
			check: func(t *testing.T, got any) { assert.Equal(t, map[string]any{"success": true}, got) },
		},
		{
			name: "raw post bytes", method: "POST", path: "/chat.react",
			body: `{"messageId":"M1"}`, response: `{"success":true}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.PostRaw(ctx, "chat.react", []byte(`{"messageId":"M1"}`))
			},
		},
		{
			name: "raw post without body", method: "POST", path: "/users.setStatus",
			response: `{"success":true}`,
			call:     func(ctx context.Context, c *Client) (any, error) { return c.PostRaw(ctx, "users.setStatus", nil) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, mux, _ := setup(t)
			called := 0
			mux.HandleFunc(tt.path, func(w http.ResponseWriter, r *http.Request) {
				called++
				testMethod(t, r, tt.method)
				testQuery(t, r, tt.query)
				testBody(t, r, tt.body)
				if tt.noAuth {
					testAuth(t, r, "", "")
				} else {
					testAuth(t, r, testUserID, testToken)
				}
				assert.Equal(t, DefaultUserAgent, r.Header.Get("User-Agent"), "the default User-Agent")
				assert.Equal(t, "application/json", r.Header.Get("Accept"))
				writeJSON(w, http.StatusOK, tt.response)
			})
			got, err := tt.call(context.Background(), c)
			require.NoError(t, err)
			assert.Equal(t, 1, called, "requests sent")
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func checkSubscription(t *testing.T, s *Subscription) {
	t.Helper()
	require.NotNil(t, s)
	ms := func(y int, mo time.Month, d, h, mi, sec, msec int) time.Time {
		return time.Date(y, mo, d, h, mi, sec, msec*1e6, time.UTC)
	}
	want := Subscription{
		ID: "5ALsG3QhpJfdMpyc8", User: UserRef{ID: "EoyAmF4mxx5HxJHJB", Username: "bot", Name: "Bot"},
		RoomID: "GENERAL", Name: "general", FName: "General", Type: "c",
		TS: ms(2024, 2, 15, 7, 17, 38, 547), LastSeen: ms(2024, 5, 30, 16, 47, 36, 993),
		LastReply: ms(2024, 5, 30, 16, 47, 36, 994), Favorite: true, Open: true, Alert: true,
		Unread: 3, UserMentions: 1, GroupMentions: 2, ThreadUnread: []string{"t1"}, ThreadUnreadUser: []string{"t2"},
		ThreadUnreadGroup: []string{"t3"}, ParentRoomID: "P1", AudioNotificationValue: "chime", Roles: []string{"owner"},
		DisableNotifications: true, MuteGroupMentions: true, HideUnreadStatus: true,
		DesktopNotifications: "all", MobilePushNotifications: "mentions", EmailNotifications: "nothing",
		AudioNotifications: "beep", UpdatedAt: ms(2024, 7, 2, 18, 7, 35, 267),
	}
	got := *s
	got.Raw = nil
	for _, p := range []*time.Time{&got.TS, &got.LastSeen, &got.LastReply, &got.UpdatedAt} {
		*p = p.UTC()
	}
	assert.Equal(t, want, got)
	assert.JSONEq(t, subJSON, string(s.Raw), "Raw is the whole object, unknown fields included")
}

func TestRequestsSubPathAndTrailingSlash(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"/chat", "/chat/", "/", ""} {
		t.Run("base"+suffix, func(t *testing.T) {
			var gotPath string
			srv := newRecorder(t, &gotPath)
			c, err := New(srv.URL+suffix, WithToken(testUserID, testToken))
			require.NoError(t, err)
			_, err = c.Subscriptions.GetOneRaw(context.Background(), "R1")
			require.NoError(t, err)
			prefix := "/chat"
			if suffix == "/" || suffix == "" {
				prefix = ""
			}
			assert.Equal(t, prefix+"/api/v1/subscriptions.getOne", gotPath)
			_, err = c.Info(context.Background())
			require.NoError(t, err)
			assert.Equal(t, prefix+"/api/info", gotPath)
		})
	}
}
