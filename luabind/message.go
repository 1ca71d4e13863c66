package luabind

import (
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/runtime/sandbox/luapattern"
)

// Messages: the "message" event, the methods of its msg table, and the
// triggers on it (rc.on("message"), rc.hear, rc.respond).

// eventMessage is the event kind of messages.
const eventMessage = "message"

// actionCreated is the action of a new message (runtime/source's
// ActionCreated); any later state of a message comes as another action
// ("updated"), which hear and respond ignore.
const actionCreated = "created"

// messageMetaKey is where Open keeps, in the state's registry, the
// metatable EventArgs gives message tables.
const messageMetaKey = "rclua.luabind.message"

// messageArgs are the arguments of a message event: (msg, action).
func messageArgs(L *lua.LState, action string, raw []byte) ([]lua.LValue, error) {
	v, err := luajson.DecodeBytes(L, raw)
	if err != nil {
		return nil, fmt.Errorf("luabind: message event: %w", err)
	}
	msg, ok := v.(*lua.LTable)
	if !ok || luajson.IsArray(msg) {
		return nil, errors.New("luabind: message event: not a JSON object")
	}
	if mt, ok := L.G.Registry.RawGetString(messageMetaKey).(*lua.LTable); ok {
		msg.Metatable = mt
	}
	return []lua.LValue{msg, actionValue(action)}, nil
}

// installMessages creates the metatable of message tables: their methods
// are found through __index, so they are no keys of the table (pairs and
// rc.json.encode see only the server's fields) and a field of the same
// name would hide them.
func (b *binding) installMessages(L *lua.LState) {
	methods := L.CreateTable(0, 2)
	methods.RawSetString("reply", L.NewFunction(b.msgReply))
	methods.RawSetString("react", L.NewFunction(b.msgReact))
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", methods)
	mt.RawSetString("__name", lua.LString("rc.message"))
	L.G.Registry.RawSetString(messageMetaKey, mt)
}

// str returns tb[key] when it is a string, else "".
func str(tb *lua.LTable, key string) string {
	s, _ := tb.RawGetString(key).(lua.LString)
	return string(s)
}

// isSet reports whether v is a value other than nil, false and
// rc.json.null.
func isSet(v lua.LValue) bool {
	return lua.LVAsBool(v) && !luajson.IsNull(v)
}

// checkMessage returns argument 1 of method fn, a message table.
func checkMessage(L *lua.LState, fn string) *lua.LTable {
	msg, ok := L.Get(1).(*lua.LTable)
	if !ok {
		argError(L, 1, fn, fmt.Sprintf("message table expected (call it as %s(...)), got %s", fn, typeName(L.Get(1))))
	}
	return msg
}

// msgReply is
//
//	msg:reply(text | {text = s, attachments = {...}, thread = bool}) -> message | nil, err
//
// It posts in msg's room and, by default, in msg's thread: a reply to a
// thread message goes to that thread, a reply to a message of the room to
// the room. thread = true replies in the thread (starting one on a
// message of the room), thread = false in the room.
func (b *binding) msgReply(L *lua.LState) int {
	const fn = "msg:reply"
	msg := checkMessage(L, fn)
	post := &rc.PostMessage{RoomID: str(msg, "rid")}
	tmid := str(msg, "tmid")
	thread := tmid != ""
	switch v := L.Get(2).(type) {
	case lua.LString:
		post.Text = string(v)
	case *lua.LTable:
		eachOption(L, 2, fn, v, func(k string, v lua.LValue) {
			switch k {
			case "text":
				post.Text = checkString(L, 2, fn, k, v)
			case "attachments":
				post.RawAttachments = checkAttachments(L, 2, fn, v)
			case "thread":
				bv, ok := v.(lua.LBool)
				if !ok {
					argError(L, 2, fn, "thread: boolean expected, got "+typeName(v))
				}
				thread = bool(bv)
			default:
				unknownOption(L, 2, fn, k)
			}
		})
	default:
		argError(L, 2, fn, "text or table expected, got "+typeName(v))
	}
	if post.RoomID == "" {
		L.RaiseError("%s: the message has no rid", fn)
	}
	if thread {
		if tmid == "" {
			tmid = str(msg, "_id")
		}
		if tmid == "" {
			L.RaiseError("%s: the message has no _id to reply in its thread", fn)
		}
		post.ThreadID = tmid
	}
	checkPostSize(L, fn, post)
	if b.m.Chat == nil {
		return b.fail(L, errUnavailable)
	}
	if err := b.allowPost(fn, 1); err != nil {
		return b.fail(L, err)
	}
	body, err := b.m.Chat.PostMessageRaw(ctxOf(L), post)
	if err != nil {
		return b.fail(L, err)
	}
	return b.pushMember(L, "chat.postMessage", body, "message", false)
}

// msgReact is
//
//	msg:react(emoji) -> true | nil, err
//
// It adds the bot's reaction (rc.chat.react with should_react = true).
func (b *binding) msgReact(L *lua.LState) int {
	const fn = "msg:react"
	msg := checkMessage(L, fn)
	emoji := checkID(L, 2, fn, "emoji")
	id := str(msg, "_id")
	if id == "" {
		L.RaiseError("%s: the message has no _id", fn)
	}
	should := true
	return b.react(L, &rc.Reaction{MessageID: id, Emoji: emoji, ShouldReact: &should})
}

// matcher is a pattern of rc.hear and rc.respond: a Lua pattern or an
// rc.re expression.
type matcher interface {
	// match returns the values the handler gets after msg: the captures,
	// or the whole match without captures.
	match(L *lua.LState, text string) ([]lua.LValue, bool)
	label() string
}

// luaPattern is a Lua pattern, matched by the sandbox's bounded matcher.
type luaPattern struct {
	src string
	p   *luapattern.Pattern
}

func (p luaPattern) label() string { return fmt.Sprintf("%q", clip(p.src)) }

func (p luaPattern) match(L *lua.LState, text string) ([]lua.LValue, bool) {
	var b luapattern.Budget
	if ctx := L.Context(); ctx != nil {
		b.Check = ctx.Err
	}
	m, ok, err := p.p.Find(&b, text, 0)
	if err != nil {
		L.RaiseError("pattern %s: %v", p.label(), err)
	}
	if !ok {
		return nil, false
	}
	if len(m.Captures) == 0 {
		return []lua.LValue{lua.LString(text[m.Start:m.End])}, true
	}
	out := make([]lua.LValue, len(m.Captures))
	for i, c := range m.Captures {
		if c.Position {
			out[i] = lua.LNumber(c.Start + 1)
		} else {
			out[i] = lua.LString(text[c.Start:c.End])
		}
	}
	return out, true
}

// checkPattern returns argument 1 of fn, a pattern.
func checkPattern(L *lua.LState, fn string) matcher {
	switch v := L.Get(1).(type) {
	case lua.LString:
		p, err := luapattern.Compile(string(v), true)
		if err != nil {
			argError(L, 1, fn, fmt.Sprintf("bad pattern %q: %v", clip(string(v)), err))
		}
		return luaPattern{src: string(v), p: p}
	case *lua.LUserData:
		if r := regexOf(v); r != nil {
			return r
		}
	}
	argError(L, 1, fn, "pattern expected (a Lua pattern string or an rc.re object), got "+typeName(L.Get(1)))
	return nil
}

// hear is
//
//	rc.hear(pattern, fn) -> handle
//
// fn(msg, captures...) runs for every new message whose text matches.
func (b *binding) hear(L *lua.LState) int {
	m := checkPattern(L, "rc.hear")
	f := checkFunction(L, 2, "rc.hear")
	return b.register(L, Trigger{Kind: Hear, Event: eventMessage, Pattern: m.label(), Fn: b.messageTrigger(L, Hear, m, f)})
}

// respond is
//
//	rc.respond(pattern, fn) -> handle
//
// fn(msg, captures...) runs for every new message addressed to the bot
// whose text, without the mention, matches.
func (b *binding) respond(L *lua.LState) int {
	m := checkPattern(L, "rc.respond")
	f := checkFunction(L, 2, "rc.respond")
	return b.register(L, Trigger{Kind: Respond, Event: eventMessage, Pattern: m.label(), Fn: b.messageTrigger(L, Respond, m, f)})
}

// messageTrigger returns the function the host calls with a message
// event's (msg, action) for a trigger of kind on fn: it drops the bot's
// own messages; for hear and respond also any action but "created", edits,
// system messages and text m does not match (for respond: text not
// addressed to the bot); then it calls fn. fn is also the function's
// upvalue, so that what the state holds is seen through it.
func (b *binding) messageTrigger(L *lua.LState, kind TriggerKind, m matcher, fn *lua.LFunction) *lua.LFunction {
	return L.NewClosure(func(L *lua.LState) int {
		msg, ok := L.Get(1).(*lua.LTable)
		if !ok || b.isOwn(msg) {
			return 0
		}
		action := L.Get(2)
		if kind == On {
			L.Push(fn)
			L.Push(msg)
			L.Push(action)
			L.Call(2, 0)
			return 0
		}
		if action != lua.LString(actionCreated) || isSet(msg.RawGetString("editedAt")) || isSet(msg.RawGetString("t")) {
			return 0
		}
		text, ok := msg.RawGetString("msg").(lua.LString)
		if !ok {
			return 0
		}
		if kind == Respond {
			if text, ok = b.addressed(msg, text); !ok {
				return 0
			}
		}
		caps, ok := m.match(L, string(text))
		if !ok {
			return 0
		}
		L.Push(fn)
		L.Push(msg)
		L.Call(1+pushAll(L, caps), 0)
		return 0
	}, fn)
}

// isOwn reports whether the bot sent msg.
func (b *binding) isOwn(msg *lua.LTable) bool {
	u, ok := msg.RawGetString("u").(*lua.LTable)
	if !ok {
		return false
	}
	if b.m.Bot.ID != "" {
		return str(u, "_id") == b.m.Bot.ID
	}
	return b.m.Bot.Username != "" && str(u, "username") == b.m.Bot.Username
}

// addressed returns the text of msg meant for the bot, and whether msg is
// addressed to it: text that starts (after white space) with "@" and the
// bot's username (any case), followed by the end, white space, ":" or
// ",", gives what follows, white space trimmed; otherwise a message in the
// bot's direct-message room with its sender gives the whole text.
func (b *binding) addressed(msg *lua.LTable, text lua.LString) (lua.LString, bool) {
	name := b.m.Bot.Username
	t := strings.TrimLeft(string(text), spaces)
	if name != "" && len(t) > len(name) && t[0] == '@' && strings.EqualFold(t[1:1+len(name)], name) {
		rest := t[1+len(name):]
		if rest == "" {
			return "", true
		}
		switch c := rest[0]; {
		case c == ':' || c == ',':
			return lua.LString(strings.TrimLeft(rest[1:], spaces)), true
		case strings.IndexByte(spaces, c) >= 0:
			return lua.LString(strings.TrimLeft(rest, spaces)), true
		}
	}
	if b.inDM(msg) {
		return text, true
	}
	return "", false
}

// spaces is the white space respond trims around a mention.
const spaces = " \t\r\n"

// inDM reports whether msg is in the bot's direct-message room with its
// sender: Rocket.Chat names that room after the two users' ids,
// concatenated in sorted order.
func (b *binding) inDM(msg *lua.LTable) bool {
	bot := b.m.Bot.ID
	u, _ := msg.RawGetString("u").(*lua.LTable)
	if bot == "" || u == nil {
		return false
	}
	sender, rid := str(u, "_id"), str(msg, "rid")
	return sender != "" && (rid == sender+bot || rid == bot+sender)
}
