package scripttest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordScript acts by every route a script has, one per "do <name>"
// message; a failed call is logged.
const recordScript = `
local acts = {
  typed_channel = function(m) return rc.chat.post_message{channel = "#random", text = "typed"} end,
  typed_room_id = function(m) return rc.chat.post_message{room_id = "rcluaRandomRoom01", text = "by id"} end,
  reply = function(m) return m:reply("replied") end,
  reply_thread = function(m) return m:reply{text = "in thread", thread = true} end,
  post_channel = function(m) return rc.post("chat.postMessage", {channel = "#general", text = "x"}) end,
  post_room_id = function(m) return rc.post("chat.postMessage", {roomId = "rcluaRandomRoom01", text = "y", tmid = nil}) end,
  post_dm = function(m) return rc.post("chat.postMessage", {channel = "@bob", text = "z"}) end,
  post_many = function(m) return rc.post("chat.postMessage", {channel = {"#general", "#random"}, text = "both"}) end,
  post_thread = function(m) return rc.post("chat.postMessage", {roomId = m.rid, tmid = m._id, text = "t"}) end,
  send = function(m) return rc.post("chat.sendMessage", {message = {rid = "rcluaRandomRoom01", msg = "sent"}}) end,
  send_thread = function(m) return rc.post("chat.sendMessage", {message = {rid = m.rid, msg = "sent in", tmid = m._id}}) end,
  send_bad_room = function(m) return rc.post("chat.sendMessage", {message = {rid = "nowhere", msg = "x"}}) end,
  post_bad_room = function(m) return rc.post("chat.postMessage", {channel = "#nowhere", text = "x"}) end,
  post_no_target = function(m) return rc.post("chat.postMessage", {text = "x"}) end,
  post_many_partly = function(m) return rc.post("chat.postMessage", {channel = {"#general", "#nowhere"}, text = "first only"}) end,
  get_post = function(m) return rc.get("chat.postMessage", {channel = "#general", text = "x"}) end,

  typed_react = function(m) return rc.chat.react{message_id = m._id, emoji = "rocket"} end,
  msg_react = function(m) return m:react("eyes") end,
  post_react = function(m) return rc.post("chat.react", {messageId = m._id, emoji = "eyes"}) end,
  post_reaction_key = function(m) return rc.post("chat.react", {messageId = m._id, reaction = ":tada:"}) end,
  post_react_twice = function(m)
    rc.post("chat.react", {messageId = m._id, emoji = "eyes", shouldReact = true})
    return rc.post("chat.react", {messageId = m._id, emoji = "eyes"}) -- toggles off
  end,
  post_react_bad = function(m) return rc.post("chat.react", {messageId = "nope", emoji = "eyes"}) end,
  post_react_unknown = function(m) return rc.post("chat.react", {messageId = m._id, emoji = "no-such-emoji"}) end,

  typed_read = function(m) return rc.subscriptions.read(m.rid, {read_threads = true}) end,
  typed_unread = function(m) return rc.subscriptions.unread(m.rid) end,
  typed_unread_from = function(m) return rc.subscriptions.unread{first_unread_message = m._id} end,
  post_read_rid = function(m) return rc.post("subscriptions.read", {rid = m.rid}) end,
  post_read_room_id = function(m) return rc.post("subscriptions.read", {roomId = m.rid, readThreads = true}) end,
  post_unread = function(m) return rc.post("subscriptions.unread", {roomId = m.rid}) end,
  post_unread_from = function(m) return rc.post("subscriptions.unread", {firstUnreadMessage = {_id = m._id}}) end,
  post_read_both = function(m) return rc.post("subscriptions.read", {rid = m.rid, roomId = m.rid}) end,
  post_read_no_sub = function(m) return rc.post("subscriptions.read", {rid = "rcluaNoSubRoom001"}) end,
}
rc.hear("^do (%S+)$", function(m, name)
  local ok, err = acts[name](m)
  if not ok then rc.log.warn("failed", {what = name, status = err.status}) end
end)
`

// TestRecordersSeeEveryRoute: whichever route the script acts by (typed
// functions, msg:reply and msg:react, rc.post with each spelling the
// server accepts), t.posted, t.reactions and t.reads show what the server
// applied; refused requests, those t.fail answers and rc.get record
// nothing, nor do the users' posts (the bot's too); a post to several
// rooms failing part way keeps the posts the server made.
func TestRecordersSeeEveryRoute(t *testing.T) {
	t.Parallel()
	path := files(t, recordScript, `
local function act(name, room)
  return t.post { room = room or "#general", text = "do " .. name }
end

local function failed(name)
  local l = t.logs()
  t.eq(l[#l].what, name, "the last failure")
end

function test_posts()
  act("typed_channel")
  act("typed_room_id")
  act("reply")
  local m = act("reply_thread")
  act("post_channel")
  act("post_room_id")
  act("post_dm")
  act("post_many")
  local m2 = act("post_thread", "#random")
  act("send")
  local m3 = act("send_thread")
  t.eq(t.posted(), {
    { room = "#random", text = "typed" },
    { room = "#random", text = "by id" },
    { room = "#general", text = "replied" },
    { room = "#general", text = "in thread", thread = m._id },
    { room = "#general", text = "x" },
    { room = "#random", text = "y" },
    { room = "@bob", text = "z" },
    { room = "#general", text = "both" },
    { room = "#random", text = "both" },
    { room = "#random", text = "t", thread = m2._id },
    { room = "#random", text = "sent" },
    { room = "#general", text = "sent in", thread = m3._id },
  })
end

function test_failed_posts_are_not_recorded()
  act("post_bad_room"); failed("post_bad_room")
  act("post_no_target"); failed("post_no_target")
  act("send_bad_room"); failed("send_bad_room")
  act("get_post"); failed("get_post")
  t.fail("chat.postMessage", 500, "down")
  act("post_channel"); failed("post_channel")
  act("reply"); failed("reply")
  t.post { room = "#general", text = "as the bot itself", user = "rclua.bot" }
  t.eq(t.posted(), {})
end

function test_a_post_failing_part_way_keeps_what_was_posted()
  act("post_many_partly"); failed("post_many_partly")
  t.eq(t.posted(), { { room = "#general", text = "first only" } }, "as the server, which posted to the first room")
end

function test_reactions()
  local a = act("typed_react")
  local b = act("msg_react")
  local c = act("post_react")
  local d = act("post_reaction_key")
  local e = act("post_react_twice")
  t.eq(t.reactions(), {
    { message = a._id, emoji = "rocket" },
    { message = b._id, emoji = "eyes" },
    { message = c._id, emoji = "eyes" },
    { message = d._id, emoji = "tada" },
    { message = e._id, emoji = "eyes" },
    { message = e._id, emoji = "eyes", removed = true },
  })
end

function test_failed_reactions_are_not_recorded()
  act("post_react_bad"); failed("post_react_bad")
  act("post_react_unknown"); failed("post_react_unknown")
  t.fail("chat.react", 429, "slow down")
  act("msg_react"); failed("msg_react")
  act("post_react"); failed("post_react")
  t.eq(t.reactions(), {})
end

function test_reads()
  act("typed_read")
  act("typed_unread", "#random")
  local m = act("typed_unread_from")
  act("post_read_rid", "#random")
  act("post_read_room_id")
  act("post_unread")
  local m2 = act("post_unread_from", "#random")
  t.eq(t.reads(), {
    { room = "#general", read_threads = true },
    { room = "#random", unread = true },
    { message = m._id, unread = true },
    { room = "#random" },
    { room = "#general", read_threads = true },
    { room = "#general", unread = true },
    { message = m2._id, unread = true },
  })
end

function test_failed_reads_are_not_recorded()
  act("post_read_both"); failed("post_read_both")
  act("post_read_no_sub"); failed("post_read_no_sub")
  t.fail("subscriptions.read", 500, "down")
  act("typed_read"); failed("typed_read")
  act("post_read_rid"); failed("post_read_rid")
  t.eq(t.reads(), {})
end
`)
	r := results(t, path, Options{})
	for _, name := range []string{"test_posts", "test_failed_posts_are_not_recorded", "test_a_post_failing_part_way_keeps_what_was_posted", "test_reactions",
		"test_failed_reactions_are_not_recorded", "test_reads", "test_failed_reads_are_not_recorded"} {
		require.Contains(t, r, name)
		assert.True(t, r[name].Passed, "%s: %+v", name, r[name])
	}
}
