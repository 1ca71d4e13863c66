package luabind

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// usersTable is rc.users: the users.* endpoints (rc.UsersService). rc.me,
// the current user, lives in rc itself.
func (b *binding) usersTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.users", field{"info", b.usersInfo})
}

// usersInfo is
//
//	rc.users.info{username = name | user_id = id} -> user | nil, err
//
// Endpoint: GET users.info.
func (b *binding) usersInfo(L *lua.LState) int {
	const fn = "rc.users.info"
	tb := checkTable(L, 1, fn)
	var opts rc.UserInfoOptions
	eachOption(L, 1, fn, tb, func(k string, v lua.LValue) {
		switch k {
		case "username":
			opts.Username = checkIDValue(L, 1, fn, k, v)
		case "user_id":
			opts.UserID = checkIDValue(L, 1, fn, k, v)
		default:
			unknownOption(L, 1, fn, k)
		}
	})
	if (opts.Username == "") == (opts.UserID == "") {
		argError(L, 1, fn, "give exactly one of username and user_id")
	}
	if b.m.Users == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.Users.InfoRaw(ctxOf(L), opts)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushMember(L, "users.info", body, "user", false)
}

// me is
//
//	rc.me() -> user | nil, err
//
// Endpoint: GET me.
func (b *binding) me(L *lua.LState) int {
	if b.m.API == nil {
		return b.fail(L, errUnavailable)
	}
	body, err := b.m.API.MeRaw(ctxOf(L))
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushObject(L, "me", body)
}
