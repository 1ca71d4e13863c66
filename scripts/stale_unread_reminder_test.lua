-- stale_unread_reminder_test.lua: the tests of stale_unread_reminder.lua.
-- The fake server starts with #general (last opened two days ago) and the
-- group ops (a month ago) unread.

function test_stale_rooms_are_reminded_once()
  t.advance("14m")
  t.eq(t.posted(), {}, "nothing before the first check")
  t.advance("1m")
  t.eq(t.posted(), { {
    room = "@alice",
    text = "Still unread:\n- #general: 1 unread, not opened for 48 h\n- ops: 1 unread, not opened for 718 h",
  } })
  t.advance("2h")
  t.eq(#t.posted(), 1, "each stale room is reminded about once")
end

function test_a_room_long_unopened_is_reminded_when_it_gets_new_messages()
  t.advance("15m")
  t.post { room = "#random", user = "bob", text = "hello" }
  t.advance("15m")
  t.eq(#t.posted(), 2)
  t.contains(t.posted()[2].text, "- #random: new messages, not opened for")
  t.ok(not t.posted()[2].text:find("#general", 1, true), "#general was reminded about already")
end

function test_a_failed_reminder_is_tried_again()
  t.fail("chat.postMessage", 500, "boom", 1)
  t.advance("15m")
  t.eq(t.posted(), {})
  t.eq(t.logs()[#t.logs()].message, "could not post the reminder")
  t.advance("15m")
  t.eq(#t.posted(), 1, "the next check reminds")
end
