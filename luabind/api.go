package luabind

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// get is
//
//	rc.get(endpoint [, query]) -> body | nil, err
//
// endpoint is given without "/api/v1/" ("channels.info"; a leading "/",
// the prefix, a query or a URL raises, see rc.CheckEndpoint); query values are
// strings, numbers, booleans or sequences of them. The whole decoded body
// is returned. The query's keys and values, counted with a separator each,
// are at most 16 MiB.
func (b *binding) get(L *lua.LState) int {
	const fn = "rc.get"
	endpoint := checkEndpoint(L, fn)
	var query url.Values
	if tb := optTable(L, 2, fn, "query"); tb != nil {
		query = url.Values{}
		size := newBudget(L, fn, "query")
		add := func(k, v string) {
			size.add(len(k) + len(v) + 2) // k=v&
			query.Add(k, v)
		}
		eachOption(L, 2, fn, tb, func(k string, v lua.LValue) {
			seq, ok := v.(*lua.LTable)
			if !ok {
				add(k, queryValue(L, fn, k, v))
				return
			}
			n := 0
			for ik, iv := seq.Next(lua.LNil); ik != lua.LNil; ik, iv = seq.Next(ik) {
				n++
				if ik != lua.LNumber(n) { // Next visits the array part in order
					argError(L, 2, fn, fmt.Sprintf("query %q: a sequence of values expected, got key %s", clip(k), keyName(ik)))
				}
				add(k, queryValue(L, fn, k, iv))
			}
		})
	}
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.API.GetRaw(ctxOf(L), endpoint, query)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushBody(L, endpoint, body)
}

func queryValue(L *lua.LState, fn, key string, v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	case lua.LBool:
		if v {
			return "true"
		}
		return "false"
	}
	argError(L, 2, fn, fmt.Sprintf("query %q: string, number or boolean expected, got %s", clip(key), typeName(v)))
	return ""
}

// post is
//
//	rc.post(endpoint [, body]) -> body | nil, err
//
// body is encoded as JSON ({} when absent); the whole decoded response
// body is returned.
func (b *binding) post(L *lua.LState) int {
	const fn = "rc.post"
	endpoint := checkEndpoint(L, fn)
	raw := json.RawMessage("{}")
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case *lua.LTable:
		enc, err := luajson.Encode(ctxOf(L), v)
		if err != nil {
			argError(L, 2, fn, "body: "+err.Error())
		}
		raw = enc
	default:
		argError(L, 2, fn, "body: table expected, got "+typeName(v))
	}
	checkMethodBody(L, fn, endpoint, raw)
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	if k := postCount(endpoint, raw); k > 0 {
		if err := b.allowPost(fn+" "+endpoint, k); err != nil {
			return b.fail(L, err)
		}
	}
	body, err := b.m.API.PostRaw(ctxOf(L), endpoint, raw)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushBody(L, endpoint, body)
}

// checkEndpoint returns argument 1 of fn, an endpoint name rc.get and
// rc.post take (CheckEndpoint): a malformed or refused one is the
// script's mistake and raises with the reason, not nil, err.
func checkEndpoint(L *lua.LState, fn string) string {
	endpoint := checkID(L, 1, fn, "endpoint")
	if err := CheckEndpoint(endpoint); err != nil {
		argError(L, 1, fn, err.Error())
	}
	return endpoint
}

// sessionEndpoints are the endpoints that end or replace the daemon's own
// credentials: logout with a personal access token deletes the token
// (facts §1.4: it lives in the same list as login tokens), users.logout
// and users.removeOtherTokens remove login tokens, the personal access
// token endpoints remove or replace one, and login makes a session rclua
// does not manage. Keys are lower case: routes are matched without case.
var sessionEndpoints = map[string]bool{
	"login": true, "logout": true, "users.logout": true, "users.removeothertokens": true,
	"users.removepersonalaccesstoken": true, "users.regeneratepersonalaccesstoken": true,
	"method.call/logout": true, "method.callanon/logout": true,
	"method.call/removeothertokens": true, "method.callanon/removeothertokens": true,
}

// CheckEndpoint reports why rc.get and rc.post refuse endpoint, nil when
// they take it: a name the client refuses (rc.CheckEndpoint: a path, a
// query, an /api/v1/ prefix), or one that would end or replace the
// daemon's own credentials (rclua manages its session; a script calling
// logout would delete the daemon's personal access token).
func CheckEndpoint(endpoint string) error {
	if err := rc.CheckEndpoint(endpoint); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "rc: "))
	}
	if sessionEndpoints[routeOf(endpoint)] {
		return fmt.Errorf("endpoint %q is refused: it would end or replace the daemon's own session or token (rclua manages its login; logout with a personal access token deletes the token)", endpoint)
	}
	return nil
}

// routeOf is the route a valid endpoint name reaches, as a router matches
// it: lower case, without the slashes around it or "." segments
// ("//LogOut/" and "./logout" are "logout").
func routeOf(endpoint string) string {
	return strings.ToLower(strings.Trim(path.Clean("/"+endpoint), "/"))
}

// sessionMethods are the methods method.call and method.callAnon would
// run, named in their body's message, that end or replace the daemon's
// credentials.
var sessionMethods = map[string]bool{
	"logout": true, "removeothertokens": true,
	"personalaccesstokens:removetoken": true, "personalaccesstokens:regeneratetoken": true,
}

// checkMethodBody refuses a body of method.call or method.callAnon whose
// message (the DDP method call, as JSON) names a session method.
func checkMethodBody(L *lua.LState, fn, endpoint string, body []byte) {
	if m := methodOf(endpoint, body); sessionMethods[m] {
		argError(L, 2, fn, fmt.Sprintf("body: the method %q is refused: it would end or replace the daemon's own session or token", m))
	}
}

// methodOf returns the method a body of method.call or method.callAnon
// (endpoint) runs, named in its message (the DDP method call, as JSON),
// lower case; "" for another endpoint or a body without one.
func methodOf(endpoint string, body []byte) string {
	if r := routeOf(endpoint); !strings.HasPrefix(r, "method.call") {
		return ""
	}
	// Exact keys, as the server's JSON.parse reads them: encoding/json's
	// struct fields would take "METHOD" for "method" (the last of them),
	// and a body with both could name one method to this check and run
	// another.
	var outer map[string]json.RawMessage
	var message string
	if json.Unmarshal(body, &outer) != nil || json.Unmarshal(outer["message"], &message) != nil {
		return ""
	}
	var inner map[string]json.RawMessage
	var method string
	if json.Unmarshal([]byte(message), &inner) != nil || json.Unmarshal(inner["method"], &method) != nil {
		return ""
	}
	return strings.ToLower(method)
}

// keyName renders a table key in an error message: quoted when a string.
func keyName(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok {
		return fmt.Sprintf("%q", clip(string(s)))
	}
	return k.String()
}
