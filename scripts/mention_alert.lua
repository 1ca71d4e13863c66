-- mention_alert.lua: tell the owner at once when someone mentions the bot.
--
-- What it does: whenever the bot (the account rclua runs as) gets a new
-- direct mention in one of its rooms, it sends the owner a direct message
-- naming the room and how many new mentions arrived. Each mention is
-- reported once: the script remembers the mention count it last saw per
-- room and only reports an increase.
--
-- An event is a snapshot of the subscription as the server sent it, and
-- events can queue up: a burst of mentions gives one snapshot per change
-- (or per poll, when polling), and a snapshot can be
-- older than what the script already knows (after a reload, or after a
-- room was read). So when a snapshot's count differs from the one
-- remembered, the script re-reads the subscription and trusts only its
-- current count: a backlog gives one alert, a stale snapshot none.
-- Snapshots whose count did not change (the bot's own message in a room
-- it had read, a plain message setting `alert`) cost no request; a plain
-- channel message in a room already alerted gives no snapshot at all.
--
-- The counts reported are kept in rc.store, so a restart (or a reload)
-- starts from them: a mention made while rclua was down comes, after the
-- restart, as a change of its subscription and is reported then. Only the
-- first start, with nothing stored, takes the current counts as reported.
--
-- rc calls: rc.on("subscription", ...) for subscription changes,
-- rc.store.get/set("seen") (the counts reported),
-- rc.subscriptions.get() at the first start (to learn the current counts),
-- rc.subscriptions.get_one(room_id) when a count changed,
-- rc.chat.post_message{channel = "@owner", ...}, rc.log.info/warn,
-- rc.config.owner, require("rooms") (lib/rooms.lua).
--
-- Expects: `owner` in the [mention_alert] section of rclua.toml is an existing username the bot may send a direct
-- message to (alice on the --dev server). The count is `userMentions` (the
-- unread mentions of the bot), except in a direct-message room, where every
-- message counts: there it is `unread`, which a server with default
-- settings (Unread_Count_DM "all_messages") increments for every message,
-- while a plain DM message is no mention. Threads count too: a mention in
-- a reply only in a thread leaves `userMentions` alone and lists the
-- thread in `tunreadUser` (a DM's thread replies: `tunread`), so the count
-- adds the threads listed; a second mention in a thread already listed is
-- not reported again until the thread is read. A thread reply also sent to
-- the room ("also send to channel") raises userMentions too, so on a real
-- server it counts twice (the fake server does not model such replies). Messages in the owner's own DM
-- with the bot are not reported back to the owner.

local roomlib = require("rooms")
local owner = rc.config.owner or error("set owner in the [mention_alert] section of rclua.toml")

local seen = {} -- room id -> mention count already reported (kept in rc.store)

-- save keeps seen for the next load; a failure only costs a repeated
-- alert after a restart.
local function save()
  local ok, err = rc.store.set("seen", seen)
  if not ok then
    rc.log.warn("cannot keep the reported counts", { error = tostring(err) })
  end
end

-- mentions is sub's count of unread mentions (in a DM every message),
-- plus its threads with unread ones: a reply only in a thread changes no
-- counter, it puts the thread's id in tunreadUser (tunread in a DM).
local function mentions(sub)
  if sub.t == "d" then
    return (tonumber(sub.unread) or 0) + #(sub.tunread or {})
  end
  return (tonumber(sub.userMentions) or 0) + #(sub.tunreadUser or {})
end

local function room_label(sub)
  return roomlib.label(sub, "a direct message with ")
end

local function remember_current_counts()
  local stored = rc.store.get("seen")
  if type(stored) == "table" then
    seen = stored -- what was reported before the restart
    return
  end
  local result, err = rc.subscriptions.get()
  if not result then
    rc.log.warn("cannot read the current mention counts; counting from zero", { error = tostring(err) })
    return
  end
  for _, sub in ipairs(result.update) do
    seen[sub.rid] = mentions(sub)
  end
  save()
end

local function on_subscription(action, sub)
  if action == "removed" then
    return
  end
  if roomlib.is_owner_dm(sub, owner) then
    return -- the owner's own DM with the bot
  end
  local before = seen[sub.rid] or 0
  if mentions(sub) == before then
    return -- no new mention (a plain message, the bot's own message)
  end
  -- The snapshot may be stale: count from the subscription as it is now.
  local current, err = rc.subscriptions.get_one(sub.rid)
  if err then
    rc.log.warn("cannot re-read the subscription", { room = room_label(sub), error = tostring(err) })
    return
  end
  if not current then
    seen[sub.rid] = nil -- no longer subscribed
    save()
    return
  end
  local now = mentions(current)
  seen[sub.rid] = now
  save()
  if now <= before then
    return -- already reported, or the room was read
  end
  local new = now - before
  local what = new == 1 and "1 new mention" or (new .. " new mentions")
  local msg, perr = rc.chat.post_message {
    channel = "@" .. owner,
    text = ":bell: " .. what .. " in " .. room_label(current),
  }
  if not msg then
    rc.log.warn("could not alert the owner", { owner = owner, error = tostring(perr) })
    return
  end
  rc.log.info("alerted the owner", { owner = owner, room = room_label(current), mentions = new })
end

remember_current_counts()
rc.on("subscription", on_subscription)
