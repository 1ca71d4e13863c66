-- stale_unread_reminder.lua: a reminder about rooms left unread too long.
--
-- What it does: every `check_every` it looks for rooms that have new
-- messages and that the account has not opened (read) for more than
-- `stale_after` seconds, and reminds the owner about them in one direct
-- message. A room is reminded about once per stale period: reading it
-- (which moves its "last seen" time) starts a new one. The owner's own DM
-- with the account (where the reminder lands) is left out.
--
-- "New messages" is the subscription's `alert` flag: on a server with
-- default settings a plain channel message sets `alert` but does not count
-- in `unread`, which counts mentions, @all/@here and direct messages. A
-- line gives the unread count when there is one.
--
-- rc calls: rc.every(check_every, ...), rc.subscriptions.get(),
-- rc.chat.post_message{channel = "@owner", ...}, rc.log.info/warn,
-- rc.time.parse, rc.config (owner, check_every, stale_after), require("rooms").
--
-- Expects: `owner` in the [stale_unread_reminder] section of rclua.toml is
-- an existing username the bot may send a direct
-- message to (alice on the --dev server). "Last seen" is the
-- subscription's `ls` field (its `ts`, when the room was joined, if it was
-- never opened); the host's and the server's clocks are assumed to agree
-- within minutes.

local roomlib = require("rooms")
local owner = rc.config.owner or error("set owner in the [stale_unread_reminder] section of rclua.toml")
local check_every = rc.config.check_every or "15m" -- a Go duration
local stale_after = rc.config.stale_after or 4 * 60 * 60 -- seconds without reading a room that has new messages

local reminded = {} -- room id -> the last-seen time already reminded about

local text = roomlib.text

-- parse_time turns the server's "2024-07-02T18:07:35.267Z" into whole
-- Unix seconds, as os.time() counts them (nil when absent or not a time).
local function parse_time(s)
  s = text(s)
  local t = s and rc.time.parse(s)
  return t and math.floor(t)
end

local room_label = roomlib.label

local function remind_stale_rooms()
  local result, err = rc.subscriptions.get()
  if not result then
    rc.log.warn("cannot list subscriptions", { error = tostring(err) })
    return
  end
  local now = os.time()
  local lines, stale = {}, {}
  for _, sub in ipairs(result.update) do
    local unread = tonumber(sub.unread) or 0
    local own_dm = roomlib.is_owner_dm(sub, owner)
    local seen_at = text(sub.ls) or text(sub.ts)
    local seen = parse_time(seen_at)
    local new = sub.alert == true or unread > 0
    if new and not own_dm and seen and now - seen >= stale_after and reminded[sub.rid] ~= seen_at then
      stale[sub.rid] = seen_at
      local hours = math.floor((now - seen) / 3600)
      local what = unread > 0 and (unread .. " unread") or "new messages"
      lines[#lines + 1] = "- " .. room_label(sub) .. ": " .. what .. ", not opened for " .. hours .. " h"
    end
  end
  if #lines == 0 then
    return
  end
  local msg, post_err = rc.chat.post_message {
    channel = "@" .. owner,
    text = "Still unread:\n" .. table.concat(lines, "\n"),
  }
  if not msg then
    rc.log.warn("could not post the reminder", { owner = owner, error = tostring(post_err) })
    return
  end
  for rid, seen_at in pairs(stale) do
    reminded[rid] = seen_at
  end
  rc.log.info("reminded the owner of stale rooms", { owner = owner, rooms = #lines })
end

rc.every(check_every, remind_stale_rooms)
