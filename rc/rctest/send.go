package rctest

// chatSendMessage: POST /api/v1/chat.sendMessage, {message: {rid, msg,
// _id, tmid, alias, emoji, avatar, attachments}, previewUrls}: one room
// by id, the client may choose the message's _id; a system message type
// (t) is refused. Posting follows chat.postMessage (a public channel is
// joined, alias and avatar need the bot or app role).
func (s *Server) chatSendMessage(c *reqCtx) {
	p := c.bodyParams()
	for k := range p {
		if k != "message" && k != "previewUrls" {
			c.invalidParams("invalid-params", []string{"must NOT have additional properties"})
			return
		}
	}
	in, ok := p["message"].(map[string]any)
	if !ok {
		c.invalidParams("invalid-params", []string{"must have required property 'message'"})
		return
	}
	var rid, id, t string
	var nm newMessage
	if !c.messageFields(in, true, []stringField{{"rid", &rid}, {"_id", &id}, {"t", &t}, {"msg", &nm.text}, {"tmid", &nm.tmid},
		{"alias", &nm.alias}, {"emoji", &nm.emoji}, {"avatar", &nm.avatar}}) ||
		!c.messageAttachments(in, &nm) {
		return
	}
	switch {
	case rid == "":
		c.fail("The 'rid' property on the message object is missing.")
		return
	case t != "":
		c.meteorError("error-invalid-message", "Invalid message type", nil)
		return
	case len([]rune(nm.text)) > maxMessageSize:
		c.meteorError("error-message-size-exceeded", "Message size exceeds Message_MaxAllowedSize", nil)
		return
	case (nm.alias != "" || nm.avatar != "") && !c.user.hasRole("bot", "app"):
		c.meteorError("error-not-allowed", "Not enough permission", nil)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.rooms[rid]
	if r == nil {
		c.meteorError("error-invalid-room", "Invalid room", nil)
		return
	}
	if s.st.msgs[id] != nil {
		c.meteorError("error-message-already-exists", "Message already exists", nil)
		return
	}
	if err := s.st.join(c.user, r, c.now); err != nil {
		c.fail("error-not-allowed")
		return
	}
	nm.id = id
	m, err := s.st.postMessage(c.user, r, nm, c.now)
	if err != nil {
		c.meteorError("error-invalid-message", "Invalid thread message", nil)
		return
	}
	s.logAction(Action{Kind: ActionPost, UserID: c.user.id, RoomID: m.rid, MessageID: m.id, Text: m.msg, ThreadID: m.tmid})
	c.success(obj{{"message", s.st.messageObj(m)}})
}
