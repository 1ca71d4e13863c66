package rctest

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func getSubs(t *testing.T, c *tclient, since string) map[string]any {
	t.Helper()
	path := "/api/v1/subscriptions.get"
	if since != "" {
		path += "?" + url.Values{"updatedSince": {since}}.Encode()
	}
	r := c.get(path)
	require.Equal(t, 200, r.status, "body %s", r.body)
	return r.json(t)
}

func TestSubscriptionsGetEnvelopeAndSeed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	m := getSubs(t, c, "")
	assert.Len(t, m, 3, "always {update, remove, success}")
	assert.Equal(t, true, m["success"])
	assert.Equal(t, []any{}, m["remove"], "remove is empty without updatedSince")
	assert.NotContains(t, m, "subscriptions")
	subs := subsByRoom(t, m)
	for _, rid := range []string{GeneralRoomID, RandomRoomID, OpsRoomID, DMAliceRoomID, EmptyRoomID, DiscussionRoomID, LivechatRoomID} {
		assert.Contains(t, subs, rid)
	}
	assert.NotContains(t, subs, NoSubRoomID)
	types := map[string]bool{}
	for _, sub := range subs {
		types[sub["t"].(string)] = true
	}
	assert.Equal(t, map[string]bool{"c": true, "p": true, "d": true, "l": true}, types, "rooms of every type")

	gen := subs[GeneralRoomID]
	for _, k := range []string{"_id", "u", "rid", "name", "fname", "t", "ts", "ls", "lr", "open", "alert", "unread",
		"userMentions", "groupMentions", "f", "disableNotifications", "emailNotifications", "audioNotificationValue",
		"desktopNotifications", "mobilePushNotifications", "tunread", "_updatedAt"} {
		assert.Contains(t, gen, k)
	}
	assert.Len(t, gen["_id"], 17)
	assert.Equal(t, map[string]any{"_id": BotUserID, "username": BotUsername, "name": BotName}, gen["u"])
	assert.Equal(t, 1.0, gen["unread"], "seeded unread in general: the mention; plain messages do not count")
	assert.Equal(t, 1.0, gen["userMentions"])
	assert.Equal(t, true, gen["alert"])
	assert.Len(t, gen["tunread"], 1, "the reply in the bot's thread")
	for _, k := range []string{"ts", "ls", "lr", "_updatedAt"} {
		parseTime(t, gen[k])
	}
	assert.Equal(t, 1.0, subs[OpsRoomID]["groupMentions"], "@all in ops")
	assert.Equal(t, 1.0, subs[OpsRoomID]["unread"], "@all counts in unread")
	dm := subs[DMAliceRoomID]
	assert.Equal(t, "alice", dm["name"], "a DM's name is the other user")
	assert.Equal(t, 1.0, dm["unread"], "every DM message counts in unread")
	assert.Equal(t, 0.0, dm["userMentions"], "a plain DM message is no mention")
	assert.Equal(t, GeneralRoomID, subs[DiscussionRoomID]["prid"])
	assert.Contains(t, subs[LivechatRoomID], "v")
	assert.Equal(t, 0.0, subs[EmptyRoomID]["unread"])
	assert.Equal(t, []any{"owner"}, subsByRoom(t, getSubs(t, c.as(s.CreateToken(AdminUsername)), ""))[GeneralRoomID]["roles"])
}

// Checklist 2: unknown query parameters are rejected and there is no
// pagination.
func TestSubscriptionsGetParams(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	cases := []struct {
		name, query string
		want        string
	}{
		{"count", "count=1", `{"success":false,"errorType":"error-invalid-params","error":"must NOT have additional properties"}`},
		{"offset", "offset=1", `{"success":false,"errorType":"error-invalid-params","error":"must NOT have additional properties"}`},
		{"with updatedSince", "updatedSince=2024-01-01T00:00:00.000Z&sort=%7B%7D", `{"success":false,"errorType":"error-invalid-params","error":"must NOT have additional properties"}`},
		{"bad date", "updatedSince=garbage", `{"success":false,"error":"The \"lastUpdate\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}`},
		{"numeric date", "updatedSince=1700000000000", `{"success":false,"error":"The \"lastUpdate\" query parameter must be a valid date. [error-roomId-param-invalid]","errorType":"error-roomId-param-invalid"}`},
		{"unparseable query", "updatedSince=%zz", `{"success":false,"error":"Invalid query parameters"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/api/v1/subscriptions.get?" + tc.query)
			assert.Equal(t, 400, r.status)
			assert.JSONEq(t, tc.want, string(r.body))
		})
	}
	for _, ok := range []string{"2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z", "2024-01-01", "2024-01-01T02:00:00+02:00", ""} {
		r := c.get("/api/v1/subscriptions.get?updatedSince=" + url.QueryEscape(ok))
		assert.Equal(t, 200, r.status, "updatedSince=%q: %s", ok, r.body)
	}
}

func TestSubscriptionsGetNeverPaginates(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := startServer(t, WithSubscriptions(5000))
	assert.Less(t, time.Since(start), time.Second, "5,000 subscriptions build fast")
	c := botClient(t, s)
	m := getSubs(t, c, "")
	update := m["update"].([]any)
	assert.Len(t, update, 5007, "all subscriptions in one answer")
	ids := map[string]bool{}
	for _, x := range update {
		ids[x.(map[string]any)["_id"].(string)] = true
	}
	assert.Len(t, ids, 5007, "subscription ids are unique")
	assert.Contains(t, subsByRoom(t, m), "rcluaScale0005000")
}

// Checklist 2: strict > on _updatedAt and on _deletedAt.
func TestSubscriptionsGetUpdatedSince(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	c := botClient(t, s)
	now := clk.Now()

	m := getSubs(t, c, now.Format(timeLayout))
	assert.Equal(t, []any{}, m["update"], "nothing changed after now")
	assert.Equal(t, []any{}, m["remove"])

	gen, ok := s.Subscription(BotUsername, GeneralRoomID)
	require.True(t, ok)
	m = getSubs(t, c, gen.UpdatedAt.Format(timeLayout))
	assert.NotContains(t, subsByRoom(t, m), GeneralRoomID, "equal _updatedAt is excluded")
	m = getSubs(t, c, gen.UpdatedAt.Add(-time.Millisecond).Format(timeLayout))
	assert.Contains(t, subsByRoom(t, m), GeneralRoomID, "1ms earlier includes it")

	// The seeded trash entry.
	deleted := now.Add(-10 * 24 * time.Hour)
	m = getSubs(t, c, deleted.Add(-time.Millisecond).Format(timeLayout))
	assert.Equal(t, []any{map[string]any{"_id": TrashedSubscriptionID, "_deletedAt": deleted.Format(timeLayout)}}, m["remove"])
	m = getSubs(t, c, deleted.Format(timeLayout))
	assert.Equal(t, []any{}, m["remove"], "equal _deletedAt is excluded")

	// A change after a cursor.
	clk.Add(time.Second)
	cursor := clk.Now()
	clk.Add(time.Millisecond)
	_, err := s.PostMessage(AliceUsername, RandomRoomID, "hello")
	require.NoError(t, err)
	require.NoError(t, s.RemoveSubscription(BotUsername, EmptyRoomID))
	m = getSubs(t, c, cursor.Format(timeLayout))
	subs := subsByRoom(t, m)
	assert.Len(t, subs, 1)
	assert.Contains(t, subs, RandomRoomID)
	assert.Equal(t, cursor.Add(time.Millisecond).Format(timeLayout), subs[RandomRoomID]["_updatedAt"])
	remove := m["remove"].([]any)
	require.Len(t, remove, 1)
	emptySubID := remove[0].(map[string]any)["_id"].(string)
	assert.Len(t, emptySubID, 17)
	assert.Equal(t, cursor.Add(time.Millisecond).Format(timeLayout), remove[0].(map[string]any)["_deletedAt"])
	m = getSubs(t, c, cursor.Add(time.Millisecond).Format(timeLayout))
	assert.Equal(t, []any{}, m["update"])
	assert.Equal(t, []any{}, m["remove"])

	// Removal of someone else's subscription is not the bot's.
	clk.Add(time.Millisecond)
	require.NoError(t, s.RemoveSubscription(AliceUsername, RandomRoomID))
	m = getSubs(t, c, cursor.Add(time.Millisecond).Format(timeLayout))
	assert.Equal(t, []any{}, m["remove"], "only the caller's trash")
}

// Checklist 3: getOne for a room without subscription is 200 null.
func TestSubscriptionsGetOne(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	cases := []struct {
		name       string
		query      string
		wantStatus int
		wantBody   string
		wantRID    string
	}{
		{"subscribed", "roomId=" + GeneralRoomID, 200, "", GeneralRoomID},
		{"dm", "roomId=" + DMAliceRoomID, 200, "", DMAliceRoomID},
		{"not subscribed", "roomId=" + NoSubRoomID, 200, `{"subscription":null,"success":true}`, ""},
		{"no such room", "roomId=doesnotexist", 200, `{"subscription":null,"success":true}`, ""},
		{"missing roomId", "", 400, `{"success":false,"errorType":"error-invalid-params","error":"must have required property 'roomId'"}`, ""},
		{"empty roomId", "roomId=", 400, `{"success":false,"error":"The 'roomId' param is required"}`, ""},
		{"extra param", "roomId=GENERAL&rid=GENERAL", 400, `{"success":false,"errorType":"error-invalid-params","error":"must NOT have additional properties"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/api/v1/subscriptions.getOne?" + tc.query)
			assert.Equal(t, tc.wantStatus, r.status, "body %s", r.body)
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, string(r.body))
				return
			}
			m := r.json(t)
			assert.Len(t, m, 2)
			sub := m["subscription"].(map[string]any)
			assert.Equal(t, tc.wantRID, sub["rid"])
			assert.Equal(t, BotUserID, sub["u"].(map[string]any)["_id"])
		})
	}
	// getOne and get agree.
	one := c.get("/api/v1/subscriptions.getOne?roomId=" + GeneralRoomID).json(t)["subscription"]
	assert.Equal(t, subsByRoom(t, getSubs(t, c, ""))[GeneralRoomID], one)
}

// Checklist 4: read takes rid or roomId, not both; clears counters; the
// error body has no errorType; readThreads clears tunread.
func TestSubscriptionsReadValidation(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	cases := []struct {
		name     string
		body     any
		wantBody string
	}{
		{"both", map[string]any{"rid": GeneralRoomID, "roomId": GeneralRoomID},
			`{"success":false,"errorType":"invalid-params","error":"must NOT have additional properties\nmust NOT have additional properties\nmust match a schema in anyOf"}`},
		{"empty", map[string]any{},
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'rid'\nmust have required property 'roomId'\nmust match a schema in anyOf"}`},
		{"malformed JSON is {}", "{",
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'rid'\nmust have required property 'roomId'\nmust match a schema in anyOf"}`},
		{"unknown key", map[string]any{"rid": GeneralRoomID, "tmid": "x"},
			`{"success":false,"errorType":"invalid-params","error":"must NOT have additional properties\nmust have required property 'roomId'\nmust match a schema in anyOf"}`},
		{"rid object", map[string]any{"rid": map[string]any{}},
			`{"success":false,"errorType":"invalid-params","error":"must be string\nmust have required property 'roomId'\nmust match a schema in anyOf"}`},
		{"readThreads not boolean", map[string]any{"rid": GeneralRoomID, "readThreads": "yes"},
			`{"success":false,"errorType":"invalid-params","error":"must be boolean,null\nmust have required property 'roomId'\nmust match a schema in anyOf"}`},
		{"unknown room", map[string]any{"rid": "foobar123-somechannel"}, `{"success":false,"error":"error-invalid-subscription"}`},
		{"unknown room by roomId", map[string]any{"roomId": "foobar123-somechannel"}, `{"success":false,"error":"error-invalid-subscription"}`},
		{"not subscribed", map[string]any{"rid": NoSubRoomID}, `{"success":false,"error":"error-invalid-subscription"}`},
		{"number coerced", map[string]any{"rid": 12345}, `{"success":false,"error":"error-invalid-subscription"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/api/v1/subscriptions.read", tc.body)
			assert.Equal(t, 400, r.status)
			assert.JSONEq(t, tc.wantBody, string(r.body))
		})
	}
}

func TestSubscriptionsReadEffect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		body        map[string]any
		rid         string
		wantAlert   bool
		wantTunread bool
	}{
		{"rid keeps alert for unread threads", map[string]any{"rid": GeneralRoomID}, GeneralRoomID, true, true},
		{"roomId", map[string]any{"roomId": GeneralRoomID}, GeneralRoomID, true, true},
		{"readThreads clears tunread and alert", map[string]any{"rid": GeneralRoomID, "readThreads": true}, GeneralRoomID, false, false},
		{"readThreads false", map[string]any{"rid": GeneralRoomID, "readThreads": false}, GeneralRoomID, true, true},
		{"readThreads null", map[string]any{"rid": GeneralRoomID, "readThreads": nil}, GeneralRoomID, true, true},
		{"no threads: alert cleared", map[string]any{"rid": OpsRoomID}, OpsRoomID, false, false},
		{"dm", map[string]any{"roomId": DMAliceRoomID}, DMAliceRoomID, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			s := startServer(t, WithClock(clk.Now))
			c := botClient(t, s)
			before, _ := s.Subscription(BotUsername, tc.rid)
			require.True(t, before.Alert)
			require.Positive(t, before.Unread)
			clk.Add(5 * time.Second)
			r := c.post("/api/v1/subscriptions.read", tc.body)
			require.Equal(t, 200, r.status, "body %s", r.body)
			assert.JSONEq(t, `{"success":true}`, string(r.body))
			after, _ := s.Subscription(BotUsername, tc.rid)
			assert.Zero(t, after.Unread)
			assert.Zero(t, after.UserMentions)
			assert.Zero(t, after.GroupMentions)
			assert.True(t, after.Open)
			assert.Equal(t, tc.wantAlert, after.Alert)
			assert.Equal(t, tc.wantTunread, len(after.ThreadUnread) > 0)
			assert.Equal(t, clk.Now(), after.LS, "ls = now")
			assert.Equal(t, clk.Now(), after.UpdatedAt, "_updatedAt bumped")
			// The JSON agrees.
			sub := c.get("/api/v1/subscriptions.getOne?roomId=" + tc.rid).json(t)["subscription"].(map[string]any)
			assert.Equal(t, 0.0, sub["unread"])
			assert.Equal(t, clk.Now().Format(timeLayout), sub["ls"])
			_, has := sub["tunread"]
			assert.Equal(t, tc.wantTunread, has)
		})
	}
	t.Run("form-urlencoded with coerced boolean", func(t *testing.T) {
		s := startServer(t)
		c := botClient(t, s)
		r := c.do("POST", "/api/v1/subscriptions.read", "rid=GENERAL&readThreads=true", "Content-Type", "application/x-www-form-urlencoded")
		require.Equal(t, 200, r.status, "body %s", r.body)
		after, _ := s.Subscription(BotUsername, GeneralRoomID)
		assert.Empty(t, after.ThreadUnread)
	})
}

// Checklist 5: unread on an empty room and the other unread errors.
func TestSubscriptionsUnreadErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := botClient(t, s)
	own, err := s.PostMessage(BotUsername, RandomRoomID, "my own message")
	require.NoError(t, err)
	inNoSub := s.Messages(NoSubRoomID)[0]
	details := `"details":{"method":"unreadMessages","action":"Unread_messages"}`
	cases := []struct {
		name string
		body any
		want string
	}{
		{"empty room", map[string]any{"roomId": EmptyRoomID},
			`{"success":false,"error":"There are no messages to mark unread [error-no-message-for-unread]","errorType":"error-no-message-for-unread",` + details + `}`},
		{"no such room", map[string]any{"roomId": "nothing-here"},
			`{"success":false,"error":"There are no messages to mark unread [error-no-message-for-unread]","errorType":"error-no-message-for-unread",` + details + `}`},
		{"own message", map[string]any{"firstUnreadMessage": map[string]any{"_id": own.ID}},
			`{"success":false,"error":"Not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed",` + details + `}`},
		{"unknown message", map[string]any{"firstUnreadMessage": map[string]any{"_id": "nope"}},
			`{"success":false,"error":"Not allowed [error-action-not-allowed]","errorType":"error-action-not-allowed",` + details + `}`},
		{"no subscription", map[string]any{"firstUnreadMessage": map[string]any{"_id": inNoSub.ID}},
			`{"success":false,"error":"Subscription not found [error-subscription-not-found]","errorType":"error-subscription-not-found",` + details + `}`},
		{"both", map[string]any{"roomId": GeneralRoomID, "firstUnreadMessage": map[string]any{"_id": "x"}},
			`{"success":false,"errorType":"invalid-params","error":"must NOT have additional properties\nmust NOT have additional properties\nmust match a schema in anyOf"}`},
		{"empty", map[string]any{},
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'roomId'\nmust have required property 'firstUnreadMessage'\nmust match a schema in anyOf"}`},
		{"rid is not accepted", map[string]any{"rid": GeneralRoomID},
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'roomId'\nmust have required property 'firstUnreadMessage'\nmust match a schema in anyOf"}`},
		{"inner extra key", map[string]any{"firstUnreadMessage": map[string]any{"_id": "x", "rid": "y"}},
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'roomId'\nmust NOT have additional properties\nmust match a schema in anyOf"}`},
		{"inner not object", map[string]any{"firstUnreadMessage": "x"},
			`{"success":false,"errorType":"invalid-params","error":"must have required property 'roomId'\nmust be object\nmust match a schema in anyOf"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/api/v1/subscriptions.unread", tc.body)
			assert.Equal(t, 400, r.status)
			assert.JSONEq(t, tc.want, string(r.body))
		})
	}
}

func TestSubscriptionsUnreadEffect(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	c := botClient(t, s)

	// Mark random read, then unread by room.
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": RandomRoomID}).status)
	clk.Add(time.Second)
	msgs := s.Messages(RandomRoomID)
	r := c.post("/api/v1/subscriptions.unread", map[string]any{"roomId": RandomRoomID})
	require.Equal(t, 200, r.status, "body %s", r.body)
	assert.JSONEq(t, `{"success":true}`, string(r.body))
	sub, _ := s.Subscription(BotUsername, RandomRoomID)
	assert.True(t, sub.Alert)
	assert.True(t, sub.Open)
	assert.Equal(t, msgs[len(msgs)-1].TS, sub.LS, "ls = newest message ts")
	assert.Zero(t, sub.Unread, "unread is not recomputed")
	assert.Equal(t, clk.Now(), sub.UpdatedAt)

	// From a message older than ls.
	clk.Add(time.Second)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": RandomRoomID}).status)
	clk.Add(time.Second)
	r = c.post("/api/v1/subscriptions.unread", map[string]any{"firstUnreadMessage": map[string]any{"_id": msgs[0].ID}})
	require.Equal(t, 200, r.status, "body %s", r.body)
	sub, _ = s.Subscription(BotUsername, RandomRoomID)
	assert.Equal(t, msgs[0].TS, sub.LS)
	assert.True(t, sub.Alert)
	assert.Equal(t, clk.Now(), sub.UpdatedAt)

	// A message not older than ls: no-op.
	clk.Add(time.Second)
	m, err := s.PostMessage(AliceUsername, EmptyRoomID, "new")
	require.NoError(t, err)
	require.Equal(t, 200, c.post("/api/v1/subscriptions.read", map[string]any{"rid": EmptyRoomID}).status)
	before, _ := s.Subscription(BotUsername, EmptyRoomID)
	clk.Add(time.Second)
	r = c.post("/api/v1/subscriptions.unread", map[string]any{"firstUnreadMessage": map[string]any{"_id": m.ID}})
	require.Equal(t, 200, r.status)
	after, _ := s.Subscription(BotUsername, EmptyRoomID)
	assert.Equal(t, before, after, "message ts >= ls is a no-op")

	// roomId of a room without subscription: success, nothing changes.
	r = c.post("/api/v1/subscriptions.unread", map[string]any{"roomId": NoSubRoomID})
	assert.Equal(t, 200, r.status)
	_, ok := s.Subscription(BotUsername, NoSubRoomID)
	assert.False(t, ok)
}

func TestUpdatedAtBumpedOnEveryChange(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	s := startServer(t, WithClock(clk.Now))
	c := botClient(t, s)
	alice := c.as(s.CreateToken(AliceUsername))
	changes := []struct {
		name   string
		rid    string
		change func() int
	}{
		{"read", GeneralRoomID, func() int { return c.post("/api/v1/subscriptions.read", map[string]any{"rid": GeneralRoomID}).status }},
		{"unread", GeneralRoomID, func() int {
			return c.post("/api/v1/subscriptions.unread", map[string]any{"roomId": GeneralRoomID}).status
		}},
		{"message from alice", RandomRoomID, func() int {
			return alice.post("/api/v1/chat.postMessage", map[string]any{"roomId": RandomRoomID, "text": "x"}).status
		}},
		{"own message (marked read)", OpsRoomID, func() int {
			return c.post("/api/v1/chat.postMessage", map[string]any{"roomId": OpsRoomID, "text": "x"}).status
		}},
		{"helper post", EmptyRoomID, func() int {
			_, err := s.PostMessage(AliceUsername, EmptyRoomID, "x")
			if err != nil {
				return 500
			}
			return 200
		}},
	}
	for _, ch := range changes {
		t.Run(ch.name, func(t *testing.T) {
			clk.Add(1234 * time.Microsecond) // sub-millisecond part is dropped
			cursor := clk.Now().Truncate(time.Millisecond).Add(-time.Millisecond)
			require.Equal(t, 200, ch.change())
			subs := subsByRoom(t, getSubs(t, c, cursor.Format(timeLayout)))
			require.Contains(t, subs, ch.rid)
			got := parseTime(t, subs[ch.rid]["_updatedAt"])
			assert.Equal(t, clk.Now().Truncate(time.Millisecond), got)
		})
	}
}
