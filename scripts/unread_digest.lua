-- unread_digest.lua: a digest of the rooms with new messages every few hours.
--
-- What it does: every `interval` it lists the rooms with new messages
-- (mentions first, then the most unread) and sends the list to the owner as
-- one direct message. When no room has new messages, or nothing changed
-- since the last digest, it sends nothing. The last digest sent is kept in
-- rc.store, so an edit of this file (a reload) or a daemon restart does not
-- send the same digest again.
--
-- "New messages" is the subscription's `alert` flag. `unread` counts only
-- what the server counts: on default settings mentions, @all/@here and
-- direct messages, not plain channel messages (they set `alert` only). So a
-- line shows the counts a room has, or "new messages"; and more plain
-- messages in a room already listed change nothing in its subscription.
--
-- rc calls: rc.every(interval, ...), rc.subscriptions.get(),
-- rc.chat.post_message{channel = "@owner", ...}, rc.log.info/warn,
-- rc.store.get/set ("last_digest"),
-- rc.config (owner, interval, max_rooms), require("rooms") (lib/rooms.lua).
--
-- Expects: `owner` in the [unread_digest] section of rclua.toml is an existing username the bot may send a direct
-- message to (alice on the --dev server). The owner's own DM with the bot
-- (where the digest lands) is left out of the digest.

local roomlib = require("rooms")
local owner = rc.config.owner or error("set owner in the [unread_digest] section of rclua.toml")
local interval = rc.config.interval or "3h" -- a Go duration: "30m", "3h", ...
local max_rooms = rc.config.max_rooms or 10 -- rooms listed at most; the rest are counted

local room_label = roomlib.label

local function rooms_with_new_messages()
  local result, err = rc.subscriptions.get()
  if not result then
    return nil, err
  end
  local rooms = {}
  for _, sub in ipairs(result.update) do
    local unread = tonumber(sub.unread) or 0
    local own_dm = roomlib.is_owner_dm(sub, owner)
    if (sub.alert == true or unread > 0) and not own_dm then
      rooms[#rooms + 1] = {
        label = room_label(sub),
        unread = unread,
        mentions = (tonumber(sub.userMentions) or 0) + (tonumber(sub.groupMentions) or 0),
      }
    end
  end
  table.sort(rooms, function(a, b)
    if a.mentions ~= b.mentions then
      return a.mentions > b.mentions
    end
    if a.unread ~= b.unread then
      return a.unread > b.unread
    end
    return a.label < b.label
  end)
  return rooms
end

local function post_digest()
  local rooms, err = rooms_with_new_messages()
  if not rooms then
    rc.log.warn("cannot list subscriptions", { error = tostring(err) })
    return
  end
  if #rooms == 0 then
    return
  end
  local lines = {}
  for i, room in ipairs(rooms) do
    if i <= max_rooms then
      local what = "new messages"
      if room.unread > 0 then
        what = room.unread .. " unread"
      end
      if room.mentions > 0 then
        what = what .. " (" .. room.mentions .. " mentioning you)"
      end
      lines[#lines + 1] = "- " .. room.label .. ": " .. what
    end
  end
  if #rooms > max_rooms then
    lines[#lines + 1] = "- and " .. (#rooms - max_rooms) .. " more rooms"
  end
  local header = "Unread digest: " .. (#rooms == 1 and "1 room" or (#rooms .. " rooms")) .. " with new messages"
  local digest = header .. "\n" .. table.concat(lines, "\n")
  if digest == rc.store.get("last_digest") then
    return -- the owner has seen this one
  end
  local msg, post_err = rc.chat.post_message { channel = "@" .. owner, text = digest }
  if not msg then
    rc.log.warn("could not post the digest", { owner = owner, error = tostring(post_err) })
    return
  end
  local _, store_err = rc.store.set("last_digest", digest, { ttl = "168h" })
  if store_err then
    rc.log.warn("could not remember the digest", { error = tostring(store_err) })
  end
  rc.log.info("posted the unread digest", { owner = owner, rooms = #rooms })
end

rc.every(interval, post_digest)
