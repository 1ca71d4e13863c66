-- ping.lua: answer "!ping", and take a "deploy <env> [version]" command.
--
-- What it does: anyone who writes "!ping" in a room the bot is in gets
-- "pong" in that message's thread (a thread is started on a message of the
-- room). A message addressed to the bot ("@bot deploy staging", "@bot:
-- deploy production v1.4.2", or "deploy staging" in a direct message to
-- it) is a deploy request: the bot reacts with :rocket: and answers in the
-- thread; a request for an unknown environment gets the usage instead.
-- This example only acknowledges: put the call that starts your deploy
-- where it says so.
--
-- rc calls: rc.hear(pattern, fn) with a Lua pattern,
-- rc.respond(rc.re.compile(expr), fn) with RE2 captures, msg:reply{...},
-- msg:react(emoji), rc.log.info/warn.
--
-- Expects: message events, which come from the realtime event source (see
-- the README's Messages section). `environments` below lists the
-- environments a request may name. The bot never hears its own messages,
-- and edits of a message do not ask twice.

local environments = { staging = true, production = true }

local function names()
  local list = {}
  for name in pairs(environments) do
    list[#list + 1] = name
  end
  table.sort(list)
  return table.concat(list, "|")
end

-- answer replies in msg's thread and logs a failure.
local function answer(msg, text)
  local _, err = msg:reply { text = text, thread = true }
  if err then
    rc.log.warn("could not answer", { room = msg.rid, error = tostring(err) })
  end
end

rc.hear("^%s*!ping%s*$", function(msg)
  answer(msg, "pong")
end)

-- "deploy", then an environment and a version, both optional here so that
-- a request without them gets the usage. A group that took no part in the
-- match comes as false.
local deploy = rc.re.compile([[^deploy(?:\s+(\S+))?(?:\s+(\S+))?\s*$]])

rc.respond(deploy, function(msg, env, version)
  if not env or not environments[env] then
    answer(msg, "Usage: deploy <" .. names() .. "> [version]")
    return
  end
  version = version or "latest"
  -- Start the deploy here (a webhook, a CI pipeline); this example only
  -- acknowledges it.
  local _, err = msg:react("rocket")
  if err then
    rc.log.warn("could not react", { room = msg.rid, error = tostring(err) })
  end
  answer(msg, ("Deploying %s to %s, as asked by @%s."):format(version, env, msg.u.username))
  rc.log.info("deploy requested", { env = env, version = version, by = msg.u.username })
end)
