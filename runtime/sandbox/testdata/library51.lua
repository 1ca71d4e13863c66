-- Library functions as Lua 5.1's (checked with lua5.1).
local function check(v) if not v then error("check failed", 2) end end
local function deep() error("deep", 3) end
local function mid()
  deep()
end
local ok, e = pcall(function()
  check(false) -- line 8
end)
assert(not ok and e:match(":8: check failed$"), "level 2: the caller's caller: " .. tostring(e))
ok, e = pcall(function()
  mid() -- line 12
end)
assert(e:match(":12: deep$"), "level 3: " .. tostring(e))
assert(select(2, pcall(error, "lvl1")) == "lvl1", "level 1 is pcall, a Go function: no position")
ok, e = pcall(error)
assert(not ok and e == nil, "error() raises nil")
e = select(2, pcall(function() error(42) end))
assert(type(e) == "string" and e:match(":18: 42$"), "a number gets a position: " .. tostring(e))
assert(type(select(2, pcall(function() error({}) end))) == "table", "a table as it is")
assert(select(2, pcall(function() error("zero", 0) end)) == "zero")
assert(select(2, pcall(function() error("far", 50) end)) == "far", "no function that far: no position, no space")
local t = { 1, 2, 3 }
assert(select("#", table.remove(t, 0)) == 0 and #t == 3, "remove at 0: nothing")
assert(select("#", table.remove(t, -1)) == 0 and #t == 3, "remove at -1: nothing")
assert(select("#", table.remove(t, 4)) == 0 and #t == 3, "past the end: nothing")
assert(table.remove(t) == 3 and table.remove(t, 1) == 1 and #t == 1 and t[1] == 2)
assert(select("#", table.remove({})) == 0, "an empty table: nothing")
assert(math.huge == 1 / 0 and -math.huge == -1 / 0 and 1e308 * 10 == math.huge, "math.huge is infinity")
assert(string.char(72, 105.9, 0, 255) == "Hi\0\255")
assert(not pcall(string.char, 256) and not pcall(string.char, -1), "string.char refuses codes outside 0..255")
assert(not pcall(setmetatable, "s", { __index = {} }) and ("s"):upper() == "S", "setmetatable takes a table only")
assert(not pcall(setmetatable, 1, {}) and not pcall(setmetatable, print, {}))
assert(getmetatable(setmetatable({}, { x = 1 })).x == 1)
print("all ok")
