package realtime

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/rc"
)

// peer is the server's side of one websocket session, played by a test.
type peer struct {
	ws  *websocket.Conn
	ctx context.Context
}

func (p *peer) read() map[string]any {
	_, data, err := p.ws.Read(p.ctx)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m
}

func (p *peer) write(frame string) { _ = p.ws.Write(p.ctx, websocket.MessageText, []byte(frame)) }

// hello answers connect and the login (as user "u").
func (p *peer) hello() {
	p.read() // connect
	p.write(`{"msg":"connected","session":"s"}`)
	m := p.read()
	p.write(`{"msg":"result","id":"` + str(m["id"]) + `","result":{"id":"u","token":"t","type":"resume"}}`)
}

func str(v any) string { s, _ := v.(string); return s }

// scripted is a server whose every session plays play; the session ends
// when play returns.
func scripted(t *testing.T, play func(p *peer)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		play(&peer{ws: ws, ctx: r.Context()})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestPongEchoesID(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 2)
	url := scripted(t, func(p *peer) {
		p.write(`{"msg":"ping","id":"early"}`) // before connected: the client answers it too
		if m := p.read(); m["msg"] != "connect" {
			got <- m
			return
		}
		got <- p.read()
		p.write(`{"msg":"connected","session":"s"}`)
		m := p.read()
		p.write(`{"msg":"result","id":"` + str(m["id"]) + `","result":{"id":"u"}}`)
		p.write(`{"msg":"ping","id":"x7"}`)
		got <- p.read()
		p.read() // until the client goes
	})
	c := dialToken(t, url, "t")
	assert.Equal(t, map[string]any{"msg": "pong", "id": "early"}, <-got, "during the handshake")
	assert.Equal(t, map[string]any{"msg": "pong", "id": "x7"}, <-got, "connected")
	assert.Equal(t, "u", c.UserID())
}

func TestHandshakeFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		play  func(p *peer)
		want  string
		final bool
	}{
		{"version refused", func(p *peer) {
			p.read()
			p.write(`{"msg":"failed","version":"pre1"}`)
			p.read()
		}, `does not speak DDP version 1 (it offers "pre1")`, false},
		{"rate limited", func(p *peer) {
			p.read()
			p.write(`{"msg":"connected","session":"s"}`)
			m := p.read()
			p.write(`{"msg":"result","id":"` + str(m["id"]) + `","error":{"error":"too-many-requests","reason":"Error, too many requests","message":"Error, too many requests [too-many-requests]","errorType":"Meteor.Error","details":{"timeToReset":1000}}}`)
			p.read()
		}, "realtime: login: Error, too many requests [too-many-requests]", false},
		{"no user id", func(p *peer) {
			p.read()
			p.write(`{"msg":"connected","session":"s"}`)
			m := p.read()
			p.write(`{"msg":"result","id":"` + str(m["id"]) + `"}`)
			p.read()
		}, "a result without the user id", false},
		{"closed", func(p *peer) {
			p.read()
		}, "realtime: reading", false},
		{"garbage", func(p *peer) {
			p.read()
			p.write(`{"msg":`)
		}, "malformed frame", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Dial(ctx5(t), scripted(t, tc.play), "t")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotErrorIs(t, err, ErrLoginRefused, "not final")
			assert.NotErrorIs(t, err, rc.ErrUnauthorized)
		})
	}
}

func TestRateLimitedLoginKeepsDetails(t *testing.T) {
	t.Parallel()
	url := scripted(t, func(p *peer) {
		p.read()
		p.write(`{"msg":"connected","session":"s"}`)
		m := p.read()
		p.write(`{"msg":"result","id":"` + str(m["id"]) + `","error":{"error":"too-many-requests","reason":"slow down","details":{"timeToReset":1000}}}`)
		p.read()
	})
	_, err := Dial(ctx5(t), url, "t")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "too-many-requests", se.Code)
	assert.JSONEq(t, `{"timeToReset":1000}`, string(se.Details))
}

func TestConnectionLostFailsCalls(t *testing.T) {
	t.Parallel()
	url := scripted(t, func(p *peer) {
		p.hello()
		p.read() // the call: never answered
	}) // the session ends: the connection closes
	c := dialToken(t, url, "t", WithBackoff(rc.Backoff{Min: 1 << 40, Max: 1 << 40}))
	_, err := c.Call(ctx5(t), "slow")
	assert.ErrorIs(t, err, ErrConnectionLost)
	assert.Equal(t, "realtime: connection lost before the result: slow", err.Error())
}

func TestServerErrorFrameIgnored(t *testing.T) {
	t.Parallel()
	url := scripted(t, func(p *peer) {
		p.hello()
		p.write(`{"msg":"error","reason":"Bad request"}`)
		p.write(`{"msg":"added","collection":"users","id":"u","fields":{}}`)
		m := p.read()
		p.write(`{"msg":"result","id":"` + str(m["id"]) + `"}`)
		p.write(`{"msg":"updated","methods":["` + str(m["id"]) + `"]}`)
		p.read()
	})
	c := dialToken(t, url, "t")
	res, err := c.Call(ctx5(t), "falsy")
	require.NoError(t, err)
	assert.Nil(t, res, "a falsy result is left out")
	assert.Equal(t, 1, c.Stats().Connections)
}
