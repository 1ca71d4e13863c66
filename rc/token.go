package rc

// AuthToken returns the user id and the token the client authenticates
// with now (a personal access token, or the session of the last Login),
// or two empty strings when it has none. It is for other connections to
// the same server as the same user (the realtime API logs in with it):
// the token is a secret, never log it.
func (c *Client) AuthToken() (userID, token string) {
	cr := c.credentials()
	if cr == nil {
		return "", ""
	}
	return cr.userID, cr.token
}
