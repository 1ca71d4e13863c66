package luabind

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
)

// Subscriptions is what the bindings need of the client's subscriptions
// service (*rc.SubscriptionsService). Like every *Raw method of these
// interfaces, GetRaw and GetOneRaw hand the returned bytes over to the
// caller: luabind decodes them in place, and the Lua strings it makes may
// share their memory, so the implementation must not change them later.
type Subscriptions interface {
	GetRaw(ctx context.Context, opts *rc.GetSubscriptionsOptions) ([]byte, error)
	GetOneRaw(ctx context.Context, roomID string) ([]byte, error)
	Read(ctx context.Context, roomID string, opts *rc.ReadOptions) error
	Unread(ctx context.Context, roomID string) error
	UnreadFromMessage(ctx context.Context, messageID string) error
}

// Chat is what the bindings need of the client's chat service
// (*rc.ChatService).
type Chat interface {
	PostMessageRaw(ctx context.Context, m *rc.PostMessage) ([]byte, error)
}

// Users is what the bindings need of the client's users service
// (*rc.UsersService).
type Users interface {
	InfoRaw(ctx context.Context, opts rc.UserInfoOptions) ([]byte, error)
}

// API is what the bindings need of the client itself (*rc.Client): the
// current user and raw calls to any endpoint.
type API interface {
	MeRaw(ctx context.Context) ([]byte, error)
	GetRaw(ctx context.Context, endpoint string, query url.Values) ([]byte, error)
	PostRaw(ctx context.Context, endpoint string, body any) ([]byte, error)
}

// Module holds the dependencies of the rc table. A nil service makes its
// calls return nil, err (error_type "unavailable"). A Module is not changed
// by Open and may be shared by many states.
type Module struct {
	Subscriptions Subscriptions
	Chat          Chat
	Users         Users
	API           API
	// Logger is the script's logger, used by rc.log.* and print.
	Logger zerolog.Logger
}

// FromClient returns a Module calling the services of c and logging to log.
func FromClient(c *rc.Client, log zerolog.Logger) *Module {
	return &Module{
		Subscriptions: c.Subscriptions,
		Chat:          c.Chat,
		Users:         c.Users,
		API:           c,
		Logger:        log,
	}
}

// WithLogger returns a shallow copy of m that logs to log.
func (m *Module) WithLogger(log zerolog.Logger) *Module {
	c := *m
	c.Logger = log
	return &c
}

// errUnavailable is returned by calls whose service the Module lacks.
var errUnavailable = errors.New("luabind: service not available")

// binding is the Module as installed in one state.
type binding struct {
	m  Module
	sd *stateData
}

// Open installs the global table rc (rc.subscriptions, rc.chat, rc.users,
// rc.me, rc.get, rc.post, rc.log, rc.json) into L and replaces the global
// print with one that logs at info level. The Module is copied: later
// changes to m do not reach L. Reading a missing key of rc or of its
// subtables raises an error naming it (see setStrict).
func (m *Module) Open(L *lua.LState) {
	b := &binding{m: *m, sd: dataOf(L)}
	fn := func(f lua.LGFunction) *lua.LFunction { return L.NewFunction(f) }

	subs := L.CreateTable(0, 4)
	subs.RawSetString("get", fn(b.subscriptionsGet))
	subs.RawSetString("get_one", fn(b.subscriptionsGetOne))
	subs.RawSetString("read", fn(b.subscriptionsRead))
	subs.RawSetString("unread", fn(b.subscriptionsUnread))

	chat := L.CreateTable(0, 1)
	chat.RawSetString("post_message", fn(b.chatPostMessage))

	users := L.CreateTable(0, 1)
	users.RawSetString("info", fn(b.usersInfo))

	logT := L.CreateTable(0, 4)
	logT.RawSetString("debug", fn(b.logAt(zerolog.DebugLevel, "rc.log.debug")))
	logT.RawSetString("info", fn(b.logAt(zerolog.InfoLevel, "rc.log.info")))
	logT.RawSetString("warn", fn(b.logAt(zerolog.WarnLevel, "rc.log.warn")))
	logT.RawSetString("error", fn(b.logAt(zerolog.ErrorLevel, "rc.log.error")))

	jsonT := L.CreateTable(0, 4)
	jsonT.RawSetString("encode", fn(b.jsonEncode))
	jsonT.RawSetString("decode", fn(b.jsonDecode))
	jsonT.RawSetString("array", fn(b.jsonArray))
	jsonT.RawSetString("null", b.sd.null)

	rcT := L.CreateTable(0, 12)
	rcT.RawSetString("subscriptions", subs)
	rcT.RawSetString("chat", chat)
	rcT.RawSetString("users", users)
	rcT.RawSetString("me", fn(b.me))
	rcT.RawSetString("get", fn(b.get))
	rcT.RawSetString("post", fn(b.post))
	rcT.RawSetString("log", logT)
	rcT.RawSetString("json", jsonT)
	setStrict(L, subs, "rc.subscriptions")
	setStrict(L, chat, "rc.chat")
	setStrict(L, users, "rc.users")
	setStrict(L, logT, "rc.log")
	setStrict(L, jsonT, "rc.json")
	setStrict(L, rcT, "rc")
	L.SetGlobal("rc", rcT)
	L.SetGlobal("print", fn(b.print))
}

// ctxOf returns the state's context, or context.Background when it has
// none.
func ctxOf(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}

// fail returns nil, err to Lua.
func (b *binding) fail(L *lua.LState, err error) int {
	L.Push(lua.LNil)
	L.Push(errorTable(L, b.sd, err))
	return 2
}

// decodeBody decodes a response body that must be a JSON object.
func (b *binding) decodeBody(L *lua.LState, endpoint string, body []byte) (*lua.LTable, error) {
	v, err := decodeString(L, b.sd, bodyString(body))
	if err != nil {
		return nil, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err)
	}
	tb, ok := v.(*lua.LTable)
	if !ok || isArrayMarked(tb) {
		return nil, fmt.Errorf("luabind: %s: %w", endpoint, errNotObject)
	}
	return tb, nil
}

// Malformed responses: errorTable reports them as error_type "decode".
var (
	errNotObject = errors.New("response is not a JSON object")
	errNoMember  = errors.New("response lacks the member")
)

// argError raises "file:line: bad argument #n to fn (msg)".
func argError(L *lua.LState, n int, fn, msg string) {
	L.RaiseError("bad argument #%d to %s (%s)", n, fn, msg)
}

// typeName names a value's type for error messages.
func typeName(v lua.LValue) string {
	if isNull(v) {
		return "rc.json.null"
	}
	return v.Type().String()
}

// checkID returns argument n, which must be a non-empty string.
func checkID(L *lua.LState, n int, fn, name string) string {
	return checkIDValue(L, n, fn, name, L.Get(n))
}

func checkIDValue(L *lua.LState, n int, fn, name string, v lua.LValue) string {
	s, ok := v.(lua.LString)
	if !ok {
		argError(L, n, fn, fmt.Sprintf("%s: string expected, got %s", name, typeName(v)))
	}
	if s == "" {
		argError(L, n, fn, name+" must not be empty")
	}
	return string(s)
}

// checkString returns an option value that must be a string.
func checkString(L *lua.LState, n int, fn, name string, v lua.LValue) string {
	s, ok := v.(lua.LString)
	if !ok {
		argError(L, n, fn, fmt.Sprintf("%s: string expected, got %s", name, typeName(v)))
	}
	return string(s)
}

// optTable returns argument n as a table, nil when it is absent or nil.
func optTable(L *lua.LState, n int, fn, name string) *lua.LTable {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil
	case *lua.LTable:
		return v
	default:
		argError(L, n, fn, fmt.Sprintf("%s: table expected, got %s", name, typeName(v)))
		return nil
	}
}

// eachOption calls f for every key of the options table tb (argument n);
// keys must be strings.
func eachOption(L *lua.LState, n int, fn string, tb *lua.LTable, f func(key string, v lua.LValue)) {
	for k, v := tb.Next(lua.LNil); k != lua.LNil; k, v = tb.Next(k) {
		ks, ok := k.(lua.LString)
		if !ok {
			argError(L, n, fn, fmt.Sprintf("unknown option %s (option keys are strings)", k.String()))
		}
		f(string(ks), v)
	}
}

func unknownOption(L *lua.LState, n int, fn, key string) {
	argError(L, n, fn, fmt.Sprintf("unknown option %q", key))
}

// checkTime converts an option given as an ISO-8601 string or Unix seconds.
func checkTime(L *lua.LState, n int, fn, name string, v lua.LValue) time.Time {
	switch v := v.(type) {
	case lua.LString:
		t, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			argError(L, n, fn, fmt.Sprintf("%s: not an ISO-8601 time: %q", name, string(v)))
		}
		return t
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
			argError(L, n, fn, fmt.Sprintf("%s: not a Unix time in seconds: %v", name, v))
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC()
	default:
		argError(L, n, fn, fmt.Sprintf("%s: ISO-8601 string or Unix seconds expected, got %s", name, typeName(v)))
		return time.Time{}
	}
}
