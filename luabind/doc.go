// Package luabind is the Lua API of rclua: the global table rc that
// scripts use to reach Rocket.Chat, installed into a gopher-lua state by
// Module.Open, and the JSON <-> Lua conversion behind it.
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
// rc.chat.post_message? rc.chat has: post_message)". Keys added to the
// tables later (rc.on, rc.every, rc.cron, or a script's own) are read and
// listed like the others. To test whether a function exists without
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
// # JSON
//
// The conversion is this package's own (DecodeJSON, EncodeJSON): a JSON
// object becomes a table with string keys; an array a sequence, marked as
// an array so that an empty one encodes back as []; null becomes
// rc.json.null, in arrays and objects alike, so indices never shift.
// Numbers are Lua numbers (float64): integers up to 2^53 are exact and
// print without ".0". Strings keep their bytes; JSON input must be UTF-8.
// Encoding turns a sequence into an array and a table with string keys into
// an object (in the table's key order); an empty table is {} unless marked
// by rc.json.array(). Mixed or non-string keys, sparse arrays, NaN and
// infinities, invalid UTF-8, functions, cycles and nesting deeper than
// MaxDepth (200) are errors; shared (non-cyclic) subtables are fine. Input
// larger than MaxDecodeSize (32 MiB) is refused. Response bodies go
// straight from bytes to Lua tables, each built at its final size.
//
// Strings of up to 32 bytes (ids, times, names) are copied out of a
// decoded document; longer strings (message text) share memory with it,
// so keeping such a string from a large response keeps the response's
// text alive until the string is collected.
package luabind
