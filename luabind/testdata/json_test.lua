-- rc.json: conversion edge cases.

local null = rc.json.null

local function roundtrip(t, s, want)
  local v, err = rc.json.decode(s)
  if err then t:error("decode " .. s .. ": " .. err) return end
  local out, err2 = rc.json.encode(v)
  if err2 then t:error("encode " .. s .. ": " .. err2) return end
  t:eq(out, want or s, "round trip of " .. s)
end

-- json_err checks that err is the error table every rc function returns,
-- from fn, with a message containing want.
local function json_err(t, err, fn, want)
  if type(err) ~= "table" then
    t:error("err of " .. fn .. " is a " .. type(err) .. ", not a table: " .. tostring(err))
    return
  end
  t:eq(err.status, 0, "status of " .. fn)
  t:eq(err.error_type, "json", "error_type of " .. fn)
  t:eq(err.error, err.message)
  t:eq(tostring(err), err.message, "tostring(err)")
  if string.sub(err.message, 1, #fn + 2) ~= fn .. ": " then
    t:error("message does not name " .. fn .. ": " .. err.message)
  end
  if not string.find(err.message, want, 1, true) then
    t:error("error " .. err .. " does not contain: " .. want)
  end
end

local function encode_fails(t, v, want)
  local s, err = rc.json.encode(v)
  t:eq(s, nil, "encode should fail: " .. want)
  json_err(t, err, "rc.json.encode", want)
end

function test_round_trips(t)
  roundtrip(t, "{}")
  roundtrip(t, "[]")
  roundtrip(t, "[[],{}]")
  roundtrip(t, '{"a":[],"b":{},"c":null}')
  roundtrip(t, "[1,null,3]")
  roundtrip(t, "[null]")
  roundtrip(t, '{"z":1,"a":2,"m":3}', '{"z":1,"a":2,"m":3}')
  roundtrip(t, " [ 1 , 2 ] ", "[1,2]")
  roundtrip(t, '"\\u00e9\\n\\t\\"\\\\\\/"', '"é\\n\\t\\"\\\\/"')
  roundtrip(t, '"\\ud83d\\ude00"', '"😀"')
  roundtrip(t, "1.5")
  roundtrip(t, "-0.25")
  roundtrip(t, "1e300", "1e+300")
  roundtrip(t, "true")
  roundtrip(t, "null")
  roundtrip(t, '{"1":"one"}')
end

function test_null(t)
  local v = rc.json.decode('[1,null,3]')
  t:eq(#v, 3, "null keeps indices")
  t:eq(v[2], null)
  t:eq(tostring(null), "null")
  local o = rc.json.decode('{"a":null}')
  t:eq(o.a, null, "null kept in objects")
  t:eq(rc.json.encode({a = null}), '{"a":null}')
  t:eq(rc.json.encode(nil), "null")
  t:eq(type(null), "userdata")
end

function test_integers(t)
  local v = rc.json.decode('[0,1,255,256,-1,9007199254740992,-9007199254740992,1234567890123]')
  t:eq(tostring(v[1]), "0")
  t:eq(tostring(v[4]), "256")
  t:eq(tostring(v[6]), "9007199254740992")
  t:eq(v[6], 2^53)
  t:eq(tostring(v[7]), "-9007199254740992")
  t:eq("id " .. v[8], "id 1234567890123")
  t:eq(rc.json.encode(v), '[0,1,255,256,-1,9007199254740992,-9007199254740992,1234567890123]')
  t:eq(rc.json.encode(3.0), "3")
  t:eq(rc.json.encode(0.1), "0.1")
  t:eq(rc.json.encode(1e21), "1e+21")
  t:eq(rc.json.encode(1e-7), "1e-7")
end

function test_strings_byte_for_byte(t)
  local s = "caf\195\169 \226\130\172 \240\159\152\128 <&> \127"
  t:eq(rc.json.decode(rc.json.encode(s)), s)
  t:eq(rc.json.encode("a\0b\31"), '"a\\u0000b\\u001f"')
  local ids = rc.json.decode('{"_id":"000123"}')
  t:eq(ids._id, "000123", "ids stay strings")
end

function test_empty_array_marker(t)
  t:eq(rc.json.encode({}), "{}")
  t:eq(rc.json.encode(rc.json.array()), "[]")
  t:eq(rc.json.encode(rc.json.array({1, 2})), "[1,2]")
  t:eq(rc.json.encode({list = rc.json.array()}), '{"list":[]}')
  local a = rc.json.array()
  table.insert(a, "x")
  t:eq(rc.json.encode(a), '["x"]')
  local ok, err = pcall(rc.json.array, setmetatable({}, {}))
  t:eq(ok, false)
  local ok2 = pcall(rc.json.array, 1)
  t:eq(ok2, false, "array(1) raises")
end

function test_encode_errors(t)
  encode_fails(t, {1, 2, x = 3}, 'table mixes array items and string key "x"')
  encode_fails(t, {[1.5] = true}, "key 1.5 (a number) is not a string or array index")
  encode_fails(t, {[true] = 1}, "key true (a boolean)")
  encode_fails(t, {[0] = 1}, "key 0")
  encode_fails(t, {[1] = 1, [3] = 3}, "sparse array: key 3 with only 2 items")
  encode_fails(t, 0/0, "cannot encode NaN")
  encode_fails(t, 1/0, "cannot encode +Inf")
  encode_fails(t, {x = -1/0}, "x: cannot encode -Inf")
  encode_fails(t, "\255", "not valid UTF-8")
  encode_fails(t, {["\255"] = 1}, "not valid UTF-8")
  encode_fails(t, print, "cannot encode a function")
  encode_fails(t, coroutine.create(print), "cannot encode a thread")
  local a = {}
  a.b = {c = {a}}
  encode_fails(t, a, "b.c[1]: cycle: a table contains itself")
  local deep = {}
  local cur = deep
  for i = 1, 250 do cur.x = {} cur = cur.x end
  encode_fails(t, deep, "rc.json.encode: x.x ... (195 more) ... x.x.x: nesting deeper than 200")
  local _, err = rc.json.encode(deep)
  t:eq(#err.message < 100, true, "the path is capped: " .. #err.message .. " bytes")
  local arr = rc.json.array()
  arr.k = 1
  encode_fails(t, arr, 'table marked as an array has string key "k"')
end

function test_shared_subtables_are_fine(t)
  local shared = {1}
  t:eq(rc.json.encode({a = shared, b = shared}), '{"a":[1],"b":[1]}')
end

function test_decode_errors(t)
  local cases = {
    "", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "01", "1.", "1e", "-", "nul", "[1 2]", "{1:2}",
    "\"abc", "\"\\x\"", "\"\\u12\"", "\"a\nb\"", "\"\255\"", "1 2", "1e400", "[1]x",
  }
  for _, s in ipairs(cases) do
    local v, err = rc.json.decode(s)
    t:eq(v, nil, "decode should fail: " .. s)
    json_err(t, err, "rc.json.decode", " at offset ")
  end
  local ok = pcall(rc.json.decode, 12)
  t:eq(ok, false, "decode(12) raises")
  local deep = string.rep("[", 201) .. string.rep("]", 201)
  local v, err = rc.json.decode(deep)
  t:eq(v, nil)
  json_err(t, err, "rc.json.decode", "nesting deeper than 200")
  local ok200 = rc.json.decode(string.rep("[", 200) .. string.rep("]", 200))
  t:eq(type(ok200), "table", "200 levels are fine")
end

function test_lone_surrogate_becomes_replacement(t)
  t:eq(rc.json.decode('"\\ud800x"'), "\239\191\189x")
end

function test_big_input_bound(t)
  local big = '"' .. string.rep("a", 32 * 1024 * 1024) .. '"'
  local v, err = rc.json.decode(big)
  t:eq(v, nil)
  json_err(t, err, "rc.json.decode", "input larger than 32 MiB")
  t:eq(err.message, "rc.json.decode: input larger than 32 MiB")
end
