-- rc.subscriptions.* against the fake (see fake_test.go).

function test_get_all(t)
  local res, err = rc.subscriptions.get()
  t:eq(err, nil, "err")
  t:eq(#res.update, 2, "#update")
  t:eq(#res.remove, 1, "#remove")
  t:eq(res.success, nil, "success is dropped")
  local n = 0
  for k in pairs(res) do n = n + 1 end
  t:eq(n, 2, "only update and remove")
  local s = res.update[1]
  t:eq(s.rid, "GENERAL")
  t:eq(s.unread, 4)
  t:eq(s.userMentions, 1)
  t:eq(s._updatedAt, "2024-07-02T18:07:35.267Z", "times pass through")
  t:eq(s.u.username, "bot")
  t:eq(s.tunread[1], "jC9chsFddTvsbFQG7")
  t:eq(s.fname, rc.json.null, "null field kept as rc.json.null")
  t:eq(rc.json.encode(s.newField), '{"x":[]}', "unknown fields kept, [] stays an array")
  t:eq(res.remove[1]._deletedAt, "2024-07-02T12:00:01.123Z")
  local last = fake.last()
  t:eq(last.method, "subscriptions.get")
  t:eq(last.has_ctx, true)
  t:eq(last.updated_since, nil, "no options")
end

function test_get_updated_since_iso(t)
  local res = rc.subscriptions.get{updated_since = "2024-07-02T00:00:00.000Z"}
  t:eq(#res.update, 2)
  t:eq(fake.last().updated_since, "2024-07-02T00:00:00Z")
end

function test_get_updated_since_unix(t)
  rc.subscriptions.get{updated_since = 1719878400.5}
  t:eq(fake.last().updated_since, "2024-07-02T00:00:00.5Z")
end

function test_get_misuse(t)
  t:raises('bad argument #1 to rc.subscriptions.get (unknown option "updatedsince")',
    rc.subscriptions.get, {updatedsince = 1})
  t:raises("options: table expected, got string", rc.subscriptions.get, "2024-01-01")
  t:raises("updated_since: not an ISO-8601 time", rc.subscriptions.get, {updated_since = "yesterday"})
  t:raises("updated_since: ISO-8601 string or Unix seconds expected, got boolean",
    rc.subscriptions.get, {updated_since = true})
  t:raises("not a Unix time", rc.subscriptions.get, {updated_since = -1})
  t:raises("option keys are strings", rc.subscriptions.get, {1})
  t:eq(fake.count(), 0, "no call reached the client")
end

function test_get_failures(t)
  fake.fail_next("rate_limit")
  local res, err = rc.subscriptions.get()
  t:eq(res, nil)
  t:eq(err.status, 429)
  t:eq(err.retry_after, 42, "41.5 s rounded up")
  fake.fail_next("bad_json")
  res, err = rc.subscriptions.get()
  t:eq(res, nil)
  t:eq(err.status, 0)
  t:eq(err.error_type, "decode")
  if not string.find(err.message, "subscriptions.get", 1, true) then
    t:error("message does not name the endpoint: " .. err.message)
  end
end

function test_get_one(t)
  local sub, err = rc.subscriptions.get_one("GENERAL")
  t:eq(err, nil)
  t:eq(sub.rid, "GENERAL")
  t:eq(sub.unread, 3)
  t:eq(tostring(sub.unread), "3", "integers print without .0")
  t:eq(sub.roles[1], "owner")
  t:eq(fake.last().room_id, "GENERAL")
  t:eq(fake.last().has_ctx, true)
end

function test_get_one_not_subscribed(t)
  local sub, err = rc.subscriptions.get_one("NOSUB")
  t:eq(sub, nil)
  t:eq(err, nil, "not subscribed is not an error")
  t:eq(select("#", rc.subscriptions.get_one("NOSUB")), 1, "one result")
end

function test_get_one_misuse(t)
  t:raises("bad argument #1 to rc.subscriptions.get_one (room_id must not be empty)", rc.subscriptions.get_one, "")
  t:raises("room_id: string expected, got nil", rc.subscriptions.get_one)
  t:raises("room_id: string expected, got number", rc.subscriptions.get_one, 42)
  t:raises("room_id: string expected, got table", rc.subscriptions.get_one, {})
end

function test_get_one_failures(t)
  local cases = {
    {kind = "server", status = 400, error_type = "error-no-message-for-unread"},
    {kind = "unauthorized", status = 401, error_type = ""},
    {kind = "transport", status = 0, error_type = "transport"},
    {kind = "canceled", status = 0, error_type = "canceled"},
    {kind = "rate_limit", status = 429, error_type = "", retry_after = 42},
    {kind = "bad_json", status = 0, error_type = "decode"},
    {kind = "array_member", status = 0, error_type = "decode"},
  }
  for _, c in ipairs(cases) do
    fake.fail_next(c.kind)
    local sub, err = rc.subscriptions.get_one("GENERAL")
    t:eq(sub, nil, c.kind)
    if type(err) ~= "table" then t:fatal(c.kind .. ": err is not a table") end
    t:eq(err.status, c.status, c.kind .. ": status")
    t:eq(err.error_type, c.error_type, c.kind .. ": error_type")
    t:eq(err.retry_after, c.retry_after, c.kind .. ": retry_after")
    t:eq(type(err.message), "string", c.kind .. ": message")
  end
  for _, kind in ipairs{"no_member", "null_member"} do
    fake.fail_next(kind)
    t:eq(select("#", rc.subscriptions.get_one("GENERAL")), 1, kind .. ": a single nil, not an error")
  end
end

function test_read(t)
  t:eq(rc.subscriptions.read("GENERAL"), true)
  local c = fake.last()
  t:eq(c.method, "subscriptions.read")
  t:eq(c.room_id, "GENERAL")
  t:eq(c.read_threads, nil, "no options -> nil ReadOptions")
  t:eq(c.has_ctx, true)
  t:eq(rc.subscriptions.read("GENERAL", {read_threads = true}), true)
  t:eq(fake.last().read_threads, true)
  rc.subscriptions.read("GENERAL", {read_threads = false})
  t:eq(fake.last().read_threads, false)
end

function test_read_misuse(t)
  t:raises("room_id must not be empty", rc.subscriptions.read, "")
  t:raises('unknown option "readThreads"', rc.subscriptions.read, "GENERAL", {readThreads = true})
  t:raises("read_threads: boolean expected, got string", rc.subscriptions.read, "GENERAL", {read_threads = "yes"})
  t:raises("bad argument #2 to rc.subscriptions.read (options: table expected, got boolean)",
    rc.subscriptions.read, "GENERAL", true)
end

function test_read_failure(t)
  fake.fail_next("server")
  local ok, err = rc.subscriptions.read("GENERAL")
  t:eq(ok, nil)
  t:eq(err.status, 400)
  t:eq(err.error_type, "error-no-message-for-unread")
  t:eq(err.details.method, "unreadMessages")
  t:eq(err.retry_after, nil, "no retry_after unless rate limited")
end

function test_unread_room(t)
  t:eq(rc.subscriptions.unread("GENERAL"), true)
  local c = fake.last()
  t:eq(c.method, "subscriptions.unread")
  t:eq(c.room_id, "GENERAL")
  t:eq(c.message_id, nil)
end

function test_unread_from_message(t)
  t:eq(rc.subscriptions.unread{first_unread_message = "MSG1"}, true)
  local c = fake.last()
  t:eq(c.message_id, "MSG1")
  t:eq(c.room_id, nil)
end

function test_unread_misuse(t)
  t:raises("first_unread_message is required", rc.subscriptions.unread, {})
  t:raises('unknown option "room_id"', rc.subscriptions.unread, {room_id = "GENERAL"})
  t:raises("first_unread_message must not be empty", rc.subscriptions.unread, {first_unread_message = ""})
  t:raises("room_id: string expected, got nil", rc.subscriptions.unread)
end

function test_unread_failure(t)
  fake.fail_next("rate_limit_reset")
  local ok, err = rc.subscriptions.unread("GENERAL")
  t:eq(ok, nil)
  t:eq(err.status, 429)
  if not (err.retry_after >= 9 and err.retry_after <= 10) then
    t:error("retry_after from Reset: " .. tostring(err.retry_after))
  end
end
