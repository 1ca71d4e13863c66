package luabind

// APIEntry describes one name of the Lua API: a function of the rc table
// ("rc.chat.react"), a method of a class ("rc.Message:reply"), a value
// ("rc.json.null", with Type), a global function ("print") or a class of
// data or objects (Class set: "rc.Error"). APIDoc lists them all; it is the
// one description behind the API reference (the code block of this
// package's doc and of the README: the Ref lines, joined in order) and the
// LuaLS definition file (Definitions, written by rclua types). A test
// keeps it and the bound rc table in step: every function bound is
// described, nothing described is not bound.
type APIEntry struct {
	Name string
	// Class marks a ---@class; Fields are its fields.
	Class bool
	// Type is a value's LuaLS type (a value, not a function).
	Type string
	// Params are a function's parameters, "name: type" ("name?: type"
	// when optional, "...: type" for the rest).
	Params []string
	// Returns are a function's results, "type [name]".
	Returns []string
	// Overloads are more precise signatures of the function for the
	// editor, LuaLS "fun(...): ..." types (rc.on's handler by event).
	Overloads []string
	// Fields are a class's fields, "name: type".
	Fields []string
	// Doc is one line for the editor.
	Doc string
	// Ref is the entry's lines in the API reference; "" when another
	// entry's lines cover it.
	Ref string
}

// Result types most calls share.
const (
	retErr = "rc.Error|nil err"
)

// APIDoc returns the description of the Lua API, in the order of the
// reference (a new slice on each call).
func APIDoc() []APIEntry {
	return []APIEntry{
		{Name: "rc.Subscription", Class: true, Doc: "A subscription as the server sends it (every field kept).",
			Fields: []string{"_id: string", "rid: string", "name: string", "fname?: string", "t: string", "unread?: integer",
				"userMentions?: integer", "groupMentions?: integer", "alert?: boolean", "open?: boolean", "ls?: string", "_updatedAt?: string", "u?: table"}},
		{Name: "rc.Message", Class: true, Doc: "A message as the server sends it; methods come from its metatable.",
			Fields: []string{"_id: string", "rid: string", "msg: string", "u: {_id: string, username: string, name?: string}", "ts: string",
				"tmid?: string", "editedAt?: string", "t?: string", "mentions?: table[]", "reactions?: table"}},
		{Name: "rc.Handle", Class: true, Doc: "What a trigger registration returns."},
		{Name: "rc.Re", Class: true, Doc: "A compiled RE2 expression (rc.re.compile)."},

		{Name: "rc.subscriptions.get", Params: []string{"opts?: {updated_since?: string|number}"}, Returns: []string{"{update: rc.Subscription[], remove: {_id: string, _deletedAt: string}[]}|nil", retErr},
			Doc: "The bot's subscriptions (changed since updated_since).",
			Ref: `rc.subscriptions.get([{updated_since = iso_string | unix_seconds}])
                                  -> {update = {sub, ...}, remove = {{_id, _deletedAt}, ...}} | nil, err`},
		{Name: "rc.subscriptions.get_one", Params: []string{"room_id: string"}, Returns: []string{"rc.Subscription|nil sub", retErr},
			Doc: "One room's subscription; nil without err when not subscribed.",
			Ref: `rc.subscriptions.get_one(room_id) -> sub | nil (not subscribed) | nil, err`},
		{Name: "rc.subscriptions.read", Params: []string{"room_id: string", "opts?: {read_threads?: boolean}"}, Returns: []string{"true|nil ok", retErr},
			Doc: "Marks a room read.",
			Ref: `rc.subscriptions.read(room_id [, {read_threads = bool}])    -> true | nil, err`},
		{Name: "rc.subscriptions.unread", Params: []string{"room_id: string|{first_unread_message: string}"}, Returns: []string{"true|nil ok", retErr},
			Doc: "Marks a room unread, or unread from a message on.",
			Ref: `rc.subscriptions.unread(room_id)                            -> true | nil, err
rc.subscriptions.unread{first_unread_message = msg_id}      -> true | nil, err`},
		{Name: "rc.chat.post_message", Params: []string{"msg: {channel?: string, room_id?: string, text?: string, alias?: string, emoji?: string, avatar?: string, attachments?: table[], tmid?: string}"},
			Returns: []string{"rc.Message|nil message", retErr}, Doc: "Posts a message (channel \"#room\", \"@user\" or an id, or room_id).",
			Ref: `rc.chat.post_message{channel = "#room" | "@user" | id, room_id = id, text = s, alias = s,
                     emoji = s, avatar = url, attachments = {...}, tmid = id}
                                  -> message | nil, err`},
		{Name: "rc.chat.react", Params: []string{"r: {message_id: string, emoji: string, should_react?: boolean}"}, Returns: []string{"true|nil ok", retErr},
			Doc: "Adds or removes a reaction (no should_react: toggles).",
			Ref: `rc.chat.react{message_id = id, emoji = name, should_react = bool}
                                  -> true | nil, err   (emoji: "eyes" or ":eyes:"; no should_react: toggle)`},
		{Name: "rc.chat.update", Params: []string{"u: {room_id: string, message_id: string, text: string}"}, Returns: []string{"rc.Message|nil message", retErr},
			Doc: "Edits a message.", Ref: `rc.chat.update{room_id = id, message_id = id, text = s}     -> message | nil, err`},
		{Name: "rc.chat.delete", Params: []string{"d: {room_id: string, message_id: string}"}, Returns: []string{"true|nil ok", retErr},
			Doc: "Deletes a message.", Ref: `rc.chat.delete{room_id = id, message_id = id}               -> true | nil, err`},
		{Name: "rc.rooms.info", Params: []string{"q: {room_id?: string, room_name?: string}"}, Returns: []string{"table|nil room", retErr},
			Doc: "A room's information.", Ref: `rc.rooms.info{room_id = id | room_name = name}              -> room | nil, err`},
		{Name: "rc.users.info", Params: []string{"q: {username?: string, user_id?: string}"}, Returns: []string{"table|nil user", retErr},
			Doc: "A user's information.", Ref: `rc.users.info{username = name | user_id = id}               -> user | nil, err`},
		{Name: "rc.me", Returns: []string{"table|nil user", retErr}, Doc: "The bot's own user.",
			Ref: `rc.me()                                                     -> user | nil, err`},
		{Name: "rc.get", Params: []string{"endpoint: string", "query?: table<string, string|number|boolean|(string|number|boolean)[]>"}, Returns: []string{"table|nil body", retErr},
			Doc: "GET /api/v1/<endpoint>: the whole decoded body.",
			Ref: `rc.get(endpoint [, query])        -> body | nil, err   (query: strings, numbers, booleans, sequences)`},
		{Name: "rc.post", Params: []string{"endpoint: string", "body?: table"}, Returns: []string{"table|nil body", retErr},
			Doc: "POST /api/v1/<endpoint> with body as JSON: the whole decoded body.",
			Ref: `rc.post(endpoint [, body])        -> body | nil, err   (body: a table, encoded as JSON; {} when absent)`},
		{Name: "rc.log.debug", Params: []string{"msg: string|number", "fields?: table<string, any>"}, Doc: "Logs at debug level, with fields.",
			Ref: `rc.log.debug(msg [, fields])      -> nothing           (also rc.log.info, rc.log.warn, rc.log.error; a field named level, message, time or script is logged as field.<name>)`},
		{Name: "rc.log.info", Params: []string{"msg: string|number", "fields?: table<string, any>"}, Doc: "Logs at info level, with fields."},
		{Name: "rc.log.warn", Params: []string{"msg: string|number", "fields?: table<string, any>"}, Doc: "Logs at warn level, with fields."},
		{Name: "rc.log.error", Params: []string{"msg: string|number", "fields?: table<string, any>"}, Doc: "Logs at error level, with fields."},
		{Name: "print", Params: []string{"...: any"}, Doc: "Logs at info level, the arguments joined by tabs.",
			Ref: `print(...)                        -> nothing           (logs at info, arguments joined by tabs)`},
		{Name: "rc.json.encode", Params: []string{"v: any"}, Returns: []string{"string|nil json", retErr}, Doc: "Encodes a value as JSON.",
			Ref: `rc.json.encode(v)                 -> string | nil, err`},
		{Name: "rc.json.decode", Params: []string{"s: string"}, Returns: []string{"any value", retErr}, Doc: "Decodes JSON.",
			Ref: `rc.json.decode(s)                 -> value | nil, err`},
		{Name: "rc.json.null", Type: "userdata", Doc: "The value of a JSON null; encodes as null.",
			Ref: `rc.json.null                      -- the value of a JSON null; encodes as null`},
		{Name: "rc.json.array", Params: []string{"t?: table"}, Returns: []string{"table t"}, Doc: "Marks t, or a new table, to encode as an array.",
			Ref: `rc.json.array([t])                -> t                 (marks t, or a new table, to encode as an array)`},
		{Name: "rc.time.parse", Params: []string{`t: string|{["$date"]: number}`}, Returns: []string{"number|nil seconds", retErr},
			Doc: `A server time ("2024-07-02T18:07:35.267Z", or the realtime API's {["$date"] = ms}) as Unix seconds, comparable with os.time().`,
			Ref: `rc.time.parse(t)                  -> seconds | nil, err (an ISO-8601 time with a zone, or {["$date"] = ms}; Unix seconds, as os.time())`},
		{Name: "rc.time.format", Params: []string{"seconds: number"}, Returns: []string{"string time"},
			Doc: `Unix seconds in the server's form, "2024-07-02T18:07:35.267Z" (UTC, milliseconds).`,
			Ref: `rc.time.format(seconds)           -> "2024-07-02T18:07:35.267Z" (UTC, milliseconds)`},
		{Name: "rc.re.compile", Params: []string{"expr: string"}, Returns: []string{"rc.Re re"}, Doc: "Compiles an RE2 expression (linear time); raises on a bad one.",
			Ref: `rc.re.compile(expr)               -> re                (RE2 syntax, linear time; raises on a bad expression)`},
		{Name: "rc.Re:match", Params: []string{"s: string", "init?: integer"}, Returns: []string{"string|false|nil ..."}, Doc: "The groups (false for one not taking part), or the match; nil when none.",
			Ref: `re:match(s [, init])              -> captures... | nil (the groups, false for one not taking part; or the match)`},
		{Name: "rc.Re:find", Params: []string{"s: string", "init?: integer"}, Returns: []string{"integer|nil start", "integer|nil end", "string|false ..."}, Doc: "Where the first match is, and its groups.",
			Ref: `re:find(s [, init])               -> start, end, groups... | nil`},
		{Name: "rc.Re:gmatch", Params: []string{"s: string"}, Returns: []string{"fun(): string|false|nil, ..."}, Doc: "An iterator over the matches, each as re:match.",
			Ref: `re:gmatch(s)                      -> iterator          (each call: the next match's values, as re:match)`},
		{Name: "rc.Re:gsub", Params: []string{"s: string", "repl: string|table|fun(...): any", "n?: integer"}, Returns: []string{"string s", "integer count"}, Doc: "Replaces matches (repl: a string with %0-%9, a table or a function).",
			Ref: `re:gsub(s, repl [, n])            -> string, count     (repl: string with %0-%9, table or function)`},
		{Name: "rc.Re:source", Returns: []string{"string expr"}, Doc: "The expression compiled.",
			Ref: `re:source()                       -> expr`},
		{Name: "rc.store.get", Params: []string{"key: string"}, Returns: []string{"any value", retErr},
			Doc: "The value of key in this script's store; nil when absent or expired.",
			Ref: `rc.store.get(key)                 -> value | nil | nil, err`},
		{Name: "rc.store.set", Params: []string{"key: string", "value: any", `opts?: {ttl?: string|number}`}, Returns: []string{"true|nil ok", retErr},
			Doc: "Stores value (JSON-able) under key, on disk before it returns; a nil value deletes; ttl \"1h\", \"7d\" or seconds.",
			Ref: `rc.store.set(key, value [, {ttl = "1h" | "7d" | seconds}]) -> true | nil, err (a nil value deletes)`},
		{Name: "rc.store.delete", Params: []string{"key: string"}, Returns: []string{"true|nil ok", retErr},
			Doc: "Deletes key.",
			Ref: `rc.store.delete(key)              -> true | nil, err`},
		{Name: "rc.store.incr", Params: []string{"key: string", "n?: number"}, Returns: []string{"number|nil new", retErr},
			Doc: "Adds n (default 1) to the number under key (absent: 0) and returns the new value.",
			Ref: `rc.store.incr(key [, n])          -> new | nil, err    (adds n, default 1, to a number; absent is 0)`},
		{Name: "rc.store.update", Params: []string{"key: string", "fn: fun(old: any): any"}, Returns: []string{"any new", retErr},
			Doc: "Atomic read-modify-write: fn(old) returns the new value; nil deletes.",
			Ref: `rc.store.update(key, fn)          -> new | nil, err    (fn(old) -> new; nil deletes; one atomic read-modify-write)`},
		{Name: "rc.store.keys", Params: []string{"prefix?: string"}, Returns: []string{"string[]|nil keys", retErr},
			Doc: "This script's keys (starting with prefix), sorted.",
			Ref: `rc.store.keys([prefix])           -> {key, ...} | nil, err (sorted, an array)`},
		{Name: "rc.on", Params: []string{`event: "subscription"|"message"`, "fn: fun(a: any, b: any)"}, Returns: []string{"rc.Handle handle"},
			Overloads: []string{
				`fun(event: "subscription", fn: fun(action: "inserted"|"updated"|"removed", sub: rc.Subscription)): rc.Handle`,
				`fun(event: "message", fn: fun(msg: rc.Message, action: "created"|"updated")): rc.Handle`,
			},
			Doc: `Runs fn(action, sub) on subscription changes, fn(msg, action) on message events.`,
			Ref: `rc.on("subscription", fn)         -> handle            (fn(action, sub); action: "inserted", "updated", "removed")
rc.on("message", fn)              -> handle            (fn(msg, action); action: "created", "updated")`},
		{Name: "rc.hear", Params: []string{"pattern: string|rc.Re", "fn: fun(msg: rc.Message, ...: string|false)"}, Returns: []string{"rc.Handle handle"},
			Doc: "Runs fn(msg, captures...) for each new message whose text matches.",
			Ref: `rc.hear(pattern, fn)              -> handle            (fn(msg, captures...): a new message whose text matches)`},
		{Name: "rc.respond", Params: []string{"pattern: string|rc.Re", "fn: fun(msg: rc.Message, ...: string|false)"}, Returns: []string{"rc.Handle handle"},
			Doc: "As rc.hear, for new messages addressed to the bot (mention stripped).",
			Ref: `rc.respond(pattern, fn)           -> handle            (the same for one addressed to the bot, mention stripped)`},
		{Name: "rc.every", Params: []string{"interval: string|number", "fn: fun()"}, Returns: []string{"rc.Handle handle"},
			Doc: `Runs fn every interval ("30s", "5m", "3h", "1d" or seconds; at least 1s).`,
			Ref: `rc.every(interval, fn)            -> handle            (interval: "30s", "5m", "3h", "1d" or seconds; at least 1s)`},
		{Name: "rc.cron", Params: []string{"spec: string", "fn: fun()"}, Returns: []string{"rc.Handle handle"},
			Doc: `Runs fn on a five-field cron spec ("0 9 * * 1-5"; optional "CRON_TZ=Zone " prefix).`,
			Ref: `rc.cron(spec, fn)                 -> handle            (five fields, "0 9 * * 1-5", or "@daily"; optional "CRON_TZ=Zone " prefix)`},
		{Name: "rc.Handle:stop", Doc: "Stops the trigger for good.",
			Ref: `handle:stop()                     -> nothing           (the trigger never fires again)`},
		{Name: "rc.config", Type: "table<string, any>", Doc: "This script's settings: a fresh copy of its [section] of rclua.toml at each read (empty without one).",
			Ref: `rc.config                         -- this script's settings: a fresh copy of its [section] of rclua.toml`},
		{Name: "rc.secret", Params: []string{"name: string"}, Returns: []string{"string|nil value", retErr},
			Doc: `A secret the script's section allows (secrets = ["name"]): RCLUA_SECRET_<NAME> or the secrets folder's file.`,
			Ref: `rc.secret(name)                   -> string | nil, err (a secret its section allows: secrets = {"name"})`},
		{Name: "require", Params: []string{"name: string"}, Returns: []string{"any module"},
			Doc: `Loads lib/name.lua of the scripts folder ("sub.name": lib/sub/name.lua), once per state.`,
			Ref: `require("name")                   -> module            (lib/name.lua of the scripts folder; "sub.name": lib/sub/name.lua)`},
		{Name: "rc.Message:reply", Params: []string{"reply: string|{text?: string, attachments?: table[], thread?: boolean}"}, Returns: []string{"rc.Message|nil message", retErr},
			Doc: "Replies in msg's room and thread (thread = true starts one).",
			Ref: `msg:reply(text | {text = s, attachments = {...}, thread = bool})
                                  -> message | nil, err (in msg's room and thread; thread = true starts one)`},
		{Name: "rc.Message:react", Params: []string{"emoji: string"}, Returns: []string{"true|nil ok", retErr}, Doc: "Adds the bot's reaction.",
			Ref: `msg:react(emoji)                  -> true | nil, err   (adds the bot's reaction)`},
		{Name: "rc.Error", Class: true, Doc: "A remote or operational failure; tostring(err) is its message.",
			Fields: []string{"status: integer", "error: string", "error_type: string", "message: string", "retry_after?: number", "details?: table"},
			Ref: `err = {status = http_status | 0, error = s, error_type = s, message = s,
       retry_after = seconds (rate limits only), details = {...} (when sent)}`},
	}
}
