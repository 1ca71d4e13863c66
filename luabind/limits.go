package luabind

import (
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// maxStringBytes caps what one rc function builds from a script's values
// (a log line, print's output, a query, a JSON body): 16 MiB, the value of
// runtime/sandbox.MaxStringBytes, which bounds the strings the Lua library
// builds (luabind cannot import runtime, so it keeps luajson's copy of the
// value, luajson.MaxEncodeSize).
const maxStringBytes = luajson.MaxEncodeSize

// budgetCheckEvery is how many additions a budget makes between two looks
// at the state's deadline.
const budgetCheckEvery = 1 << 12

// budget counts the bytes one rc function builds from a script's values
// against maxStringBytes, and looks at the state's context every
// budgetCheckEvery additions. A table can hold one big string a million
// times: what the function builds is bounded only by counting it.
type budget struct {
	L     *lua.LState
	fn    string // the function: "rc.get"
	what  string // what it builds: "query"
	n     int
	steps int
}

// newBudget returns the budget of fn building what (for the error
// messages) in L.
func newBudget(L *lua.LState, fn, what string) *budget {
	return &budget{L: L, fn: fn, what: what, steps: budgetCheckEvery}
}

// add counts n bytes. It raises "<fn>: <what> exceeds the limit of
// 16777216 bytes" past the limit, and "<fn>: <the context's error>" once
// the context is done.
func (b *budget) add(n int) {
	b.n += n
	if b.n > maxStringBytes {
		b.L.RaiseError("%s: %s exceeds the limit of %d bytes", b.fn, b.what, maxStringBytes)
	}
	if b.steps--; b.steps > 0 {
		return
	}
	b.steps = budgetCheckEvery
	if ctx := b.L.Context(); ctx != nil && ctx.Err() != nil {
		b.L.RaiseError("%s: %v", b.fn, ctx.Err())
	}
}

// clip is how error messages show a string a script gave: at most 64
// bytes of it (luajson.Clip).
func clip(s string) string { return luajson.Clip(s) }

// check raises as add does when n more bytes would exceed the limit,
// without counting them.
func (b *budget) check(n int) {
	if b.n+n > maxStringBytes {
		b.L.RaiseError("%s: %s exceeds the limit of %d bytes", b.fn, b.what, maxStringBytes)
	}
}

// jsonLen is how many bytes s takes as a JSON string, quotes included,
// as the rc client encodes it (HTML characters not escaped): a control
// character is 6 bytes (\u0001), an invalid UTF-8 byte too (\ufffd), so a
// string within the cap can make a request body six times its size.
func jsonLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// checkPostSize raises when the body of chat.postMessage that post makes
// would pass the cap as JSON: its strings escaped, with the attachments.
func checkPostSize(L *lua.LState, fn string, post *rc.PostMessage) {
	b := newBudget(L, fn, "the message as JSON (text, alias, emoji, avatar and attachments together)")
	b.check(jsonLen(post.Text) + jsonLen(post.Alias) + jsonLen(post.Emoji) + jsonLen(post.Avatar) + len(post.RawAttachments))
}
