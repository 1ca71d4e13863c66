package rctest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// bodyParams parses the request body as the real router does
// (parseBodyParams): JSON when the Content-Type says application/json,
// form fields when it says application/x-www-form-urlencoded (as the
// router's includes, case-sensitive); anything unparseable is silently {}.
// A body of any other type (none, text/plain) is {} too: the router
// spreads its text into {"0": ..., "1": ...}, which has none of the
// parameters a route reads, so the route refuses it as it refuses {}
// (curl -d '{"roomId":...}' without -H 'Content-Type: application/json'
// posts nothing on a real server).
func (c *reqCtx) bodyParams() map[string]any {
	m := map[string]any{}
	ct := c.r.Header.Get("Content-Type")
	if strings.Contains(ct, "application/x-www-form-urlencoded") {
		v, err := url.ParseQuery(string(c.body))
		if err == nil {
			for k, vs := range v {
				m[k] = vs[0]
			}
		}
		return m
	}
	if !strings.Contains(ct, "application/json") {
		return m
	}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	var parsed map[string]any
	if err := dec.Decode(&parsed); err != nil || parsed == nil {
		return m
	}
	return parsed
}

// coerceString converts v as ajv's coerceTypes does for a string property.
func coerceString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case nil:
		return "", true
	}
	return "", false
}

// coerceBoolNull converts v for a boolean|null property.
func coerceBoolNull(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case string:
		switch x {
		case "true":
			return true, true
		case "false", "":
			return false, true
		}
	case json.Number:
		switch x.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}

type kind int

const (
	kString   kind = iota
	kNonEmpty      // a string of at least one character (minLength: 1)
	kBoolNull
	kIDObject
	kAny // any value (a property whose type rctest does not check)
)

type prop struct {
	name string
	k    kind
}

type schema struct {
	required []string
	props    []prop
}

// check validates m against sc as ajv would without allErrors: the first
// failing keyword (required, then additionalProperties, then property
// types) gives the message.
func (sc schema) check(m map[string]any) (string, bool) {
	for _, r := range sc.required {
		if _, ok := m[r]; !ok {
			return "must have required property '" + r + "'", false
		}
	}
	for k := range m {
		if !slices.ContainsFunc(sc.props, func(p prop) bool { return p.name == k }) {
			return "must NOT have additional properties", false
		}
	}
	for _, p := range sc.props {
		v, ok := m[p.name]
		if !ok {
			continue
		}
		switch p.k {
		case kString, kNonEmpty:
			str, ok := coerceString(v)
			if !ok {
				return "must be string", false
			}
			if p.k == kNonEmpty && str == "" {
				return "must NOT have fewer than 1 characters", false
			}
		case kBoolNull:
			if _, ok := coerceBoolNull(v); !ok {
				return "must be boolean,null", false
			}
		case kIDObject:
			o, ok := v.(map[string]any)
			if !ok {
				return "must be object", false
			}
			if msg, ok := (schema{required: []string{"_id"}, props: []prop{{"_id", kString}}}).check(o); !ok {
				return msg, false
			}
		}
	}
	return "", true
}

// anyOf returns the index of the first branch m satisfies, or the joined
// error messages.
func anyOf(m map[string]any, branches ...schema) (int, []string) {
	var msgs []string
	for i, b := range branches {
		msg, ok := b.check(m)
		if ok {
			return i, nil
		}
		msgs = append(msgs, msg)
	}
	return -1, append(msgs, "must match a schema in anyOf")
}

// loginFail writes the login route's 401 for a thrown Meteor.Error.
func (c *reqCtx) loginFail(errVal any, reason string, details obj) {
	if reason == "User not found" {
		errVal, reason = "Unauthorized", "Unauthorized"
	}
	o := obj{{"success", false}, {"error", errVal}, {"status", "error"}}
	if details != nil {
		o = append(o, field{"details", details})
	}
	o = append(o, field{"message", reason})
	c.respond(http.StatusUnauthorized, o.bytes())
}

func passwordMatches(u *user, pw any) bool {
	if u.password == "" {
		return false
	}
	switch x := pw.(type) {
	case string:
		return x == u.password
	case map[string]any:
		digest, _ := x["hashed"].(string)
		if digest == "" {
			digest, _ = x["digest"].(string)
		}
		sum := sha256.Sum256([]byte(u.password))
		return strings.EqualFold(digest, hex.EncodeToString(sum[:]))
	}
	return false
}

// login: POST /api/v1/login.
func (s *Server) login(c *reqCtx) {
	p := c.bodyParams()
	code, _ := p["code"].(string)
	if code == "" {
		code = c.r.Header.Get("X-2fa-Code")
	}
	pw, hasPw := p["password"]
	if !hasPw {
		resume, ok := p["resume"].(string)
		if !ok {
			c.loginFail(400, "Unrecognized options for login request", nil)
			return
		}
		s.mu.Lock()
		rec, found := s.st.tokens[hashToken(resume)]
		u := s.st.users[rec.uid]
		var me obj
		if found && u != nil {
			me = u.meObj("http://" + c.r.Host)
		}
		s.mu.Unlock()
		if !found || u == nil {
			c.loginFail(403, "You've been logged out by the server. Please log in again.", nil)
			return
		}
		c.success(obj{{"status", "success"}, {"data", obj{{"userId", u.id}, {"authToken", resume}, {"me", me}}}})
		return
	}

	var byName, byEmail string
	switch x := p["user"].(type) {
	case string:
		if strings.Contains(x, "@") {
			byEmail = x
		} else {
			byName = x
		}
	case map[string]any:
		byName, _ = x["username"].(string)
		byEmail, _ = x["email"].(string)
	}
	if v, ok := p["username"].(string); ok && byName == "" && byEmail == "" {
		byName = v
	}
	if v, ok := p["email"].(string); ok && byName == "" && byEmail == "" {
		byEmail = v
	}
	if byName == "" && byEmail == "" {
		c.loginFail(400, "Match failed", nil)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var u *user
	if byName != "" {
		u = s.st.userByName(byName)
	} else {
		u = s.st.userByEmail(byEmail)
	}
	switch {
	case u == nil:
		c.loginFail(403, "User not found", nil)
		return
	case !passwordMatches(u, pw):
		c.loginFail(403, "Incorrect password", nil)
		return
	case u.totp != "" && code == "":
		c.loginFail("totp-required", "TOTP Required",
			obj{{"method", "totp"}, {"availableMethods", []string{"totp"}}})
		return
	case u.totp != "" && code != u.totp:
		c.loginFail("totp-invalid", "TOTP Invalid", obj{{"method", "totp"}})
		return
	}
	tok := newToken()
	s.st.tokens[hashToken(tok)] = tokenRec{uid: u.id, kind: tokenKindLogin}
	c.success(obj{{"status", "success"},
		{"data", obj{{"userId", u.id}, {"authToken", tok}, {"me", u.meObj("http://" + c.r.Host)}}}})
}

// logout: POST (or GET) /api/v1/logout. It deletes the token it was
// called with, whatever its kind.
func (s *Server) logout(c *reqCtx) {
	s.mu.Lock()
	delete(s.st.tokens, hashToken(c.token))
	s.mu.Unlock()
	c.respond(http.StatusOK, []byte(`{"status":"success","data":{"message":"You've been logged out!"}}`))
}

// me: GET /api/v1/me.
func (s *Server) me(c *reqCtx) {
	s.mu.Lock()
	o := c.user.meObj("http://" + c.r.Host)
	s.mu.Unlock()
	c.success(o)
}

// info: GET /api/info.
func (s *Server) info(c *reqCtx) {
	o := obj{{"version", apiVersion}}
	if c.user != nil {
		o = append(o, field{"info", obj{{"version", apiVersionFull}, {"build", obj{{"nodeVersion", "v22.16.0"}, {"arch", "x64"}, {"platform", "linux"}}},
			{"commit", obj{{"hash", "rctest"}, {"branch", "rctest"}}}, {"marketplaceApiVersion", "1.60.0"}}})
	}
	c.success(o)
}

// parseJSDate parses the date forms JavaScript's Date.parse accepts that
// clients send; the result is truncated to milliseconds like a JS Date.
func parseJSDate(s string) (time.Time, bool) {
	layouts := []string{
		time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04Z07:00",
		"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006",
		time.RFC1123, time.RFC1123Z, "Mon Jan 02 2006 15:04:05 GMT-0700", "Jan 2, 2006", "2006-01-02 15:04:05",
	}
	for _, l := range layouts {
		t, err := time.Parse(l, s)
		if err == nil && (l != "2006" || len(s) == 4) {
			return t.UTC().Truncate(time.Millisecond), true
		}
	}
	return time.Time{}, false
}

// subscriptionsGet: GET /api/v1/subscriptions.get.
func (s *Server) subscriptionsGet(c *reqCtx) {
	for k := range c.query {
		if k != "updatedSince" {
			c.invalidParams("error-invalid-params", []string{"must NOT have additional properties"})
			return
		}
	}
	var since time.Time
	has := false
	if v := c.query.Get("updatedSince"); v != "" {
		t, ok := parseJSDate(v)
		if !ok {
			c.meteorError("error-roomId-param-invalid", `The "lastUpdate" query parameter must be a valid date.`, nil)
			return
		}
		since, has = t, true
	}
	s.mu.Lock()
	list := s.st.subList[c.user.id]
	b := make([]byte, 0, 64+len(list)*640)
	b = append(b, `{"update":[`...)
	n := 0
	for _, sub := range list {
		if has && !sub.updatedAt.After(since) {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = s.st.appendSubscription(b, sub)
	}
	b = append(b, `],"remove":[`...)
	n = 0
	if has {
		for _, t := range s.st.trash {
			if t.uid != c.user.id || !t.deletedAt.After(since) {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendValue(b, obj{{"_id", t.id}, {"_deletedAt", jsTime(t.deletedAt)}})
		}
	}
	s.mu.Unlock()
	b = append(b, `],"success":true}`...)
	c.respond(http.StatusOK, b)
}

// subscriptionsGetOne: GET /api/v1/subscriptions.getOne.
func (s *Server) subscriptionsGetOne(c *reqCtx) {
	if _, ok := c.query["roomId"]; !ok {
		c.invalidParams("error-invalid-params", []string{"must have required property 'roomId'"})
		return
	}
	for k := range c.query {
		if k != "roomId" {
			c.invalidParams("error-invalid-params", []string{"must NOT have additional properties"})
			return
		}
	}
	rid := c.query.Get("roomId")
	if rid == "" {
		c.fail("The 'roomId' param is required")
		return
	}
	s.mu.Lock()
	b := []byte(`{"subscription":`)
	if sub := s.st.sub(c.user.id, rid); sub != nil {
		b = s.st.appendSubscription(b, sub)
	} else {
		b = append(b, "null"...)
	}
	s.mu.Unlock()
	b = append(b, `,"success":true}`...)
	c.respond(http.StatusOK, b)
}

// subscriptionsRead: POST /api/v1/subscriptions.read.
func (s *Server) subscriptionsRead(c *reqCtx) {
	p := c.bodyParams()
	branch, msgs := anyOf(p,
		schema{required: []string{"rid"}, props: []prop{{"rid", kString}, {"readThreads", kBoolNull}}},
		schema{required: []string{"roomId"}, props: []prop{{"roomId", kString}, {"readThreads", kBoolNull}}},
	)
	if branch < 0 {
		c.invalidParams("invalid-params", msgs)
		return
	}
	rid, _ := coerceString(p["rid"])
	if branch == 1 {
		rid, _ = coerceString(p["roomId"])
	}
	readThreads, _ := coerceBoolNull(p["readThreads"])

	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.st.sub(c.user.id, rid)
	if s.st.rooms[rid] == nil || sub == nil {
		c.fail("error-invalid-subscription")
		return
	}
	// Unread threads keep the room alerted unless they are read too.
	sub.markRead(sub.alert && len(sub.tunread) > 0 && !readThreads, readThreads, c.now)
	s.logAction(Action{Kind: ActionRead, UserID: c.user.id, RoomID: rid, ReadThreads: readThreads})
	c.success(nil)
}

func unreadDetails() obj {
	return obj{{"method", "unreadMessages"}, {"action", "Unread_messages"}}
}

// subscriptionsUnread: POST /api/v1/subscriptions.unread.
func (s *Server) subscriptionsUnread(c *reqCtx) {
	p := c.bodyParams()
	branch, msgs := anyOf(p,
		schema{required: []string{"roomId"}, props: []prop{{"roomId", kString}}},
		schema{required: []string{"firstUnreadMessage"}, props: []prop{{"firstUnreadMessage", kIDObject}}},
	)
	if branch < 0 {
		c.invalidParams("invalid-params", msgs)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if branch == 0 {
		rid, _ := coerceString(p["roomId"])
		r := s.st.rooms[rid]
		if r == nil || len(r.msgs) == 0 {
			c.meteorError("error-no-message-for-unread", "There are no messages to mark unread", unreadDetails())
			return
		}
		last := r.msgs[len(r.msgs)-1]
		if sub := s.st.sub(c.user.id, rid); sub != nil {
			setAsUnread(sub, last.ts, c.now)
		}
		s.logAction(Action{Kind: ActionUnread, UserID: c.user.id, RoomID: rid})
		c.success(nil)
		return
	}
	id, _ := coerceString(p["firstUnreadMessage"].(map[string]any)["_id"])
	m := s.st.msgs[id]
	if m == nil || m.uid == c.user.id {
		c.meteorError("error-action-not-allowed", "Not allowed", unreadDetails())
		return
	}
	sub := s.st.sub(c.user.id, m.rid)
	if sub == nil || sub.ls.IsZero() {
		c.meteorError("error-subscription-not-found", "Subscription not found", unreadDetails())
		return
	}
	s.logAction(Action{Kind: ActionUnread, UserID: c.user.id, MessageID: id})
	if !m.ts.Before(sub.ls) {
		c.success(nil)
		return
	}
	setAsUnread(sub, m.ts, c.now)
	c.success(nil)
}

func setAsUnread(sub *subscription, ls, now time.Time) {
	sub.open, sub.alert, sub.ls = true, true, ls
	sub.touch(now)
}

// chatPostMessage: POST /api/v1/chat.postMessage.
func (s *Server) chatPostMessage(c *reqCtx) {
	p := c.bodyParams()
	target := p["channel"]
	if target == nil || target == "" { // the server takes channel || roomId
		if id, ok := p["roomId"]; ok {
			target = id
		}
	}
	if target == nil {
		c.invalidParams("invalid-params", []string{"must have required property 'roomId'",
			"must have required property 'channel'", "must match a schema in anyOf"})
		return
	}
	var targets []string
	switch x := target.(type) {
	case string:
		targets = []string{x}
	case []any:
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				c.invalidParams("invalid-params", []string{"must be string"})
				return
			}
			targets = append(targets, str)
		}
	default:
		c.invalidParams("invalid-params", []string{"must be string"})
		return
	}
	nm := newMessage{webhook: true}
	if !c.messageFields(p, false, []stringField{{"text", &nm.text}, {"alias", &nm.alias}, {"emoji", &nm.emoji}, {"avatar", &nm.avatar}, {"tmid", &nm.tmid}}) ||
		!c.messageAttachments(p, &nm) {
		return
	}
	if len([]rune(nm.text)) > maxMessageSize {
		c.meteorError("error-message-size-exceeded", "Message size exceeds Message_MaxAllowedSize", nil)
		return
	}
	if (nm.alias != "" || nm.avatar != "") && !c.user.hasRole("bot", "app") {
		c.meteorError("error-not-allowed", "Not enough permission", nil)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var first *message // the answer is the first target's (processWebhookMessage(...)[0])
	var firstTarget string
	for _, t := range targets {
		r := s.resolveTarget(c.user, t, c.now)
		if r == nil {
			c.respond(http.StatusBadRequest,
				obj{{"success", false}, {"error", "[invalid-channel]"}, {"errorType", "invalid-channel"}}.bytes())
			return
		}
		if err := s.st.join(c.user, r, c.now); err != nil {
			c.fail("error-not-allowed")
			return
		}
		m, err := s.st.postMessage(c.user, r, nm, c.now)
		if err != nil {
			c.meteorError("error-invalid-message", "Invalid thread message", nil)
			return
		}
		if first == nil {
			first, firstTarget = m, t
		}
		s.logAction(Action{Kind: ActionPost, UserID: c.user.id, RoomID: m.rid, MessageID: m.id, Text: m.msg, ThreadID: m.tmid})
	}
	if first == nil { // "channel": []: nothing posted, processWebhookMessage(...)[0] is undefined
		c.fail("unknown-error")
		return
	}
	c.success(obj{{"ts", first.ts.UnixMilli()}, {"channel", firstTarget}, {"message", s.st.messageObj(first)}})
}

// resolveTarget finds the room for a channel value; s.mu is held.
func (s *Server) resolveTarget(u *user, t string, now time.Time) *room {
	switch {
	case strings.HasPrefix(t, "#"):
		return s.st.roomByName(t[1:])
	case strings.HasPrefix(t, "@"):
		other := s.st.userByName(t[1:])
		if other == nil {
			return nil
		}
		return s.st.dmRoom(u, other, now)
	}
	if r := s.st.rooms[t]; r != nil {
		return r
	}
	return s.st.roomByName(t)
}

// usersInfo: GET /api/v1/users.info.
func (s *Server) usersInfo(c *reqCtx) {
	n := 0
	for k := range c.query {
		switch k {
		case "userId", "username", "importId", "email":
			n++
		case "includeUserRooms":
		default:
			c.invalidParams("error-invalid-params", []string{"must NOT have additional properties"})
			return
		}
	}
	if n != 1 {
		c.invalidParams("error-invalid-params", []string{"must match exactly one schema in oneOf"})
		return
	}
	s.mu.Lock()
	var u *user
	switch {
	case c.query.Has("userId"):
		u = s.st.users[c.query.Get("userId")]
	case c.query.Has("username"):
		u = s.st.userByName(c.query.Get("username"))
	case c.query.Has("email"):
		u = s.st.userByEmail(c.query.Get("email"))
	}
	var o obj
	if u != nil {
		o = u.infoObj()
	}
	s.mu.Unlock()
	if u == nil {
		c.fail("User not found.")
		return
	}
	c.success(obj{{"user", o}})
}

// stringField is a string field of a request body and where it goes.
type stringField struct {
	key string
	dst *string
}

// messageFields reads the string fields of a message body from src (a
// number is taken as its text, as the server's coercion does); a value of
// another type, or null unless nullOK, is answered "must be string" and
// false returned.
func (c *reqCtx) messageFields(src map[string]any, nullOK bool, fields []stringField) bool {
	for _, f := range fields {
		v, ok := src[f.key]
		if !ok || (nullOK && v == nil) {
			continue
		}
		str, ok := coerceString(v)
		if !ok {
			c.invalidParams("invalid-params", []string{"must be string"})
			return false
		}
		*f.dst = str
	}
	return true
}

// messageAttachments reads src's attachments (absent or null: none) into
// nm; anything but an array is answered "must be array" and false
// returned.
func (c *reqCtx) messageAttachments(src map[string]any, nm *newMessage) bool {
	a, ok := src["attachments"]
	if !ok || a == nil {
		return true
	}
	if _, isArr := a.([]any); !isArr {
		c.invalidParams("invalid-params", []string{"must be array"})
		return false
	}
	raw, err := json.Marshal(a)
	if err != nil {
		c.fail("Invalid attachments")
		return false
	}
	nm.attachments = raw
	return true
}
