-- Numbers with a fraction read as Lua 5.1 writes them ("%.14g"), through
-- every route to text (checked with lua5.1, whose whole numbers below
-- 1e14 print the same).
local function eq(got, want) assert(got == want, string.format("got %s, want %s", got, want)) end
local third = 100 / 3
eq(third .. "%", "33.333333333333%")
eq("sum " .. (0.1 + 0.2), "sum 0.3")
eq(tostring(100 * 0.07), "7")
eq(tostring(1 / 3), "0.33333333333333")
eq(string.format("%s|%5s", 0.1 + 0.2, 2.5), "0.3|  2.5")
eq(table.concat({ 1, 0.5, 1 / 3 }, ","), "1,0.5,0.33333333333333")
eq(tostring(1 / 0) .. " " .. -1 / 0, "inf -inf")
eq(12345678.9 .. "", "12345678.9")
eq(42 .. "", "42")
local function nested() return function(x) return "v=" .. x end end
eq(nested()(2.5), "v=2.5")
eq(loadstring("return 1/3 .. ''")(), "0.33333333333333")
local t = setmetatable({}, { __concat = function(a, b) return "meta" end })
eq("x" .. t, "meta")
assert(not pcall(function() return "x" .. nil end), "concatenating nil still raises")
eq(string.format("%.3f", third), "33.333")
local ty = setmetatable({}, { __concat = function(a, b) return type(a) .. "+" .. type(b) end })
eq(1.5 .. ty, "number+table")
eq(ty .. 2, "table+number")
eq("a" .. 1 .. ty, "anumber+table")
local dbl = setmetatable({}, { __concat = function(a) return a * 2 end })
eq(tostring(21 .. dbl), "42")
local function two() return "x", "y" end
eq("f" .. two() .. "|" .. (two()), "fx|x")
local function va(...) return "v" .. ... end
eq(va("1", "2"), "v1")
eq(("a" .. "b") .. ("c" .. 1 / 4), "abc0.25")
eq(string.len(0.1 + 0.2), 3)
eq(string.upper(1 / 3), "0.33333333333333")
eq(("a"):gsub("a", 1 / 4), "0.25")
eq(string.rep(0.5, 2), "0.50.5")
eq(table.concat({ "a", "b" }, 0.5), "a0.5b")
eq(string.sub(100 / 3, 1, 5), "33.33")
print("all ok")
