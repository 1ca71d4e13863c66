package rctest

import (
	"net/http"
	"slices"
)

// chatSyncMessages: GET /api/v1/chat.syncMessages in its lastUpdate mode:
// the room's messages whose _updatedAt is strictly after lastUpdate,
// newest first, and no deletions (rctest records none). The cursor mode
// (next/previous with type) is not served: a 400 that says so, not the
// server's "param is missing". The error texts are UNVERIFIED imitations
// with the documented codes.
func (s *Server) chatSyncMessages(c *reqCtx) {
	rid := c.query.Get("roomId")
	if rid == "" {
		c.invalidParams("error-invalid-params", []string{"must have required property 'roomId'"})
		return
	}
	v := c.query.Get("lastUpdate")
	if v == "" && c.query.Get("type") != "" {
		c.meteorError("rctest-cursor-mode-not-served", "rctest serves chat.syncMessages' lastUpdate mode only, not its cursor mode (type, next, previous)", nil)
		return
	}
	if v == "" {
		c.meteorError("error-param-required", `The required "lastUpdate" or "type" param is missing`, nil)
		return
	}
	since, ok := parseJSDate(v)
	if !ok {
		c.meteorError("error-lastUpdate-param-invalid", `The "lastUpdate" query parameter must be a valid date.`, nil)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.rooms[rid]
	if r == nil || !s.st.canAccess(c.user.id, r) {
		c.meteorError("error-not-allowed", "Not allowed", nil)
		return
	}
	var list []*message
	for _, m := range r.msgs {
		if m.updatedAt.After(since) {
			list = append(list, m)
		}
	}
	slices.Reverse(list) // newest first
	b := []byte(`{"result":{"updated":[`)
	for i, m := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s.st.messageObj(m).bytes()...)
	}
	b = append(b, `],"deleted":[]},"success":true}`...)
	c.respond(http.StatusOK, b)
}
