package rctest

// ExpireSessions ends every login session of username (the tokens that
// POST /api/v1/login created), as a real server does when a session
// passes the Login Expiration setting or an admin logs the user out
// everywhere: from then on a request made with one of those tokens gets
// the 401 body, and logging in again starts a new session. Personal access
// tokens are kept. It returns how many sessions ended; an unknown user
// has none.
func (s *Server) ExpireSessions(username string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.st.userByName(username)
	if u == nil {
		return 0
	}
	n := 0
	for h, rec := range s.st.tokens {
		if rec.uid == u.id && rec.kind == tokenKindLogin {
			delete(s.st.tokens, h)
			n++
		}
	}
	return n
}
