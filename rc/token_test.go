package rc_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// TestAuthTokenFollowsLogin: AuthToken is empty without credentials, the
// personal access token given, then the session of a Login, which the
// realtime API accepts as a resume token.
func TestAuthTokenFollowsLogin(t *testing.T) {
	t.Parallel()
	s := rctest.NewServer()
	defer s.Close()
	c, err := rc.New(s.URL)
	require.NoError(t, err)
	uid, tok := c.AuthToken()
	assert.Empty(t, uid+tok)

	c, err = rc.New(s.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	require.NoError(t, err)
	uid, tok = c.AuthToken()
	assert.Equal(t, [2]string{rctest.BotUserID, rctest.BotToken}, [2]string{uid, tok})

	require.NoError(t, c.Login(context.Background(), rctest.BotUsername, rctest.BotPassword))
	uid, tok = c.AuthToken()
	assert.Equal(t, rctest.BotUserID, uid)
	assert.NotEqual(t, rctest.BotToken, tok, "the session's token replaced the one given")
	assert.NotEmpty(t, tok)
}
