package runtime

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// TestStopNamesTheRequestInFlight: a handler stopped at its deadline while
// a request hangs (the fake server holds it) says which request it was
// waiting for, by method and endpoint, never the query's values; one
// stopped while computing says nothing of a request.
func TestStopNamesTheRequestInFlight(t *testing.T) {
	t.Parallel()
	srv := rctest.NewServer()
	defer srv.Close()
	srv.Fault("rooms.info", rctest.Fault{Delay: time.Minute})
	srv.Fault("chat.postMessage", rctest.Fault{Delay: time.Minute})
	client, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	if !assert.NoError(t, err) {
		return
	}
	deps := Deps{Module: luabind.FromClient(client, zerolog.Nop())}
	th := startHostDeps(t, Config{HandlerTimeout: 300 * time.Millisecond}, deps, map[string]string{
		"get.lua":  "rc.every(\"1s\", function()\n  local ok, err = rc.get(\"rooms.info\", {roomName = \"hushhush\"})\n  rc.log.info(\"after\")\nend)\n",
		"post.lua": "rc.every(\"1s\", function()\n  rc.chat.post_message{channel = \"#general\", text = \"hushhush\"}\nend)\n",
		"spin.lua": "rc.every(\"1s\", function()\n  while true do end\nend)\n",
	})
	defer th.shutdown()
	for name, want := range map[string]string{
		"get":  "get.lua:2: stopped: the handler ran longer than the handler timeout (300ms) (waiting for GET rooms.info)",
		"post": "post.lua:2: stopped: the handler ran longer than the handler timeout (300ms) (waiting for POST chat.postMessage)",
		"spin": "spin.lua:2: stopped: the handler ran longer than the handler timeout (300ms)",
	} {
		st := th.waitStatus(name, "a timeout", func(s ScriptStatus) bool { return s.Timeouts > 0 })
		assert.Equal(t, want, st.LastError, name)
		assert.NotContains(t, st.LastError, "hushhush", "no query or body value")
	}
	assert.Zero(t, th.logs.count("after"), "the handler did not go on after the request")
}
