-- morning_mark_read_test.lua: the tests of morning_mark_read.lua.
-- The clock starts on Monday 5 January 2026 at 08:00 (UTC, the test's zone).

function test_noisy_rooms_are_read_at_nine_on_weekdays()
  t.post { room = "#random", user = "bob", text = "good morning" }
  t.set_time("2026-01-05T08:59:59")
  t.eq(t.reads(), {}, "not before nine")
  t.set_time("2026-01-05T09:00:00")
  t.eq(t.reads(), { { room = "#random", read_threads = true } })
  t.eq(t.logs()[1].marked_read, 1)
end

function test_rooms_without_new_messages_are_left_alone()
  t.set_time("2026-01-05T09:00:00")
  t.eq(t.reads(), {})
  t.eq(t.logs()[1].marked_read, 0)
end

function test_no_clean_up_on_the_weekend()
  t.set_time("2026-01-09T10:00:00") -- Friday, after the clean-up
  t.post { room = "#random", user = "bob", text = "see you on Monday" }
  t.set_time("2026-01-11T23:59:00") -- Sunday night
  t.eq(t.reads(), {})
  t.set_time("2026-01-12T09:00:00") -- Monday
  t.eq(t.reads(), { { room = "#random", read_threads = true } })
end

function test_a_room_mentioning_the_bot_stays_unread()
  t.post { room = "#random", user = "bob", text = "@rclua.bot please read this one" }
  t.set_time("2026-01-05T09:00:00")
  t.eq(t.reads(), {})
  t.eq(t.logs()[1].kept_for_mentions, 1)
end
