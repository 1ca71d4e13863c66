-- rc.chat.post_message, rc.users.info, rc.me, rc.get, rc.post.

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
  t:raises("give channel or room_id, not both", rc.chat.post_message, {channel = "#a", room_id = "B", text = "x"})
  t:raises("channel or room_id is required", rc.chat.post_message, {text = "x"})
  t:raises("table expected, got string", rc.chat.post_message, "hello")
  t:raises('unknown option "msg"', rc.chat.post_message, {channel = "#a", msg = "x"})
  t:raises("text: string expected, got number", rc.chat.post_message, {channel = "#a", text = 1})
  t:raises("attachments: table expected", rc.chat.post_message, {channel = "#a", attachments = "x"})
  t:raises("attachments: a sequence of attachment tables expected", rc.chat.post_message,
    {channel = "#a", attachments = {title = "x"}})
  t:raises("attachments: json: [1].f: cannot encode a function", rc.chat.post_message,
    {channel = "#a", attachments = {{f = print}}})
  t:raises("channel must not be empty", rc.chat.post_message, {channel = "", text = "x"})
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
  for _, kind in ipairs{"no_member", "null_member", "array_member"} do
    fake.fail_next(kind)
    msg, err = rc.chat.post_message{channel = "#general", text = "x"}
    t:eq(msg, nil, kind)
    t:eq(err and err.status, 0, kind .. ": status")
    t:eq(err and err.error_type, "decode", kind .. ": a response without its message is malformed")
  end
end

function test_users_info(t)
  local u = rc.users.info{username = "alice"}
  t:eq(u.username, "alice")
  t:eq(u.active, true)
  t:eq(fake.last().username, "alice")
  u = rc.users.info{user_id = "U9"}
  t:eq(fake.last().user_id, "U9")
  t:eq(u.username, "user-U9")
  t:raises("give exactly one of username and user_id", rc.users.info, {})
  t:raises("give exactly one of username and user_id", rc.users.info, {username = "a", user_id = "b"})
  t:raises('unknown option "name"', rc.users.info, {name = "a"})
  fake.fail_next("unauthorized")
  local none, err = rc.users.info{username = "alice"}
  t:eq(none, nil)
  t:eq(err.status, 401)
  for _, kind in ipairs{"no_member", "null_member", "array_member"} do
    fake.fail_next(kind)
    none, err = rc.users.info{username = "alice"}
    t:eq(none, nil, kind)
    t:eq(err and err.status, 0, kind .. ": status")
    t:eq(err and err.error_type, "decode", kind .. ": a response without its user is malformed")
  end
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
  t:raises("endpoint must not be empty", rc.get, "")
  t:raises('query "x": string, number or boolean expected, got function', rc.get, "e", {x = print})
  t:raises("query: table expected, got string", rc.get, "e", "a=b")
  t:raises('query "ids": a sequence of values expected, got key "a"', rc.get, "e", {ids = {a = 1}})
  t:raises('query "ids": a sequence of values expected, got key 2', rc.get, "e", {ids = {[2] = "x"}})
  t:raises('query "ids": string, number or boolean expected, got table', rc.get, "e", {ids = {{}}})
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
  t:raises("bad argument #2 to rc.post (body: table expected, got function)", rc.post, "x", print)
  t:raises("body: table expected, got string", rc.post, "x", '{"a":1}')
  t:raises("body: json: f: cannot encode a function", rc.post, "x", {f = print})
  local cyc = {}
  cyc.self = cyc
  t:raises("body: json: self: cycle", rc.post, "x", cyc)
  fake.fail_next("canceled")
  local none, err = rc.post("chat.react", {})
  t:eq(err.error_type, "canceled")
end

function test_react(t)
  t:eq(rc.chat.react{message_id = "M1", emoji = "eyes"}, true)
  local c = fake.last()
  t:eq(c.method, "chat.react")
  t:eq(c.message_id, "M1")
  t:eq(c.emoji, "eyes")
  t:eq(c.should_react, nil, "absent: the server toggles")
  rc.chat.react{message_id = "M1", emoji = ":x:", should_react = false}
  t:eq(fake.last().should_react, false)
  t:raises("message_id is required", rc.chat.react, {emoji = "eyes"})
  t:raises("emoji is required", rc.chat.react, {message_id = "M1"})
  t:raises("emoji must not be empty", rc.chat.react, {message_id = "M1", emoji = ""})
  t:raises("should_react: boolean expected, got string", rc.chat.react, {message_id = "M1", emoji = "x", should_react = "yes"})
  t:raises('unknown option "messageId"', rc.chat.react, {messageId = "M1", emoji = "x"})
  t:raises("table expected, got string", rc.chat.react, "M1")
  t:eq(fake.count(), 2)
  fake.fail_next("server")
  local ok, err = rc.chat.react{message_id = "M1", emoji = "eyes"}
  t:eq(ok, nil)
  t:eq(err.status, 400)
  t:eq(err.error_type, "error-no-message-for-unread")
end

function test_update(t)
  local msg = rc.chat.update{room_id = "R1", message_id = "M1", text = "fixed"}
  t:eq(msg.msg, "fixed")
  t:eq(msg.editedAt, "2024-07-03T09:47:00.000Z")
  local c = fake.last()
  t:eq(c.method, "chat.update")
  t:eq(c.room_id, "R1")
  t:eq(c.message_id, "M1")
  t:eq(c.text, "fixed")
  rc.chat.update{room_id = "R1", message_id = "M1", text = ""}
  t:eq(fake.last().text, "", "an empty text is sent")
  t:raises("text is required", rc.chat.update, {room_id = "R1", message_id = "M1"})
  t:raises("room_id is required", rc.chat.update, {message_id = "M1", text = "x"})
  t:raises("message_id is required", rc.chat.update, {room_id = "R1", text = "x"})
  t:raises("text: string expected, got number", rc.chat.update, {room_id = "R1", message_id = "M1", text = 1})
  t:eq(fake.count(), 2)
  fake.fail_next("rate_limit")
  local none, err = rc.chat.update{room_id = "R1", message_id = "M1", text = "x"}
  t:eq(none, nil)
  t:eq(err.retry_after, 42)
end

function test_delete(t)
  t:eq(rc.chat.delete{room_id = "R1", message_id = "M1"}, true)
  local c = fake.last()
  t:eq(c.method, "chat.delete")
  t:eq(c.room_id, "R1")
  t:eq(c.message_id, "M1")
  t:raises("message_id is required", rc.chat.delete, {room_id = "R1"})
  t:raises("room_id is required", rc.chat.delete, {message_id = "M1"})
  t:raises('unknown option "as_user"', rc.chat.delete, {room_id = "R1", message_id = "M1", as_user = true})
  t:eq(fake.count(), 1)
  fake.fail_next("transport")
  local ok, err = rc.chat.delete{room_id = "R1", message_id = "M1"}
  t:eq(ok, nil)
  t:eq(err.error_type, "transport")
end

function test_rooms_info(t)
  local room = rc.rooms.info{room_id = "R1"}
  t:eq(room._id, "R1")
  t:eq(room.usersCount, 2)
  t:eq(fake.last().room_id, "R1")
  room = rc.rooms.info{room_name = "#general"}
  t:eq(fake.last().room_name, "general", "the # is dropped")
  t:eq(room._id, "ROOM-general")
  rc.rooms.info{room_name = "ops"}
  t:eq(fake.last().room_name, "ops")
  t:raises("give exactly one of room_id and room_name", rc.rooms.info, {})
  t:raises("give exactly one of room_id and room_name", rc.rooms.info, {room_id = "R1", room_name = "general"})
  t:raises("room_name must not be empty", rc.rooms.info, {room_name = "#"})
  t:raises('unknown option "roomName"', rc.rooms.info, {roomName = "general"})
  t:eq(fake.count(), 3)
  fake.fail_next("unauthorized")
  local none, err = rc.rooms.info{room_id = "R1"}
  t:eq(none, nil)
  t:eq(err.status, 401)
end
