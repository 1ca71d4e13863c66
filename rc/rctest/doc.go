// Package rctest is an in-process fake Rocket.Chat server for tests,
// benchmarks and rclua's --dev mode.
//
// It speaks the REST API described in rclua's facts page
// (shared/rocketchat-api.md) over real HTTP: NewServer starts it on an
// httptest listener, Listen on a chosen address. It never imports package
// rc; it only speaks JSON.
//
//	s := rctest.NewServer()
//	defer s.Close()
//	// s.URL, rctest.BotUserID, rctest.BotToken ...
//
// # What is faithful
//
//   - Routes (/api/v1/<endpoint>, /api/info), methods, parameter names and
//     body shapes of login, logout (POST and GET), me, info,
//     subscriptions.get/getOne/read/unread, chat.postMessage,
//     chat.sendMessage, chat.react,
//     chat.update, chat.delete, rooms.info, rooms.get and users.info.
//     POST bodies are JSON or form-urlencoded (curl -d / --data-urlencode)
//     on every route, as the 8.x router parses them; a form value is a
//     string, coerced like JSON strings.
//   - Authentication (X-User-Id + X-Auth-Token) runs before parameter
//     validation, as on 8.x: a request without valid credentials gets the
//     exact legacy 401 body {"success":false,"error":"You must be logged in
//     to do this.","status":"error","message":"You must be logged in to do
//     this."}.
//   - Login by user/username/email (or user:{username|email}) and password
//     (plain or {hashed: sha256 hex}), resume token, TOTP through "code" or
//     the x-2fa-code header; the failure bodies of the facts page (numeric
//     error 403 for a wrong password, "Unauthorized" for an unknown user,
//     totp-required / totp-invalid with details). Logout deletes exactly the
//     token it was called with, a personal access token too.
//   - subscriptions.get: only updatedSince is accepted (400 otherwise), never
//     paginates, strict ">" on _updatedAt and on the trash's _deletedAt,
//     always {update, remove, success}; the odd error-roomId-param-invalid
//     body for a bad date.
//   - subscriptions.getOne: {subscription:null} for a room without
//     subscription; the 8.x validation body for a missing roomId and
//     "The 'roomId' param is required" for an empty one.
//   - subscriptions.read: rid or roomId (not both, nothing else), clears
//     unread and mentions, keeps alert only for unread threads when
//     readThreads is false, open=true, ls=now, readThreads unsets tunread*;
//     the error-invalid-subscription body without errorType.
//   - subscriptions.unread: roomId or firstUnreadMessage{_id}; the
//     error-no-message-for-unread, error-action-not-allowed and
//     error-subscription-not-found errors with details; sets open, alert, ls.
//   - chat.postMessage: roomId or channel (#name, @username, room id, or an
//     array of them: each gets the message, the answer is the first's); a
//     DM room and its subscriptions are created on demand. alias and
//     avatar need the "bot" or "app" role (message-impersonate), as on the
//     real server. Its messages (and PostMessage's) have "groupable":false,
//     as processWebhookMessage sets it; no message has "bot", which the
//     real server takes from integrations and apps only, never from the
//     sender's roles (a script must not tell bots apart by it).
//   - chat.react (emoji or reaction, shouldReact: absent or null toggles;
//     the real quirk that false adds the reaction to a message without any),
//     chat.update (the same text changes nothing; editedAt, editedBy and the
//     mentions otherwise) and chat.delete (a thread's first message with
//     replies stays as a "rm" marker, a reply counts off its thread), with
//     their error bodies: legacy validation ("... [invalid-params]") for
//     react and delete, the typed body for update, "No message found with
//     the id of ...", the room mismatch, error-message-not-found,
//     error-not-allowed for an unknown emoji, error-action-not-allowed.
//     MessageInfo shows edits, reactions and markers.
//   - rooms.info by roomId (which wins, even empty) or roomName: the room
//     (uids and usernames for a DM, parent for a discussion),
//     error-roomid-param-not-provided, error-room-not-found, and the route's
//     own {"error":"not-allowed","errorType":"Not Allowed"} for a room the
//     user may not see.
//   - rooms.get (facts §5): {update: the rooms the user has a subscription
//     to, remove: []}; with updatedSince (strictly after, as
//     subscriptions.get) only the rooms changed since: a room's _updatedAt
//     is its creation, its last message, a thread reply too (the room's
//     msgs counts it), or an edit or a reaction of its last message (the
//     room's lastMessage copy), whatever the message did to subscriptions;
//     an edit of an older message changes no room. UNVERIFIED on the real
//     server: that every such update of the room document bumps its
//     _updatedAt (the models' default), that a thread-only reply changes
//     the room, and the error text of an invalid updatedSince
//     (error-updatedSince-param-invalid); rooms are never deleted here, so
//     remove stays empty.
//   - What a message does to subscriptions (facts page §2.7), for the
//     route and the PostMessage helper alike: a mention of a member (an
//     @ at the start or after white space, then the exact username, as
//     the server's MentionsParser reads it: "hey,@bob", "(@bob)", "@BOB"
//     and "@bob." are none) gives userMentions+1; @all/@here, when no user is mentioned, gives every
//     other member groupMentions+1; unread grows as the Unread_Count
//     setting says (WithUnreadCount; by default only for those mentions, so
//     a plain message in a channel or group counts nowhere), and for every
//     message in a DM or livechat room. Every other member gets alert and
//     open where they are not set yet: a subscription nothing changes is
//     not written, so an alerted room's subscription does not change again
//     (no new _updatedAt) until it is read or mentioned in. The sender's
//     own subscription is marked read. A reply only in a thread (tmid)
//     changes no counter: the thread's followers (its author, those who
//     replied or were mentioned in it) get alert, open, lr and the thread
//     in tunread (tunreadUser when mentioned, tunreadGroup for @all/@here).
//   - _updatedAt is bumped on every change, from the server clock
//     (WithClock), at millisecond precision; dates are ISO-8601 strings
//     with milliseconds and Z.
//   - Every response carries Content-Type: application/json,
//     Cache-Control: no-store and Pragma: no-cache.
//   - The optional rate limiter (WithRateLimit): N calls per window per
//     route+method+client IP, X-RateLimit-Limit/Remaining/Reset (epoch
//     milliseconds) on every limited request, no Retry-After, the 429 body
//     "... You must wait N seconds before trying this endpoint again.
//     [error-too-many-requests]"; users with the admin, bot or app role
//     bypass it, and so do the requests WithRateLimitExempt names (a
//     test harness's own).
//
// # What is simplified
//
//   - A request body over 8 MiB is answered 413 {"success":false,"error":
//     "rctest: request body larger than 8 MiB (the fake server's limit)"}
//     (the facts page gives no limit of the real server's).
//   - Only the endpoints above exist (Endpoints lists them); any other
//     path answers 404 {"success":false,"error":"Resource not found"} (the
//     real text is UNVERIFIED). The realtime API is described below.
//   - Permissions are reduced to roles: admin/bot/app bypass the rate
//     limiter, bot/app may impersonate; admins and a room's owners and
//     moderators edit and delete anyone's message there, others their own.
//     Room access is membership or a public channel; posting to a public
//     channel joins it. chat.react knows a few common emoji (knownEmoji),
//     not the whole standard set.
//   - Validation error texts imitate ajv (required, then additional
//     properties, then types; branches joined by "\n", then "must match a
//     schema in anyOf"); the exact text of some cases is UNVERIFIED on the
//     real server, the errorType values are as documented.
//   - users.info returns a fixed field set and answers 400 "User not found."
//     for an unknown user (UNVERIFIED text). Logout answers the documented
//     {"status":"success","data":{"message":"You've been logged out!"}}.
//   - The client IP for the rate limiter is the TCP peer (no
//     X-Forwarded-For). Unread counting has no user highlights, team
//     mentions, tshow (a thread reply also sent to the room) or imported
//     messages; Unread_Count_DM and Unread_Count_Omni stay all_messages.
//   - chat.sendMessage ({message: {rid, msg, _id, tmid, alias, emoji,
//     avatar, attachments}, previewUrls}) posts as chat.postMessage does
//     (the client's _id when given). UNVERIFIED: that it joins a public
//     channel the sender is not in (as chat.postMessage does), and its
//     error texts (missing rid, a system type t, an unknown room, a taken
//     _id). With WithRateLimit on, it has its own limit, 5 calls per
//     second (facts §4), instead of the default's; the send-many-messages
//     permission that bypasses it is taken as the admin, bot and app
//     roles' (they bypass every limit here).
//   - chat.postMessage error texts for an unknown target ("[invalid-channel]"),
//     a missing impersonation permission ("Not enough permission
//     [error-not-allowed]") and a bad tmid are UNVERIFIED guesses with the
//     right shape; the 5,000-character limit is the real default.
//   - chat.syncMessages serves its lastUpdate mode only: the room's
//     messages whose _updatedAt is after it (newest first) and no
//     deletions; the cursor mode and the exact error texts are not
//     reproduced (UNVERIFIED imitations with the documented codes).
//   - The request log (Requests) keeps at most 10,000 entries, oldest
//     dropped; it records bodies as received, except that a login body's
//     password, resume, code and digest values are redacted at any depth
//     (JSON or form; a login body that parses as neither is not recorded),
//     and never header token values.
//   - The action log (Actions) holds what successful chat.postMessage,
//     chat.sendMessage, chat.react, subscriptions.read and subscriptions.unread requests did,
//     as the server applied them (room resolved from any target spelling,
//     reaction added or removed), numbered; it keeps at least the latest
//     10,000. The helpers log nothing.
//   - Seeded ids are fixed constants; generated ids (subscriptions,
//     messages) are deterministic Meteor-like 17-character strings; tokens
//     are random, except the fixed demo personal access tokens BotToken and
//     AliceToken.
//
// # Realtime API (DDP)
//
// The same listener serves DDP over a websocket at /websocket (facts page
// §6, §6.1):
//
//   - The first frame is {"server_id":"0"}, or another version's
//     (SetServerIDFrame); a first message that is not "connect" closes the
//     session with 1002; "connect" version "1" (or pre1, pre2) is answered
//     "connected" with a session id, another version "failed".
//   - The "login" method with {resume: token} accepts the personal access
//     tokens and the login tokens the REST API knows (result {id, token,
//     tokenExpires: {$date}, type: "resume"}); an unknown or revoked token
//     gets the Meteor error 403 "You've been logged out by the server.
//     Please log in again.". Other methods answer 404. Every result is
//     followed by "updated".
//   - Heartbeat as ddp-streamer: client pings are answered with a pong
//     echoing the id; after 30s without a message the server pings and
//     closes with 4000 "TIMEOUT" 30s later (SetHeartbeat).
//   - Streams: stream-notify-user "<uid>/subscriptions-changed" (the
//     logged-in user's only) and stream-room-messages "<rid>" (a public
//     channel or a room the user is in) and "__my_messages__" (open to
//     anyone; messages of every room the user can read, with
//     {roomParticipant, roomType, roomName}); other streams answer nosub
//     404, a refused event nosub "not-allowed". The user's other
//     stream-notify-user events ("<uid>/rooms-changed", "<uid>/message",
//     "<uid>/notification"...) are accepted with "ready", as the real
//     server does, but nothing is ever sent on them. A reused sub id
//     replaces its subscription; each subscription gets its own copy of an
//     event. The second sub parameter is ignored: useCollection true gets
//     no "added" first (the facts page gives no shape for it).
//   - Events are "changed" messages with collection "stream-<name>", id
//     "id" and fields {eventName, args}; dates in them are EJSON
//     ({"$date": <epoch ms>}), the rest as REST renders it. They follow the
//     state exactly: every change a route or a helper makes to a
//     subscription sends one "inserted", "updated" or "removed" (with {_id,
//     u, rid}) to its user, so a plain message in an alerted room sends
//     none; every new message, every thread parent a reply changed, is
//     sent once to each subscription that may see it, after the state
//     changed and in the order of the changes. They are queued as the
//     state changes, so they usually reach the client before the REST
//     response (or method result) that caused them, where the real
//     server's are usually later (facts §6.1): a client must not rely on
//     either order.
//   - Test helpers: DropSessions, StopAnsweringPings, RefuseLogins,
//     RefuseUpgrade, DDPStats, Sessions. Frames for a client that does not
//     read are buffered without limit; the "sendMessage" method, password
//     logins and stream-notify-room are not served, and no message is
//     sent for a deletion.
package rctest
