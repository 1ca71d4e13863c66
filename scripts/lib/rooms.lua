-- lib/rooms.lua: helpers the example scripts share (require("rooms")).
--
-- What it does: nothing by itself; a module of the scripts folder's lib/,
-- loaded once per script that requires it.
--
-- rc calls: none.
--
-- Expects: subscriptions as rc.subscriptions.get and rc.on("subscription")
-- give them (fields t, name, fname, rid).

local M = {}

-- text returns v when it is a non-empty string (JSON null arrives as
-- rc.json.null, which is not a string), else nil.
function M.text(v)
  if type(v) == "string" and v ~= "" then
    return v
  end
  return nil
end

-- label names sub's room for a human: "#general", "@bob" for a direct
-- message (or dm_prefix .. name when given), else its name.
function M.label(sub, dm_prefix)
  local name = M.text(sub.fname) or M.text(sub.name) or sub.rid
  if sub.t == "c" then
    return "#" .. name
  elseif sub.t == "d" then
    return (dm_prefix or "@") .. name
  end
  return name
end

-- is_owner_dm reports whether sub is the owner's own direct message room
-- with the bot (where the examples' messages to the owner land).
function M.is_owner_dm(sub, owner)
  return sub.t == "d" and sub.name == owner
end

return M
