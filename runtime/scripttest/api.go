package scripttest

import "github.com/rclua/rclua/luabind"

// API describes the t table of test files in the form of luabind.APIDoc,
// for the LuaLS definition file rclua types writes (a test keeps it and
// the bound t table in step).
func API() []luabind.APIEntry {
	return []luabind.APIEntry{
		{Name: "t.Posted", Class: true, Doc: "A message the script posted.", Fields: []string{"room: string", "text: string", "thread?: string"}},
		{Name: "t.start", Params: []string{"time: string", "zone?: string"}, Doc: `Where each test's clock starts ("2026-12-07T08:00:00" in zone, default UTC); top level only.`},
		{Name: "t.secret", Params: []string{"name: string", "value: string"},
			Doc: `A secret the script finds as rc.secret(name), if its section of rclua.toml allows the name; top level only.`},
		{Name: "t.account", Params: []string{`kind: "bot"|"user"`},
			Doc: `The account the script runs as: "bot" (default; never rate limited) or "user" (a personal token: 10 calls per endpoint in 60 s of the fake clock, then 429); top level only.`},
		{Name: "t.config", Params: []string{"settings: table"},
			Doc: `The script's section of settings (rc.config), instead of rclua.toml's: at the top level for every test, inside a test for that test (the script is loaded again).`},
		{Name: "t.restart", Doc: "The daemon restarts: the script is loaded again (top level, timers from now), keeping the store, the server, the clock and the records."},
		{Name: "t.post", Params: []string{"msg: {room: string, text: string, user?: string, thread?: string}"}, Returns: []string{"rc.Message msg"},
			Doc: `A user (default alice) posts in room ("#general", "@user"); the script's handlers run before it returns.`},
		{Name: "t.edit", Params: []string{"msg: rc.Message", "text: string"}, Returns: []string{"rc.Message msg"},
			Doc: `The author of msg (as t.post returned it) edits it to text; the script's message handlers get it as "updated" (rc.hear and rc.respond skip edits).`},
		{Name: "t.subscribe", Params: []string{"room: string"}, Doc: `The bot joins room: an "inserted" subscription event.`},
		{Name: "t.subscription_changed", Params: []string{"room: string"}, Doc: `The bot's subscription of room again: an "updated" event.`},
		{Name: "t.subscription_removed", Params: []string{"room: string"}, Doc: `The bot leaves room: a "removed" event.`},
		{Name: "t.advance", Params: []string{"d: string|number"}, Doc: `The fake clock moves d ("90s", "1h30m", "2d" or seconds), firing the timers due, in order.`},
		{Name: "t.set_time", Params: []string{"time: string"}, Doc: "The fake clock moves forward to time, firing the timers due."},
		{Name: "t.now", Returns: []string{"integer seconds"}, Doc: "The fake clock, Unix seconds (as os.time())."},
		{Name: "t.fail", Params: []string{"endpoint: string", "status: integer", "error?: string", "times?: integer"},
			Doc: `The script's requests to endpoint ("chat.postMessage") fail with status (times of them, or all), served by the test server or not; a near miss of a served endpoint is refused.`},
		{Name: "t.posted", Returns: []string{"t.Posted[] posted"}, Doc: "The messages the script posted (by any route the server accepted), oldest first."},
		{Name: "t.reactions", Returns: []string{"{message: string, emoji: string, removed?: boolean}[] reactions"}, Doc: "The reactions the script added or removed."},
		{Name: "t.reads", Returns: []string{"{room?: string, message?: string, read_threads?: boolean, unread?: boolean}[] reads"}, Doc: "The rooms the script marked read or unread (message: unread from that message)."},
		{Name: "t.logs", Returns: []string{"table[] logs"}, Doc: "The script's log lines: {level =, message =, <fields>...}."},
		{Name: "t.errors", Returns: []string{"string[] errors"}, Doc: `The handler failures since the last call ("file:line: ..."); an unclaimed one fails the test.`},
		{Name: "t.store", Params: []string{"key: string", "value?: any"}, Returns: []string{"any value"}, Doc: "The value the script's rc.store holds under key (nil: none); with a value, seeds it as rc.store.set (nil deletes)."},
		{Name: "t.eq", Params: []string{"got: any", "want: any", "msg?: string"}, Doc: "Fails the test unless got equals want (tables compared deeply)."},
		{Name: "t.ne", Params: []string{"got: any", "other: any", "msg?: string"}, Doc: "Fails the test if got equals other (deeply)."},
		{Name: "t.ok", Params: []string{"v: any", "msg?: string"}, Doc: "Fails the test if v is nil or false."},
		{Name: "t.contains", Params: []string{"s: string|table", "x: any", "msg?: string"}, Doc: "Fails the test unless the string holds x (plain text) or the list a value equal to x."},
	}
}
