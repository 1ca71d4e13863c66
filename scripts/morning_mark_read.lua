-- morning_mark_read.lua: start each weekday with the noisy rooms read.
--
-- What it does: at 09:00 on weekdays it marks every room listed in
-- `noisy_rooms` that has new messages as read (its threads too), so the day
-- starts with only the rooms that matter highlighted. A noisy room where the
-- bot was mentioned directly (in the room or in a thread) is left unread, so
-- that no mention is hidden.
--
-- "Has new messages" is the subscription's `alert` flag, not `unread`: on a
-- server with default settings a plain message in a channel sets `alert` but
-- does not count in `unread` (only mentions do).
--
-- rc calls: rc.cron(schedule, ...), rc.subscriptions.get(),
-- rc.subscriptions.read(room_id, {read_threads = true}), rc.log.info/warn,
-- rc.config (schedule, noisy_rooms).
--
-- Expects: the rooms of noisy_rooms in the [morning_mark_read] section of
-- rclua.toml are named as on the server, without "#" (random exists
-- on the --dev server). The schedule uses the daemon's local time zone;
-- prefix it with "CRON_TZ=Europe/Berlin " to pick another one.

local schedule = rc.config.schedule or "0 9 * * 1-5" -- minute hour day-of-month month day-of-week

local noisy_rooms = {} -- room name -> true, from rc.config.noisy_rooms
for _, name in ipairs(rc.config.noisy_rooms or {}) do
  noisy_rooms[name] = true
end

-- mentioned reports whether sub has an unread direct mention of the bot.
local function mentioned(sub)
  local threads = sub.tunreadUser
  return (tonumber(sub.userMentions) or 0) > 0 or (type(threads) == "table" and #threads > 0)
end

local function mark_noisy_rooms_read()
  local result, err = rc.subscriptions.get()
  if not result then
    rc.log.warn("cannot list subscriptions", { error = tostring(err) })
    return
  end
  local marked, kept = 0, 0
  for _, sub in ipairs(result.update) do
    if noisy_rooms[sub.name] and sub.alert == true then
      if mentioned(sub) then
        kept = kept + 1
      else
        local ok, read_err = rc.subscriptions.read(sub.rid, { read_threads = true })
        if ok then
          marked = marked + 1
        else
          rc.log.warn("could not mark a room read", { room = sub.name, error = tostring(read_err) })
        end
      end
    end
  end
  rc.log.info("morning clean-up done", { marked_read = marked, kept_for_mentions = kept })
end

rc.cron(schedule, mark_noisy_rooms_read)
