-- mention_alert_test.lua: the tests of mention_alert.lua.

function test_a_mention_alerts_the_owner()
  t.post { room = "#general", user = "bob", text = "@rclua.bot can you look?" }
  t.eq(t.posted(), { { room = "@alice", text = ":bell: 1 new mention in #general" } })
end

function test_mentions_counted_at_load_are_not_alerted()
  t.post { room = "#general", user = "bob", text = "just chatting" }
  t.post { room = "#random", user = "carol", text = "no mention here" }
  t.eq(t.posted(), {})
end

function test_each_mention_is_alerted_once()
  t.post { room = "#general", user = "bob", text = "@rclua.bot one" }
  t.post { room = "#general", user = "carol", text = "@rclua.bot two" }
  t.eq(t.posted(), {
    { room = "@alice", text = ":bell: 1 new mention in #general" },
    { room = "@alice", text = ":bell: 1 new mention in #general" },
  })
end

function test_a_mention_in_a_thread_alerts_the_owner()
  local root = t.post { room = "#random", user = "bob", text = "release notes" }
  t.post { room = "#random", user = "carol", text = "@rclua.bot can you check?", thread = root._id }
  t.eq(t.posted(), { { room = "@alice", text = ":bell: 1 new mention in #random" } })
  t.post { room = "#random", user = "carol", text = "@rclua.bot again", thread = root._id }
  t.eq(#t.posted(), 1, "the thread is listed already")
  t.post { room = "#random", user = "bob", text = "no mention", thread = root._id }
  t.eq(#t.posted(), 1)
end

function test_a_direct_message_counts_as_a_mention()
  t.post { room = "@rclua.bot", user = "bob", text = "hi bot" }
  t.eq(t.posted(), { { room = "@alice", text = ":bell: 1 new mention in a direct message with Bob Smith" } })
end

function test_the_owners_own_direct_messages_are_not_reported_back()
  t.post { room = "@rclua.bot", user = "alice", text = "a note to the bot" }
  t.eq(t.posted(), {})
end

function test_a_failed_alert_is_logged()
  t.fail("chat.postMessage", 500, "boom")
  t.post { room = "#general", user = "bob", text = "@rclua.bot hello" }
  t.eq(t.posted(), {})
  local last = t.logs()[#t.logs()]
  t.eq({ last.level, last.message }, { "warn", "could not alert the owner" })
end

function test_a_mention_missed_while_down_is_alerted_after_a_restart()
  -- What was reported before rclua stopped: no mention in #general yet
  -- (the seeded server has one there since).
  local seen = t.store("seen")
  seen.GENERAL = 0
  t.store("seen", seen)
  t.restart()
  -- After the restart the daemon delivers the subscriptions that changed
  -- while it was down.
  t.subscription_changed("#general")
  t.eq(t.posted(), { { room = "@alice", text = ":bell: 1 new mention in #general" } })
end

function test_counts_survive_a_restart()
  t.post { room = "#general", user = "bob", text = "@rclua.bot one" }
  t.restart()
  t.subscription_changed("#general") -- the same count: already reported
  t.eq(#t.posted(), 1)
end
