-- The API tables are strict: reading a missing key raises an error that
-- names it, suggests the snake_case (or nearly spelt) name and lists the
-- table's keys.

function test_camel_case_suggests_snake_case(t)
  local want = "rc.chat.postMessage does not exist (did you mean rc.chat.post_message? rc.chat has: delete, post_message, react, update)"
  t:raises(want, function() rc.chat.postMessage{channel = "#general", text = "hi"} end)
  want = "rc.subscriptions.getOne does not exist (did you mean rc.subscriptions.get_one? " ..
    "rc.subscriptions has: get, get_one, read, unread)"
  t:raises(want, function() return rc.subscriptions.getOne end)
  want = "rc.users.Info does not exist (did you mean rc.users.info? rc.users has: info)"
  t:raises(want, function() return rc.users.Info end)
  want = "rc.log.WARN does not exist (did you mean rc.log.warn? rc.log has: debug, error, info, warn)"
  t:raises(want, function() return rc.log.WARN end)
  want = "rc.json.Decode does not exist (did you mean rc.json.decode? rc.json has: array, decode, encode, null)"
  t:raises(want, function() return rc.json.Decode end)
  want = "rc.GET does not exist (did you mean rc.get? rc has: chat, config, cron, every, get, hear, json, log, me, on, post, re, respond, rooms, secret, store, subscriptions, time, users)"
  t:raises(want, function() return rc.GET end)
  want = "rc.subscriptions.GET_ONE does not exist (did you mean rc.subscriptions.get_one?"
  t:raises(want, function() return rc.subscriptions.GET_ONE end)
  t:eq(fake.count(), 0, "nothing was called")
end

function test_near_spelling_is_suggested(t)
  t:raises("rc.subscription does not exist (did you mean rc.subscriptions? rc has:", function() return rc.subscription end)
  t:raises("rc.chat.post_mesage does not exist (did you mean rc.chat.post_message?", function() return rc.chat.post_mesage end)
end

function test_unknown_name_lists_the_keys(t)
  local want = "rc.subscriptions.unreadFromMessage does not exist (rc.subscriptions has: get, get_one, read, unread)"
  t:raises(want, function() return rc.subscriptions.unreadFromMessage end)
  t:raises("rc.chat.send does not exist (rc.chat has: delete, post_message, react, update)", function() return rc.chat.send end)
  t:raises("rc.users.list does not exist (rc.users has: info)", function() return rc.users.list end)
  t:raises("rc.log.fatal does not exist (rc.log has: debug, error, info, warn)", function() return rc.log.fatal end)
  t:raises("rc.json.stringify does not exist (rc.json has: array, decode, encode, null)", function() return rc.json.stringify end)
  t:raises("rc.send does not exist (rc has: chat, config, cron, every, get, hear, json, log, me, on, post, re, respond, rooms, secret, store, subscriptions, time, users)", function() return rc.send end)
  t:raises('rc["post message"] does not exist (rc has:', function() return rc["post message"] end)
  t:raises("rc[1] does not exist (rc has:", function() return rc[1] end)
  t:raises("rc.chat[true] does not exist (rc.chat has: delete, post_message, react, update)", function() return rc.chat[true] end)
end

function test_existing_names_unaffected(t)
  t:eq(type(rc.chat.post_message), "function")
  t:eq(type(rc.subscriptions.get_one), "function")
  t:eq(type(rc.users.info), "function")
  t:eq(type(rc.log.info), "function")
  t:eq(type(rc.me), "function")
  t:eq(rc.json.encode({a = rc.json.null}), '{"a":null}')
  t:eq(rc.json.encode(rc.json.array()), "[]")
  t:eq(tostring(rc.json.null), "null")
  local sub = rc.subscriptions.get_one("GENERAL")
  t:eq(sub.rid, "GENERAL")
  rc.log.info("still works")
  t:eq(#logs(), 1)
end

function test_rawget_detects_features(t)
  -- rawget reads without the metatable: the way to test for a function.
  t:eq(rawget(rc, "webhook"), nil)
  t:eq(rawget(rc.chat, "postMessage"), nil)
  t:eq(rawget(rc.chat, "post_message"), rc.chat.post_message)
  t:eq(rawget(rc.json, "null"), rc.json.null)
  t:eq(rawget(rc, "on") ~= nil, true, "the triggers are part of the table")
  local has_webhook = rawget(rc, "webhook") ~= nil
  t:eq(has_webhook, false)
  t:eq(rawget(rc, "hear") ~= nil, true)
end

function test_pairs_lists_the_functions(t)
  local names = {}
  for k, v in pairs(rc.chat) do names[#names + 1] = k .. "=" .. type(v) end
  table.sort(names)
  t:eq(table.concat(names, ","), "delete=function,post_message=function,react=function,update=function")
  names = {}
  for k in pairs(rc.subscriptions) do names[#names + 1] = k end
  table.sort(names)
  t:eq(table.concat(names, ","), "get,get_one,read,unread")
end

function test_script_can_add_keys(t)
  rc.helper = function() return 42 end
  t:eq(rc.helper(), 42)
  t:raises("rc.helpr does not exist (did you mean rc.helper? rc has: chat, config, cron, every, get, hear, helper, json,", function() return rc.helpr end)
end

function test_missing_results_fields_stay_nil(t)
  -- Only the API tables are strict: decoded data is not.
  local sub = rc.subscriptions.get_one("GENERAL")
  t:eq(sub.no_such_field, nil)
  t:eq(rc.json.decode("{}").x, nil)
end
