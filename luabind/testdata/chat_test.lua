-- rc.chat.post_message, rc.users.info, rc.me, rc.get, rc.post.

local function raises(t, want, f, ...)
  local ok, err = pcall(f, ...)
  if ok then
    t:error("expected an error containing: " .. want)
    return
  end
  if not string.find(err, want, 1, true) then
    t:error("error " .. err .. " does not contain: " .. want)
  end
  if not string.find(err, "^testdata/chat_test%.lua:%d+: ") then
    t:error("error has no file:line prefix: " .. err)
  end
end

function test_post_message_channel(t)
  local msg, err = rc.chat.post_message{channel = "#general", text = "hello", alias = "Bot", emoji = ":robot:",
    avatar = "https://example.com/a.png", tmid = "THREAD1"}
  t:eq(err, nil)
  t:eq(msg._id, "MSG1")
  t:eq(msg.msg, "hello")
  t:eq(rc.json.encode(msg.mentions), "[]", "empty arrays stay arrays")
  local p = fake.last().post
  t:eq(p.channel, "#general")
  t:eq(p.room_id, nil)
  t:eq(p.text, "hello")
  t:eq(p.alias, "Bot")
  t:eq(p.emoji, ":robot:")
  t:eq(p.avatar, "https://example.com/a.png")
  t:eq(p.tmid, "THREAD1")
  t:eq(fake.last().has_ctx, true)
end

function test_post_message_room_attachments(t)
  local msg = rc.chat.post_message{room_id = "GENERAL", text = "see",
    attachments = {{title = "T", color = "#ff0000", fields = {{title = "a", value = "1", short = true}}}}}
  t:eq(msg.rid, "GENERAL")
  local p = fake.last().post
  t:eq(p.room_id, "GENERAL")
  t:eq(p.attachments, '[{"title":"T","color":"#ff0000","fields":[{"title":"a","value":"1","short":true}]}]')
  rc.chat.post_message{room_id = "GENERAL", text = "none", attachments = {}}
  t:eq(fake.last().post.attachments, nil, "empty attachments are omitted")
end

function test_post_message_misuse(t)
  raises(t, "give channel or room_id, not both", rc.chat.post_message, {channel = "#a", room_id = "B", text = "x"})
  raises(t, "channel or room_id is required", rc.chat.post_message, {text = "x"})
  raises(t, "table expected, got string", rc.chat.post_message, "hello")
  raises(t, 'unknown option "msg"', rc.chat.post_message, {channel = "#a", msg = "x"})
  raises(t, "text: string expected, got number", rc.chat.post_message, {channel = "#a", text = 1})
  raises(t, "attachments: table expected", rc.chat.post_message, {channel = "#a", attachments = "x"})
  raises(t, "attachments: a sequence of attachment tables expected", rc.chat.post_message,
    {channel = "#a", attachments = {title = "x"}})
  raises(t, "attachments: json: [1].f: cannot encode a function", rc.chat.post_message,
    {channel = "#a", attachments = {{f = print}}})
  raises(t, "channel must not be empty", rc.chat.post_message, {channel = "", text = "x"})
  t:eq(fake.count(), 0)
end

function test_post_message_failure(t)
  fake.fail_next("rate_limit")
  local msg, err = rc.chat.post_message{channel = "#general", text = "x"}
  t:eq(msg, nil)
  t:eq(err.retry_after, 42)
  fake.fail_next("bad_json")
  msg, err = rc.chat.post_message{channel = "#general", text = "x"}
  t:eq(err.error_type, "decode")
end

function test_users_info(t)
  local u = rc.users.info{username = "alice"}
  t:eq(u.username, "alice")
  t:eq(u.active, true)
  t:eq(fake.last().username, "alice")
  u = rc.users.info{user_id = "U9"}
  t:eq(fake.last().user_id, "U9")
  t:eq(u.username, "user-U9")
  raises(t, "give exactly one of username and user_id", rc.users.info, {})
  raises(t, "give exactly one of username and user_id", rc.users.info, {username = "a", user_id = "b"})
  raises(t, 'unknown option "name"', rc.users.info, {name = "a"})
  fake.fail_next("unauthorized")
  local none, err = rc.users.info{username = "alice"}
  t:eq(none, nil)
  t:eq(err.status, 401)
end

function test_me(t)
  local me = rc.me()
  t:eq(me.username, "rclua.bot")
  t:eq(me.success, nil, "success is dropped")
  t:eq(me.emails[1].verified, true)
  t:eq(fake.last().method, "me")
  fake.fail_next("transport")
  local none, err = rc.me()
  t:eq(none, nil)
  t:eq(err.status, 0)
  t:eq(err.error_type, "transport")
end

function test_get(t)
  local body = rc.get("channels.info", {roomName = "general", count = 10, all = true, ids = {"a", "b"}})
  t:eq(body.success, true, "raw calls return the whole body")
  local c = fake.last()
  t:eq(c.endpoint, "channels.info")
  t:eq(c.query, "all=true&count=10&ids=a&ids=b&roomName=general")
  t:eq(c.has_ctx, true)
  rc.get("me")
  t:eq(fake.last().query, nil, "no query table -> nil url.Values")
  raises(t, "endpoint must not be empty", rc.get, "")
  raises(t, 'query "x": string, number or boolean expected, got function', rc.get, "e", {x = print})
  raises(t, "query: table expected, got string", rc.get, "e", "a=b")
  raises(t, 'query "ids": a sequence of values expected, got key "a"', rc.get, "e", {ids = {a = 1}})
  raises(t, 'query "ids": a sequence of values expected, got key 2', rc.get, "e", {ids = {[2] = "x"}})
  raises(t, 'query "ids": string, number or boolean expected, got table', rc.get, "e", {ids = {{}}})
  fake.fail_next("server")
  local none, err = rc.get("channels.info")
  t:eq(none, nil)
  t:eq(err.status, 400)
end

function test_post(t)
  local body = rc.post("chat.react", {emoji = ":+1:", messageId = "M1", shouldReact = true})
  t:eq(body.ok, 1)
  local c = fake.last()
  t:eq(c.endpoint, "chat.react")
  t:eq(c.body, '{"emoji":":+1:","messageId":"M1","shouldReact":true}')
  rc.post("chat.react")
  t:eq(fake.last().body, "{}")
  raises(t, "bad argument #2 to rc.post (body: table expected, got function)", rc.post, "x", print)
  raises(t, "body: table expected, got string", rc.post, "x", '{"a":1}')
  raises(t, "body: json: f: cannot encode a function", rc.post, "x", {f = print})
  local cyc = {}
  cyc.self = cyc
  raises(t, "body: json: self: cycle", rc.post, "x", cyc)
  fake.fail_next("canceled")
  local none, err = rc.post("chat.react", {})
  t:eq(err.error_type, "canceled")
end
