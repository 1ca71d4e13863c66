// Package scripttest runs the tests of rclua scripts (rclua test): a file
// foo_test.lua tests the script foo.lua beside it. The script under test
// runs in the real sandbox (runtime/sandbox) with the real rc table
// (luabind) over real HTTP against an in-process fake Rocket.Chat
// (rc/rctest, on a loopback listener), loaded and driven through
// runtime.Script: the daemon's own trigger registration and handler call
// path. Nothing reaches the network or the real clock: os.time, os.date
// and os.clock of both states, the server's timestamps and the timers read
// a fake clock, which only the test moves.
//
// # A test file
//
// A test file is Lua in a sandboxed state of its own, with one global of
// rclua's, t; its print writes a line to Options.Output. Its top level
// runs once; then every global function named
// test_* is one test, run in the order they are defined, each with a fresh
// fake server (seeded as rc/rctest documents: the bot rclua.bot, users
// alice, bob, carol and admin, rooms general, random, ops, ...), a fresh
// state of the script (its top level run again) and a fresh clock. A test
// fails at its first failed assertion or Lua error, with its file:line; it
// also fails when a handler of the script failed and the test never called
// t.errors(), at the test's line whose t call made the handler run (the
// script's file:line is in the message). A failed assertion after a
// handler failed names that failure too, the likely cause.
//
// The clock starts at Monday 5 January 2026, 08:00 UTC, unless the top
// level called t.start. It moves only on t.advance and t.set_time, which
// fire every rc.every and rc.cron timer due on the way, in due order, each
// with the clock at its due time (rc.every first fires one interval after
// the load, as in the daemon; rc.cron specs without CRON_TZ read the
// test's zone), and by 1 ms before each round of events, so that each
// change has its own instant.
//
// # Events
//
// The script gets the events the daemon's sources would give it. t.post
// delivers the message to rc.on("message"), rc.hear and rc.respond when the
// bot is a member of the room (never the bot's own messages), then every
// change of the bot's subscriptions goes to rc.on("subscription") handlers
// as "inserted", "updated" or "removed", read from subscriptions.get as the
// poll source reads them, round after round while handlers cause more
// (the script's own posts change subscriptions too). All of it runs
// synchronously: when a t function returns, the handlers have run.
//
// # The t table
//
// Setup (top level only, but t.config):
//
//	t.start(time [, zone])      where each test's clock starts: "2026-12-07T08:00:00" in zone
//	                            ("Europe/Berlin"; default UTC), or with Z or an offset
//	t.secret(name, value)       the script's rc.secret(name) finds value (if its section of
//	                            rclua.toml, or t.config's, allows name); no other environment
//	                            reaches a test
//	t.config(settings)          the script's section of settings, as rc.config returns it,
//	                            instead of rclua.toml's (which is then not read), secrets
//	                            allow-list included: at the top level for every test; inside
//	                            a test for that test, the script then loaded again with it
//	                            (as t.restart; a failing top level raises its error and keeps
//	                            the running state, as the daemon's reload). Values are what
//	                            rclua.toml holds: strings, numbers, booleans, arrays (keys
//	                            1..n) and tables with string keys; anything else is refused
//
// Acting:
//
//	t.post{room =, text = [, user = "alice"] [, thread = msg_id]} -> msg
//	                            a user posts over HTTP; room is "#general" (or "general"),
//	                            or "@username" for a direct message to that user
//	                            ("@rclua.bot": to the bot); returns the stored message
//	t.subscribe(room)           the bot joins room: "inserted"
//	t.subscription_changed(room) the bot's subscription of room, as it is, again: "updated"
//	t.subscription_removed(room) the bot leaves room: "removed"
//	t.advance(d)                the clock moves d ("90s", "1h30m", "2d" or seconds)
//	t.set_time(time)            the clock moves to time (forward only), in the test's zone
//	t.now()                     the clock, Unix seconds (as os.time())
//	t.fail(endpoint, status [, error [, times]])
//	                            the script's requests to endpoint ("chat.postMessage") get
//	                            status and {"success":false,"error":error}: times of them,
//	                            or all until the test ends; a 429 resets in a minute. The
//	                            fault answers first: an endpoint the fake server does not
//	                            serve can fail too; a near miss of one it serves
//	                            (rctest.Endpoints) fails the test, naming it
//	t.store(key, value)         seeds the script's rc.store as rc.store.set(key, value) would
//	                            (the same conversion and limits; no expiry; nil deletes)
//	t.restart()                 the daemon restarts: the script's state is closed and the
//	                            script loaded again (its top level runs, its timers start
//	                            from the clock's now); the store, the server, the clock (it
//	                            does not move) and the records below (posts, logs, errors)
//	                            stay. A failing top level raises its error, and the
//	                            functions that drive the script refuse until it loads
//
// Inspecting (what the script did that the server accepted, oldest first;
// the records come from the fake server's action log for the script's own
// requests, so every route counts: rc.chat.*, rc.subscriptions.*,
// msg:reply, msg:react, rc.post with any spelling the server accepts):
//
//	t.posted()    {{room = "#general" | "@alice", text =, thread = tmid (absent outside one)}, ...}
//	t.reactions() {{message = id, emoji = "rocket", removed = true (absent when added)}, ...}
//	t.reads()     {{room =, read_threads = true (absent when not asked)}, {room =, unread = true},
//	              {message = id, unread = true} (unread from a message), ...}
//	t.logs()      {{level = "info", message =, <fields>...}, ...} (print logs at info)
//	t.errors()    messages of the handlers that failed since the last call ("file:line: ...")
//	t.store(key)  the value the script's rc.store holds under key (nil: none or expired)
//
// Asserting (msg, when given, starts the failure's message):
//
//	t.eq(got, want [, msg])         equal; tables compared deeply (keys and values)
//	t.ne(got, other [, msg])        not equal (deeply)
//	t.ok(v [, msg])                 v is neither nil nor false
//	t.contains(s | list, x [, msg]) a string holding x (plain text), a list holding a value equal to x
package scripttest
