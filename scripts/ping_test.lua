-- ping_test.lua: the tests of ping.lua (run them with `rclua test scripts`).

function test_ping_gets_pong_in_its_thread()
  local msg = t.post { room = "#general", user = "bob", text = "!ping" }
  t.eq(t.posted(), { { room = "#general", text = "pong", thread = msg._id } })
end

function test_other_messages_get_no_answer()
  t.post { room = "#general", text = "ping me maybe" }
  t.post { room = "#general", text = "deploy staging" } -- not addressed to the bot
  t.eq(t.posted(), {})
end

function test_deploy_request_is_acknowledged()
  local msg = t.post { room = "#general", user = "alice", text = "@rclua.bot deploy production v1.4.2" }
  t.eq(t.reactions(), { { message = msg._id, emoji = "rocket" } })
  t.eq(t.posted(), {
    { room = "#general", text = "Deploying v1.4.2 to production, as asked by @alice.", thread = msg._id },
  })
  local last = t.logs()[#t.logs()]
  t.eq(last.message, "deploy requested")
  t.eq({ last.env, last.version, last.by }, { "production", "v1.4.2", "alice" })
end

function test_deploy_in_a_direct_message_defaults_to_latest()
  t.post { room = "@rclua.bot", user = "alice", text = "deploy staging" }
  t.eq(t.posted()[1].text, "Deploying latest to staging, as asked by @alice.")
  t.eq(t.posted()[1].room, "@alice")
end

function test_unknown_environment_gets_the_usage()
  t.post { room = "#general", text = "@rclua.bot deploy moon" }
  t.eq(t.posted()[1].text, "Usage: deploy <production|staging> [version]")
  t.eq(t.reactions(), {})
end

function test_a_failing_server_is_logged()
  t.fail("chat.postMessage", 500, "boom")
  t.post { room = "#general", text = "!ping" }
  t.eq(t.posted(), {})
  local last = t.logs()[#t.logs()]
  t.eq(last.level, "warn")
  t.eq(last.message, "could not answer")
end
