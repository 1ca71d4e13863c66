-- unread_digest_test.lua: the tests of unread_digest.lua.
-- The fake server starts with new messages in #general (a mention of the
-- bot) and in the group ops (an @all), and one from alice in her DM.

function test_digest_every_three_hours_mentions_first()
  t.advance("2h59m")
  t.eq(t.posted(), {}, "nothing before the first interval")
  t.advance("1m")
  t.eq(t.posted(), { {
    room = "@alice",
    text = "Unread digest: 2 rooms with new messages\n"
      .. "- #general: 1 unread (1 mentioning you)\n"
      .. "- ops: 1 unread (1 mentioning you)",
  } })
end

function test_the_same_digest_is_not_sent_twice()
  t.advance("3h")
  t.advance("3h")
  t.eq(#t.posted(), 1)
end

function test_a_change_sends_a_new_digest()
  t.advance("3h")
  t.post { room = "#random", user = "bob", text = "lunch?" }
  t.advance("3h")
  t.eq(#t.posted(), 2)
  t.contains(t.posted()[2].text, "- #random: new messages")
  t.contains(t.posted()[2].text, "3 rooms with new messages")
end

function test_a_failing_server_sends_nothing_and_warns()
  t.fail("subscriptions.get", 500, "boom")
  t.advance("3h")
  t.eq(t.posted(), {})
  t.eq(t.logs()[1].level, "warn")
  t.eq(t.logs()[1].message, "cannot list subscriptions")
end

function test_the_last_digest_is_remembered_in_the_store()
  t.eq(t.store("last_digest"), nil)
  t.advance("3h")
  t.eq(t.store("last_digest"), t.posted()[1].text, "kept across reloads and restarts")
end

function test_a_restart_does_not_send_the_same_digest_again()
  t.advance("3h")
  t.restart() -- the daemon restarted: a fresh state, the same store
  t.advance("3h")
  t.eq(#t.posted(), 1, "the digest is unchanged: not sent again")
end
