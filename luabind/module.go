package luabind

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
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
	React(ctx context.Context, r *rc.Reaction) error
	UpdateRaw(ctx context.Context, u *rc.UpdateMessage) ([]byte, error)
	Delete(ctx context.Context, roomID, messageID string) error
}

// Rooms is what the bindings need of the client's rooms service
// (*rc.RoomsService).
type Rooms interface {
	InfoRaw(ctx context.Context, opts rc.RoomInfoOptions) ([]byte, error)
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

// DefaultMinInterval is the shortest rc.every interval a Module accepts
// when its MinInterval is zero.
const DefaultMinInterval = time.Second

// Module holds the dependencies of the rc table. A nil service makes its
// calls return nil, err (error_type "unavailable"). A Module is not changed
// by Open and may be shared by many states.
type Module struct {
	Subscriptions Subscriptions
	Chat          Chat
	Users         Users
	Rooms         Rooms
	API           API
	// Store is the script's own namespace of the persistent store
	// (rc.store); nil makes rc.store's calls fail ("unavailable").
	Store Store
	// Logger is the script's logger, used by rc.log.* and print.
	Logger zerolog.Logger
	// MinInterval is the shortest interval rc.every accepts; zero means
	// DefaultMinInterval (1s).
	MinInterval time.Duration
	// Bot is the user the scripts run as (rc.me's _id and username, which
	// the daemon reads at start). The message triggers need it: they never
	// get the bot's own messages, and rc.respond takes a message as
	// addressed to the bot when it starts with "@" + Bot.Username or is in
	// the bot's direct-message room with its sender. Left zero, nothing is
	// the bot's own and rc.respond matches nothing.
	Bot rc.UserRef
	// Config is the script's settings, its section of the settings file:
	// rc.config (a fresh copy at each read). Values are strings, int64, float64, bools,
	// time.Time, []any and map[string]any (what a TOML decoder gives).
	Config map[string]any
	// Secrets answers rc.secret and redacts the values it gave from
	// rc.log and print. Nil: rc.secret returns nil, err.
	Secrets *Secrets
	// Posts bounds the messages the script posts (see PostLimit); nil:
	// no bound.
	Posts *PostLimit
}

// FromClient returns a Module calling the services of c and logging to log.
func FromClient(c *rc.Client, log zerolog.Logger) *Module {
	return &Module{
		Subscriptions: c.Subscriptions,
		Chat:          c.Chat,
		Users:         c.Users,
		Rooms:         c.Rooms,
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

// errNoSecrets is rc.secret's error without Module.Secrets.
var errNoSecrets = errors.New("no secrets are configured here")

// binding is the Module as installed in one state, with that state's host
// and the metatable of its error tables.
type binding struct {
	m          Module
	host       Host
	errMeta    *lua.LTable
	handleMeta *lua.LTable // of the handles registrations return
	reMeta     *lua.LTable // of rc.re objects
	inUpdate   bool        // an rc.store.update function runs
	large      largeDecodes
}

// Open installs the global table rc into L (rc.subscriptions, rc.chat,
// rc.users, rc.rooms, rc.me, rc.get, rc.post, rc.log, rc.json, rc.re,
// rc.config, rc.secret, rc.store and
// the triggers rc.on, rc.every, rc.cron, rc.hear, rc.respond, which hand
// their registrations to h, returning handles) and
// replaces the global print with one that logs at info level, and pairs
// and ipairs with ones honouring __pairs and __ipairs. With a nil h
// the triggers raise "no host runs triggers here". The Module is copied:
// later changes to m do not reach L. Reading a missing key of rc or of its
// subtables raises an error naming it (see setStrict).
func (m *Module) Open(L *lua.LState, h Host) {
	b := &binding{m: *m, host: h}
	if b.m.MinInterval <= 0 {
		b.m.MinInterval = DefaultMinInterval
	}
	b.errMeta = newErrorMeta(L, b)

	rcT := L.CreateTable(0, 18)
	rcT.RawSetString("subscriptions", b.subscriptionsTable(L))
	rcT.RawSetString("chat", b.chatTable(L))
	rcT.RawSetString("users", b.usersTable(L))
	rcT.RawSetString("rooms", b.roomsTable(L))
	rcT.RawSetString("me", L.NewFunction(bounded("rc.me", b.me)))
	rcT.RawSetString("get", L.NewFunction(bounded("rc.get", b.get)))
	rcT.RawSetString("post", L.NewFunction(bounded("rc.post", b.post)))
	rcT.RawSetString("log", b.logTable(L))
	rcT.RawSetString("json", b.jsonTable(L))
	rcT.RawSetString("re", b.reTable(L))
	rcT.RawSetString("time", b.timeTable(L))
	rcT.RawSetString("secret", L.NewFunction(bounded("rc.secret", b.secret)))
	rcT.RawSetString("store", b.storeTable(L))
	b.installTriggers(L, rcT)
	b.installMessages(L)
	setStrict(L, rcT, "rc", computed{"config", b.configCopy})
	L.SetGlobal("rc", rcT)
	L.SetGlobal("print", L.NewFunction(b.print))
}

// arity is the most arguments each function of APIDoc takes (absent: any
// number, "..." in its parameters). Built once; never written again.
var arity = func() map[string]int {
	out := map[string]int{}
	for _, e := range APIDoc() {
		if e.Class || e.Type != "" || strings.Contains(e.Name, ":") {
			continue
		}
		if slices.ContainsFunc(e.Params, func(p string) bool { return strings.HasPrefix(p, "...") }) {
			continue
		}
		out[e.Name] = len(e.Params)
	}
	return out
}()

// bounded is fn, the function name of the API, refusing more arguments
// than it takes: rc.json.encode(v, {indent = 2}) raises instead of
// ignoring the options it does not have.
func bounded(name string, fn lua.LGFunction) lua.LGFunction {
	n, ok := arity[name]
	if !ok {
		return fn
	}
	return func(L *lua.LState) int {
		if L.GetTop() > n {
			argError(L, n+1, name, ExtraArgMessage(name, n))
		}
		return fn(L)
	}
}

// ExtraArgMessage is the reason an argument past the last of fn, which
// takes n, is refused: "unexpected argument: rc.me takes no arguments"
// (rclua check words its finding the same).
func ExtraArgMessage(fn string, n int) string {
	takes := fmt.Sprintf("%d arguments", n)
	switch n {
	case 0:
		takes = "no arguments"
	case 1:
		takes = "1 argument"
	}
	return "unexpected argument: " + fn + " takes " + takes
}

// field is one function of an API table: its Lua name and its Go body.
type field struct {
	name string
	fn   lua.LGFunction
}

// namespace returns the strict API table called name ("rc.chat") holding
// fields, in that order.
func namespace(L *lua.LState, name string, fields ...field) *lua.LTable {
	tb := ltable.New(L, len(fields))
	for _, f := range fields {
		ltable.SetString(tb, f.name, L.NewFunction(bounded(name+"."+f.name, f.fn)))
	}
	setStrict(L, tb, name)
	return tb
}

// ctxOf returns the state's context, or context.Background when it has
// none.
func ctxOf(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}
