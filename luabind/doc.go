// Package luabind is the whole Lua API of rclua: the global table rc that
// scripts use to reach Rocket.Chat and to register their triggers,
// installed into a gopher-lua state by Module.Open. The JSON <-> Lua
// conversion behind it is package luabind/luajson.
//
// A Module holds the client's services (FromClient for a live server,
// Offline for check mode); Open takes the state's Host, which runtime
// implements: rc.on, rc.every and rc.cron check their arguments here and
// hand each registration to the Host, which decides when it fires.
// EventArgs turns an event the host received into its handlers'
// arguments. One file holds each rc namespace, as package rc has one per
// service: subscriptions.go, chat.go, users.go (and rc.me), api.go
// (rc.get, rc.post), log.go (rc.log, print), json.go (rc.json),
// triggers.go (rc.on, rc.every, rc.cron); limits.go bounds what they build.
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
//	rc.users.info{username = name | user_id = id}               -> user | nil, err
//	rc.me()                                                     -> user | nil, err
//	rc.get(endpoint [, query])        -> body | nil, err   (query: strings, numbers, booleans, sequences)
//	rc.post(endpoint [, body])        -> body | nil, err   (body: a table, encoded as JSON; {} when absent)
//	rc.log.debug(msg [, fields])      -> nothing           (also rc.log.info, rc.log.warn, rc.log.error)
//	print(...)                        -> nothing           (logs at info, arguments joined by tabs)
//	rc.json.encode(v)                 -> string | nil, err
//	rc.json.decode(s)                 -> value | nil, err
//	rc.json.null                      -- the value of a JSON null; encodes as null
//	rc.json.array([t])                -> t                 (marks t, or a new table, to encode as an array)
//	rc.on("subscription", fn)         -> nothing           (fn(action, sub); action: "inserted", "updated", "removed")
//	rc.every(interval, fn)            -> nothing           (interval: "30s", "5m", "3h" or seconds; at least 1s)
//	rc.cron(spec, fn)                 -> nothing           (five fields, "0 9 * * 1-5"; optional "CRON_TZ=Zone " prefix)
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
// get_one, post_message and users.info return the "subscription",
// "message" and "user" member; rc.get and rc.post return the whole body.
// Only get_one treats an absent or null member as "none" (a single nil);
// for post_message and users.info it is a malformed response: nil, err
// with error_type "decode".
//
// # Errors
//
// Misuse raises a Lua error carrying the script's file:line, such as
// "script.lua:3: bad argument #1 to rc.subscriptions.get_one (room_id must
// not be empty)": a wrong argument type, a missing or empty id, an unknown
// option key ({updatedsince = ...}), both channel and room_id.
//
// The API tables (rc, rc.subscriptions, rc.chat, rc.users, rc.log,
// rc.json) are strict: reading a name they lack raises, where it is read,
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
// response) or "unavailable" (the host gave the Module no such service). A
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
// rc.on, rc.every and rc.cron may be called only while the script's top
// level runs (the Host refuses later calls), each with a function:
//
//	rc.on("subscription", function(action, sub) end) -- action: inserted, updated, removed
//	rc.every(interval, fn)  -- "5m" (Go duration) or seconds; at least Module.MinInterval (1s)
//	rc.cron(spec, fn)       -- robfig/cron standard spec, @hourly etc., CRON_TZ=Zone prefix
//
// A bad argument (an unknown event, a bad interval or spec, a non-function)
// raises with file:line, which fails the load; so does a registration the
// Host refuses ("rc.every: too many triggers ..."). The event names come
// from one table (EventKinds); for "removed", sub is {_id = ...,
// _deletedAt = ISO string}, otherwise the subscription object the server
// sent.
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
// rc.json.decode return nil, err and a call's response gives nil, err
// (error_type "decode"); a request body, log line, print or query raises.
// The same functions look at the call's deadline as they go. Error
// messages show at most 64 bytes of a key or value the script gave.
package luabind
