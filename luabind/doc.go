// Package luabind is the whole Lua API of rclua: the global table rc that
// scripts use to reach Rocket.Chat and to register their triggers,
// installed into a gopher-lua state by Module.Open. The JSON <-> Lua
// conversion behind it is package luabind/luajson.
//
// A Module holds the client's services (FromClient for a live server,
// Offline for check mode); Open takes the state's Host, which runtime
// implements: rc.on, rc.every, rc.cron, rc.hear and rc.respond check their
// arguments here and hand each registration to the Host, which decides
// when it fires.
// EventArgs turns an event the host received into its handlers'
// arguments. One file holds each rc namespace, as package rc has one per
// service: subscriptions.go, chat.go, users.go (and rc.me), rooms.go,
// api.go (rc.get, rc.post), log.go (rc.log, print), json.go (rc.json),
// re.go (rc.re), store.go (rc.store), triggers.go (rc.on, rc.every, rc.cron, handles),
// message.go (message events, msg's methods, rc.hear, rc.respond);
// limits.go bounds what they build. apidoc.go describes the whole API
// (APIDoc: the reference below is its Ref lines, a test keeps both and the
// bindings in step) and luals.go writes it as a LuaLS definition file
// (Definitions, for rclua types).
//
// # Lua API
//
//	rc.subscriptions.get([{updated_since = iso_string | unix_seconds}])
//	                                  -> {update = {sub, ...}, remove = {{_id, _deletedAt}, ...}} | nil, err
//	rc.subscriptions.get_one(room_id) -> sub | nil (not subscribed) | nil, err
//	rc.subscriptions.read(room_id [, {read_threads = bool}])    -> true | nil, err
//	rc.subscriptions.unread(room_id)                            -> true | nil, err
//	rc.subscriptions.unread{first_unread_message = msg_id}      -> true | nil, err
//	rc.chat.post_message{channel = "#room" | "@user" | id, room_id = id, text = s, alias = s,
//	                     emoji = s, avatar = url, attachments = {...}, tmid = id}
//	                                  -> message | nil, err
//	rc.chat.react{message_id = id, emoji = name, should_react = bool}
//	                                  -> true | nil, err   (emoji: "eyes" or ":eyes:"; no should_react: toggle)
//	rc.chat.update{room_id = id, message_id = id, text = s}     -> message | nil, err
//	rc.chat.delete{room_id = id, message_id = id}               -> true | nil, err
//	rc.rooms.info{room_id = id | room_name = name}              -> room | nil, err
//	rc.users.info{username = name | user_id = id}               -> user | nil, err
//	rc.me()                                                     -> user | nil, err
//	rc.get(endpoint [, query])        -> body | nil, err   (query: strings, numbers, booleans, sequences)
//	rc.post(endpoint [, body])        -> body | nil, err   (body: a table, encoded as JSON; {} when absent)
//	rc.log.debug(msg [, fields])      -> nothing           (also rc.log.info, rc.log.warn, rc.log.error; a field named level, message, time or script is logged as field.<name>)
//	print(...)                        -> nothing           (logs at info, arguments joined by tabs)
//	rc.json.encode(v)                 -> string | nil, err
//	rc.json.decode(s)                 -> value | nil, err
//	rc.json.null                      -- the value of a JSON null; encodes as null
//	rc.json.array([t])                -> t                 (marks t, or a new table, to encode as an array)
//	rc.time.parse(t)                  -> seconds | nil, err (an ISO-8601 time with a zone, or {["$date"] = ms}; Unix seconds, as os.time())
//	rc.time.format(seconds)           -> "2024-07-02T18:07:35.267Z" (UTC, milliseconds)
//	rc.re.compile(expr)               -> re                (RE2 syntax, linear time; raises on a bad expression)
//	re:match(s [, init])              -> captures... | nil (the groups, false for one not taking part; or the match)
//	re:find(s [, init])               -> start, end, groups... | nil
//	re:gmatch(s)                      -> iterator          (each call: the next match's values, as re:match)
//	re:gsub(s, repl [, n])            -> string, count     (repl: string with %0-%9, table or function)
//	re:source()                       -> expr
//	rc.store.get(key)                 -> value | nil | nil, err
//	rc.store.set(key, value [, {ttl = "1h" | "7d" | seconds}]) -> true | nil, err (a nil value deletes)
//	rc.store.delete(key)              -> true | nil, err
//	rc.store.incr(key [, n])          -> new | nil, err    (adds n, default 1, to a number; absent is 0)
//	rc.store.update(key, fn)          -> new | nil, err    (fn(old) -> new; nil deletes; one atomic read-modify-write)
//	rc.store.keys([prefix])           -> {key, ...} | nil, err (sorted, an array)
//	rc.on("subscription", fn)         -> handle            (fn(action, sub); action: "inserted", "updated", "removed")
//	rc.on("message", fn)              -> handle            (fn(msg, action); action: "created", "updated")
//	rc.hear(pattern, fn)              -> handle            (fn(msg, captures...): a new message whose text matches)
//	rc.respond(pattern, fn)           -> handle            (the same for one addressed to the bot, mention stripped)
//	rc.every(interval, fn)            -> handle            (interval: "30s", "5m", "3h", "1d" or seconds; at least 1s)
//	rc.cron(spec, fn)                 -> handle            (five fields, "0 9 * * 1-5", or "@daily"; optional "CRON_TZ=Zone " prefix)
//	handle:stop()                     -> nothing           (the trigger never fires again)
//	rc.config                         -- this script's settings: a fresh copy of its [section] of rclua.toml
//	rc.secret(name)                   -> string | nil, err (a secret its section allows: secrets = {"name"})
//	require("name")                   -> module            (lib/name.lua of the scripts folder; "sub.name": lib/sub/name.lua)
//	msg:reply(text | {text = s, attachments = {...}, thread = bool})
//	                                  -> message | nil, err (in msg's room and thread; thread = true starts one)
//	msg:react(emoji)                  -> true | nil, err   (adds the bot's reaction)
//	err = {status = http_status | 0, error = s, error_type = s, message = s,
//	       retry_after = seconds (rate limits only), details = {...} (when sent)}
//
// # Data
//
// Tables keep the server's own field names (rid, unread, userMentions,
// _updatedAt) and every field the server sent. Times are the server's
// ISO-8601 strings, passed through; an option that takes a time
// (updated_since) accepts an ISO-8601 string or Unix seconds.
// rc.subscriptions.get and rc.me drop the body's "success" key;
// get_one, post_message (and msg:reply), update, rooms.info and users.info
// return the "subscription", "message", "room" and "user" member; rc.get
// and rc.post return the whole body. Only get_one treats an absent or null
// member as "none" (a single nil); for the others it is a malformed
// response: nil, err with error_type "decode".
//
// # Errors
//
// Misuse raises a Lua error carrying the script's file:line, such as
// "script.lua:3: bad argument #1 to rc.subscriptions.get_one (room_id must
// not be empty)": a wrong argument type, a missing or empty id, an unknown
// option key ({updatedsince = ...}), both channel and room_id, an endpoint
// of rc.get or rc.post the client refuses (a query, a URL, or the
// "api/v1/" prefix: give "me", not "/api/v1/me"; a leading "/" is
// dropped). Methods number
// their arguments as Lua does: in msg:reply{...} the table is #1, and a
// wrong self reads "calling msg:reply on bad self (...)".
//
// The API tables (rc, rc.subscriptions, rc.chat, rc.users, rc.rooms,
// rc.log, rc.json, rc.re, rc.store, and the methods of rc.re objects and of handles)
// are strict: reading a name they lack raises, where it is read,
// an error that names it, suggests the name meant (the snake_case form of
// a camelCase name, or a near spelling) and lists the table's keys, sorted:
// "script.lua:1: rc.chat.postMessage does not exist (did you mean
// rc.chat.post_message? rc.chat has: post_message)". Keys a script adds to
// the tables are read and listed like the others. To test whether a function exists without
// raising, use rawget: if rawget(rc, "cron") then ... end. pairs still
// lists the tables' keys; tables of data (responses, decoded JSON, err)
// are not strict, and read a missing field as nil.
//
// A remote or operational failure returns nil, err. err.status is the HTTP
// status, or 0 when there was no answer; err.error is the server's "error"
// text and err.error_type its "errorType" ("" when absent); for status 0,
// error_type is "canceled", "timeout", "transport", "decode" (a malformed
// response), "limit" (a request body over rc.MaxRequestBody, never sent)
// or "unavailable" (the host gave the Module no such service);
// rc.store's failures have "limit" (a bound of the store), "type" (incr of
// a value that is no number) or "store" (the store itself failed);
// a post past the script's PostLimit "limit" (never sent); rc.time.parse's
// "time" (a string that is no time it takes);
// rc.json.encode's and rc.json.decode's "json" (a value JSON cannot hold,
// bad JSON, a limit), their message naming the function: "rc.json.encode:
// f: cannot encode a function". A
// rate limit (status 429) has err.retry_after, the seconds to wait (rounded
// up). tostring(err) and "..." .. err give err.message. So a script tells
// "not subscribed" (nil without err) from "rate limited" (err.status ==
// 429) from "failed" (any other err) without parsing strings.
//
// Every call passes the state's context (L.Context, or
// context.Background when unset) to the client, so cancelling it stops an
// in-flight request; the call then returns nil, err.
//
// # Triggers
//
// rc.on, rc.every, rc.cron, rc.hear and rc.respond may be called only
// while the script's top level runs (the Host refuses later calls), each
// with a function:
//
//	rc.on("subscription", function(action, sub) end) -- action: inserted, updated, removed
//	rc.on("message", function(msg, action) end)      -- action: created, updated
//	rc.hear(pattern, function(msg, ...) end)         -- pattern: a Lua pattern or an rc.re object
//	rc.respond(pattern, function(msg, ...) end)
//	rc.every(interval, fn)  -- "5m" (Go duration, "1d12h" with days; see ParseDuration) or seconds; at least Module.MinInterval (1s)
//	rc.cron(spec, fn)       -- robfig/cron standard spec, @hourly etc., CRON_TZ=Zone prefix
//
// A bad argument (an unknown event, a bad interval, spec or pattern, a
// non-function) raises with file:line, which fails the load; so does a
// registration the Host refuses ("rc.every: too many triggers ..."). The
// event names come from one table (EventKinds); for "removed", sub is
// {_id = ..., _deletedAt = ISO string}, otherwise the subscription object
// the server sent.
//
// Each registration returns a handle: handle:stop() stops that trigger for
// good (the Host never calls it again; a call running finishes), from any
// handler of the script, its own included, or from the top level; a second
// stop does nothing. tostring(handle) is "rc.trigger: " and the trigger's
// label.
//
// # Messages
//
// A "message" event is a message in a room the bot is a member of, new
// ("created", once per message) or changed ("updated": an edit, with
// editedAt set, a reaction, a thread's counters). msg is the server's
// message table (_id, rid, msg, u = {_id, username, name}, ts, tmid,
// editedAt, t, mentions, reactions, ...), exactly as sent, with two methods
// found through its metatable (so they are no keys: pairs and
// rc.json.encode see only the server's fields): msg:reply posts in msg's
// room and thread (a reply to a thread message stays in that thread, one to
// a message of the room goes to the room; {thread = true} replies in the
// message's thread, starting one; {thread = false} in the room), msg:react
// adds the bot's reaction.
//
// No message trigger gets the bot's own messages (Module.Bot). rc.hear and
// rc.respond get new messages only: never an "updated" one, an edited one
// (editedAt set) or a system message (t set, such as a user joining); they
// reach rc.on("message"), with their action. rc.hear runs fn when the text
// (msg.msg) matches: a string is a Lua pattern (string.find's language,
// with its deadline-aware matcher), an rc.re object an RE2 expression. fn
// gets msg, then the captures (a Lua pattern's position captures as
// numbers; an rc.re group that took no part as false), or the whole match
// when there are none: what string.match or re:match return. rc.respond
// does the same for messages addressed to the bot: text that starts, after
// white space, with "@" and the bot's username (any case), then the end,
// white space, ":" or ",", is matched without that mention and the white
// space after it ("@bot: deploy prod" matches "^deploy (%a+)$"; "@botfoo"
// and "hey @bot" are not addressed); and any message in the bot's direct
// room with its sender (whose id joins the two users' ids, as Rocket.Chat
// names it) is matched as it is. Without Module.Bot nothing is addressed
// to the bot.
//
// rc.re objects use Go's regexp (RE2 syntax): matching takes time linear
// in the subject, whatever the expression, but up to the compiled
// program's size times the subject's length. A bad expression raises where
// rc.re.compile is called, with RE2's reason ("missing closing ): `(`");
// an expression is at most 64 KiB, and compiles to at most 100,000
// instructions (about one per character, class or assertion, two more per
// group, a repetition x{n,m} counting x m times), with instructions times
// groups at most 4,000,000 ("expression too large: ..."). A search that
// could cost more than 262,144 instruction steps (instructions, plus 1/16
// per group, times the characters left; a chat message is far below)
// looks at the call's deadline every 65,536 steps as it goes and raises
// the context's error ("re:match: context deadline exceeded"; for rc.hear
// and rc.respond "pattern rc.re(...): ..."), with the same matches as one
// search of the whole subject. Positions (find's, init) are 1-based
// byte offsets as in Lua. gmatch and gsub take the matches as Go's FindAll
// functions do: no overlap, no empty match right after a match. gsub's
// string replacement takes %0 (the match), %1-%9 (the groups; %1 is the
// match when there are none) and %%, its table is indexed by the first
// group (or the match), its function gets what re:match gives; false or
// nil keeps the match. Its result is at most 16 MiB.
//
// # JSON
//
// Values cross between JSON and Lua through package luajson, this
// project's own conversion: a JSON object becomes a table with string
// keys; an array a sequence, marked as an array so that an empty one
// encodes back as []; null becomes rc.json.null, in arrays and objects
// alike, so indices never shift. Numbers are Lua numbers (float64):
// integers up to 2^53 are exact and print without ".0". Encoding refuses
// mixed or non-string keys, sparse arrays, NaN and infinities, invalid
// UTF-8, functions, cycles and nesting deeper than 200; response bodies
// above 32 MiB are refused. See luajson for the details, including which
// strings share memory with a response body.
//
// # Store
//
// rc.store is the script's own namespace of the host's persistent store
// (Module.Store; runtime gives each script the namespace of its name, kept
// across reloads and restarts). Values go through the JSON conversion
// above, so get returns what set was given as rc.json.decode(rc.json.encode(v))
// would: rc.json.null stays (and differs from an absent key, nil),
// integers stay integers, an empty table comes back {} and rc.json.array()
// []. A value JSON cannot hold (a function, userdata, a cycle, NaN) raises
// with the caller's file:line; a key, value or total past the store's
// bounds returns nil, err (error_type "limit") and changes nothing, from
// set, incr and update alike. A ttl ("1h", "7d", or seconds, more than 0 and at
// most 100 years) makes the key vanish after it; incr and update keep a
// key's expiry, set without ttl clears it.
//
// update(key, fn) reads, calls fn(old) and writes with no other write to
// the namespace in between (two states sharing one namespace never lose
// an increment). fn runs under the call's deadline; when it raises (or the
// deadline ends it), update raises the same error and writes nothing. fn
// must not yield (it raises "attempt to yield across a C-call boundary")
// nor write to rc.store (it raises: return the new value instead); reads
// inside fn are fine. Each write is durable when it returns (see
// runtime/store).
//
// # Limits
//
// What an rc function builds from a script's values is bounded, not only
// by the values' size (a table can hold one 1 MiB string a million times):
// JSON text (rc.json.encode, rc.post's body, attachments, tables in
// rc.log's fields), rc.log's line, print's output, rc.get's query and the
// concatenation of an err are at most 16 MiB, the host's string cap; a
// decode (rc.json.decode, every response, an event) at most an estimated
// 320 MiB of tables, which any response the client accepts fits and a 32
// MiB array of empty tables does not. Past its limit, rc.json.encode and
// rc.json.decode return nil, err (error_type "json") and a call's response
// gives nil, err (error_type "decode"); a request body, log line, print or query raises.
// The same functions look at the call's deadline as they go. Error
// messages show at most 64 bytes of a key or value the script gave.
//
// A request that the call's own context ends (its deadline, the host
// stopping it) raises instead of returning nil, err, since the call
// cannot go on: "context deadline exceeded (waiting for GET
// rooms.info)", the method and endpoint only (never the query or body),
// at the line of the call; the host rewords the first part.
package luabind
