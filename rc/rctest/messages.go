package rctest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds the routes that change or look up what exists
// (chat.react, chat.update, chat.delete, rooms.info) and the message and
// room state they keep: reactions, edits, removed-message markers.

// reaction is one emoji's reactions on a message.
type reaction struct {
	emoji     string // with colons: ":thumbsup:"
	usernames []string
}

// knownEmoji are the emoji names chat.react accepts. The real server knows
// every standard emoji (and custom ones); rctest knows these common ones,
// so that an unknown name fails as it does there.
var knownEmoji = map[string]bool{
	":thumbsup:": true, ":+1:": true, ":thumbsdown:": true, ":-1:": true, ":white_check_mark:": true,
	":heavy_check_mark:": true, ":x:": true, ":eyes:": true, ":heart:": true, ":tada:": true, ":rocket:": true,
	":smile:": true, ":joy:": true, ":wave:": true, ":ok_hand:": true, ":pray:": true, ":fire:": true,
	":warning:": true, ":robot:": true, ":ping_pong:": true, ":hourglass:": true, ":bell:": true,
}

// messageRoutes are the routes of this file, looked up by lookupRoute.
var messageRoutes = map[string]route{
	"POST chat.react":       {h: (*Server).chatReact, auth: true, limited: true},
	"POST chat.sendMessage": {h: (*Server).chatSendMessage, auth: true, limited: true, own: &rateRule{5, time.Second}}, // facts §4
	"POST chat.update":      {h: (*Server).chatUpdate, auth: true, limited: true},
	"POST chat.delete":      {h: (*Server).chatDelete, auth: true, limited: true},
	"GET rooms.info":        {h: (*Server).roomsInfo, auth: true, limited: true},
	"GET rooms.get":         {h: (*Server).roomsGet, auth: true, limited: true},
}

// legacyInvalidParams writes the failure of an addRoute route's
// validateParams: Meteor.Error('invalid-params', msgs joined by "\n ").
func (c *reqCtx) legacyInvalidParams(msgs []string) {
	c.meteorError("invalid-params", strings.Join(msgs, "\n "), nil)
}

// oneOf is anyOf for ajv's oneOf (no body here can match two branches).
func oneOf(m map[string]any, branches ...schema) (int, []string) {
	i, msgs := anyOf(m, branches...)
	if i < 0 {
		msgs[len(msgs)-1] = "must match exactly one schema in oneOf"
	}
	return i, msgs
}

// canAccess reports whether the user uid may see room r: a public
// channel, or a room the user is a member of (canAccessRoom with the
// default permissions).
func (st *state) canAccess(uid string, r *room) bool {
	return r.t == "c" || st.sub(uid, r.id) != nil
}

// moderates reports whether u has, in room r, the permissions the default
// roles give admins and the room's owners and moderators (edit-message,
// delete-message).
func (st *state) moderates(u *user, r *room) bool {
	if u.hasRole("admin") {
		return true
	}
	s := st.sub(u.id, r.id)
	return s != nil && (slices.Contains(s.roles, "owner") || slices.Contains(s.roles, "moderator"))
}

// chatReact: POST /api/v1/chat.react. Without shouldReact (or with null)
// it toggles the user's reaction. Like the real server (executeSetReaction
// compares shouldReact with a userAlreadyReacted that is undefined while a
// message has no reaction at all), shouldReact false on a message without
// any reaction adds the reaction.
func (s *Server) chatReact(c *reqCtx) {
	p := c.bodyParams()
	props := func(name string) []prop {
		return []prop{{name, kString}, {"messageId", kNonEmpty}, {"shouldReact", kBoolNull}}
	}
	branch, msgs := oneOf(p,
		schema{required: []string{"emoji", "messageId"}, props: props("emoji")},
		schema{required: []string{"reaction", "messageId"}, props: props("reaction")},
	)
	if branch < 0 {
		c.legacyInvalidParams(msgs)
		return
	}
	id, _ := coerceString(p["messageId"])
	emoji, _ := coerceString(p["emoji"])
	if branch == 1 {
		emoji, _ = coerceString(p["reaction"])
	}
	var should *bool
	if v, ok := p["shouldReact"]; ok && v != nil {
		b, _ := coerceBoolNull(v)
		should = &b
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.msgs[id]
	if m == nil {
		c.meteorError("error-message-not-found", `The provided "messageId" does not match any existing message.`, nil)
		return
	}
	if emoji == "" {
		c.meteorError("error-emoji-param-not-provided", `The required "emoji" param is missing.`, nil)
		return
	}
	emoji = ":" + strings.ReplaceAll(emoji, ":", "") + ":"
	if !knownEmoji[emoji] {
		c.meteorError("error-not-allowed", "Invalid emoji provided.", obj{{"method", "setReaction"}})
		return
	}
	i := slices.IndexFunc(m.reactions, func(r reaction) bool { return r.emoji == emoji })
	already := i >= 0 && slices.Contains(m.reactions[i].usernames, c.user.username)
	if should != nil && *should == already && len(m.reactions) > 0 {
		kind := ActionReact // nothing to change: the user's reaction is as asked
		if !already {
			kind = ActionUnreact
		}
		s.logAction(Action{Kind: kind, UserID: c.user.id, RoomID: m.rid, MessageID: m.id, Emoji: emoji})
		c.success(nil)
		return
	}
	if r := s.st.rooms[m.rid]; r == nil || !s.st.canAccess(c.user.id, r) {
		c.meteorError("not-authorized", "Not Authorized", obj{{"method", "setReaction"}})
		return
	}
	kind := ActionReact
	switch {
	case already:
		kind = ActionUnreact
		m.reactions[i].usernames = slices.DeleteFunc(m.reactions[i].usernames, func(n string) bool { return n == c.user.username })
		if len(m.reactions[i].usernames) == 0 {
			m.reactions = slices.Delete(m.reactions, i, i+1)
		}
	case i >= 0:
		m.reactions[i].usernames = append(m.reactions[i].usernames, c.user.username)
	default:
		m.reactions = append(m.reactions, reaction{emoji: emoji, usernames: []string{c.user.username}})
	}
	m.updatedAt = c.now
	s.st.lastMessageChanged(m, c.now)
	s.st.emitMessage(m) // the real server sends every change of a message on its streams
	s.logAction(Action{Kind: kind, UserID: c.user.id, RoomID: m.rid, MessageID: m.id, Emoji: emoji})
	c.success(nil)
}

// chatUpdate: POST /api/v1/chat.update (a typed route: its validation
// failure is the typed-body one). The text of the user's own message, or of
// any message for a moderator of the room; the same text changes nothing.
func (s *Server) chatUpdate(c *reqCtx) {
	p := c.bodyParams()
	if msg, ok := (schema{required: []string{"roomId", "msgId", "text"},
		props: []prop{{"roomId", kString}, {"msgId", kString}, {"text", kString}, {"previewUrls", kAny}, {"customFields", kAny}},
	}).check(p); !ok {
		c.invalidParams("invalid-params", []string{msg})
		return
	}
	rid, _ := coerceString(p["roomId"])
	id, _ := coerceString(p["msgId"])
	text, _ := coerceString(p["text"])

	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.findRoomMessage(c, rid, id)
	if !ok {
		return
	}
	r := s.st.rooms[m.rid]
	if m.msg != text {
		if m.uid != c.user.id && !s.st.moderates(c.user, r) {
			c.meteorError("error-action-not-allowed", "Message editing not allowed",
				obj{{"method", "updateMessage"}, {"action", "Message_editing"}})
			return
		}
		if !s.st.canAccess(c.user.id, r) {
			c.meteorError("error-not-allowed", "Not allowed", obj{{"method", "canSendMessage"}})
			return
		}
		if len([]rune(text)) > maxMessageSize {
			c.meteorError("error-message-size-exceeded", "Message size exceeds Message_MaxAllowedSize", nil)
			return
		}
		m.msg, m.mentions = text, s.st.mentionsOf(text)
		m.editedAt, m.editedBy, m.updatedAt = c.now, c.user.id, c.now
		s.st.lastMessageChanged(m, c.now)
		s.st.emitMessage(m) // §6: an edit is the whole message again on the streams
	}
	c.success(obj{{"message", s.st.messageObj(m)}})
}

// chatDelete: POST /api/v1/chat.delete. The user's own message, or any
// message for a moderator of the room (asUser: as its author, which needs
// force-delete-message, an admin's). A thread's first message with replies
// stays as a removed-message marker (t "rm"), as with the real defaults
// (Message_KeepHistory off, kept for threads); any other goes, and a
// thread reply counts off its thread.
func (s *Server) chatDelete(c *reqCtx) {
	p := c.bodyParams()
	if msg, ok := (schema{required: []string{"msgId", "roomId"},
		props: []prop{{"msgId", kString}, {"roomId", kString}, {"asUser", kBoolNull}},
	}).check(p); !ok {
		c.legacyInvalidParams([]string{msg})
		return
	}
	rid, _ := coerceString(p["roomId"])
	id, _ := coerceString(p["msgId"])
	asUser, _ := coerceBoolNull(p["asUser"])

	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.findRoomMessage(c, rid, id)
	if !ok {
		return
	}
	r := s.st.rooms[m.rid]
	if asUser && m.uid != c.user.id && !c.user.hasRole("admin") {
		c.fail(`Unauthorized. You must have the permission "force-delete-message" to delete other's message as them.`)
		return
	}
	if !c.user.hasRole("admin") && (!s.st.canAccess(c.user.id, r) || (m.uid != c.user.id && !s.st.moderates(c.user, r))) {
		c.meteorError("error-action-not-allowed", "Not allowed", nil)
		return
	}
	ref := obj{{"_id", m.id}, {"rid", m.rid}, {"u", userRef(s.st.users[m.uid])}}
	s.st.deleteMessage(c.user, r, m, c.now)
	c.success(obj{{"_id", m.id}, {"ts", strconv.FormatInt(c.now.UnixMilli(), 10)}, {"message", ref}})
}

// findRoomMessage returns message id, which must be in room rid, or
// writes the failure chat.update and chat.delete answer; s.mu is held.
func (s *Server) findRoomMessage(c *reqCtx, rid, id string) (*message, bool) {
	m := s.st.msgs[id]
	switch {
	case m == nil:
		c.fail(fmt.Sprintf("No message found with the id of %q.", id))
		return nil, false
	case m.rid != rid:
		c.fail("The room id provided does not match where the message is from.")
		return nil, false
	}
	return m, true
}

// mentionsOf parses the mentions of text as a message records them:
// @all, @here and existing users, by their exact username (the server
// looks them up with username $in [...]: "@BOB" is no mention of bob).
func (st *state) mentionsOf(text string) []mention {
	var out []mention
	for _, name := range parseMentions(text) {
		switch name {
		case "all", "here":
			out = append(out, mention{id: name, username: name, typ: "user"})
		default:
			if u := st.userByName(name); u != nil && u.username == name {
				out = append(out, mention{id: u.id, username: u.username, name: u.name, typ: "user"})
			}
		}
	}
	return out
}

// deleteMessage removes m from r as by, at now.
func (st *state) deleteMessage(by *user, r *room, m *message, now time.Time) {
	if m.tcount > 0 {
		m.t, m.msg, m.mentions, m.attachments, m.reactions = "rm", "", nil, nil, nil
		m.editedAt, m.editedBy, m.updatedAt = now, by.id, now
		return
	}
	delete(st.msgs, m.id)
	r.msgs = slices.DeleteFunc(r.msgs, func(x *message) bool { return x == m })
	if parent := st.msgs[m.tmid]; parent != nil && parent.tcount > 0 {
		parent.tcount--
		parent.updatedAt = now
	}
}

// messageExtras appends to o, a message's object, what chat.update,
// chat.react and chat.delete recorded: t, editedAt, editedBy, reactions.
func (st *state) messageExtras(o obj, m *message) obj {
	if m.t != "" {
		o = append(o, field{"t", m.t})
	}
	if !m.editedAt.IsZero() {
		o = append(o, field{"editedAt", jsTime(m.editedAt)}, field{"editedBy", userRef(st.users[m.editedBy])})
	}
	if len(m.reactions) > 0 {
		rs := make(obj, 0, len(m.reactions))
		for _, r := range m.reactions {
			rs = append(rs, field{r.emoji, obj{{"usernames", r.usernames}}})
		}
		o = append(o, field{"reactions", rs})
	}
	return o
}

// roomsInfo: GET /api/v1/rooms.info. roomId, when present (even empty),
// wins over roomName; a room the user may not see answers the route's own
// odd failure body (error "not-allowed", errorType "Not Allowed").
func (s *Server) roomsInfo(c *reqCtx) {
	hasID, hasName := c.query.Has("roomId"), c.query.Has("roomName")
	id, name := c.query.Get("roomId"), c.query.Get("roomName")
	if (!hasID && !hasName) || (hasID && id == "" && hasName && name == "") {
		c.meteorError("error-roomid-param-not-provided", `The parameter "roomId" or "roomName" is required`, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var r *room
	if hasID {
		r = s.st.rooms[id]
	} else {
		r = s.st.roomByName(name)
	}
	if r == nil {
		c.meteorError("error-room-not-found", `The required "roomId" or "roomName" param provided does not match any channel`, nil)
		return
	}
	if !s.st.canAccess(c.user.id, r) {
		c.respond(http.StatusBadRequest, obj{{"success", false}, {"error", "not-allowed"}, {"errorType", "Not Allowed"}}.bytes())
		return
	}
	o := obj{{"room", s.st.roomObj(r)}}
	if parent := s.st.rooms[r.prid]; parent != nil {
		o = append(o, field{"parent", obj{{"_id", parent.id}, {"name", parent.name}, {"fname", parent.fname}, {"t", parent.t}}})
	}
	c.success(o)
}

// roomsGet: GET /api/v1/rooms.get?updatedSince=: the rooms the user has
// a subscription to, changed after updatedSince when given (strictly, as
// subscriptions.get), by the room's _updatedAt (room.updated). remove is
// always empty: rooms are never deleted here.
func (s *Server) roomsGet(c *reqCtx) {
	var since time.Time
	if v := c.query.Get("updatedSince"); v != "" {
		t, ok := parseJSDate(v)
		if !ok {
			c.meteorError("error-updatedSince-param-invalid", `The "updatedSince" query parameter must be a valid date.`, nil)
			return
		}
		since = t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	update := []obj{}
	for _, sub := range s.st.subList[c.user.id] {
		r := s.st.rooms[sub.rid]
		if r == nil || !r.updated().After(since) {
			continue
		}
		update = append(update, s.st.roomObj(r))
	}
	c.success(obj{{"update", update}, {"remove", []obj{}}})
}

// lastMessageChanged records that m changed at now (an edit, a
// reaction): when m is its room's last message (the room keeps a copy,
// lastMessage), the room changes too.
func (st *state) lastMessageChanged(m *message, now time.Time) {
	r := st.rooms[m.rid]
	if r == nil {
		return
	}
	for _, x := range slices.Backward(r.msgs) {
		if x.tmid == "" {
			if x == m {
				r.changed = now
			}
			return
		}
	}
}

// updated is r's _updatedAt: its creation, or the last message posted in
// it (a thread reply too), or an edit or a reaction of its last message.
func (r *room) updated() time.Time {
	t := r.ts
	for _, u := range []time.Time{r.lm, r.changed} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// roomObj renders r as an IRoom.
func (st *state) roomObj(r *room) obj {
	members := st.members(r)
	slices.SortFunc(members, func(a, b *subscription) int { return a.ts.Compare(b.ts) })
	o := obj{{"_id", r.id}, {"t", r.t}}
	if r.t == "d" {
		var uids, names []string
		for _, m := range members {
			if u := st.users[m.uid]; u != nil {
				uids, names = append(uids, u.id), append(names, u.username)
			}
		}
		o = append(o, field{"uids", uids}, field{"usernames", names})
	} else {
		o = append(o, field{"name", r.name}, field{"fname", r.fname})
		for _, m := range members {
			if slices.Contains(m.roles, "owner") {
				o = append(o, field{"u", userRef(st.users[m.uid])})
				break
			}
		}
	}
	if r.prid != "" {
		o = append(o, field{"prid", r.prid})
	}
	if r.v != nil {
		o = append(o, field{"v", obj{{"_id", r.v.id}, {"username", r.v.username}, {"token", r.v.token}}})
	}
	o = append(o, field{"msgs", len(r.msgs)}, field{"usersCount", len(members)}, field{"ts", jsTime(r.ts)},
		field{"ro", false}, field{"default", r.id == GeneralRoomID}, field{"sysMes", true})
	if !r.lm.IsZero() {
		o = append(o, field{"lm", jsTime(r.lm)})
	}
	return append(o, field{"_updatedAt", jsTime(r.updated())})
}
