-- Multiple assignments evaluate every value, and the tables and keys
-- their targets index, before assigning any (checked with lua5.1).
local a, b = 0, 0
a, b = a + 1, a + b
assert(a == 1 and b == 0, "values read before any is assigned")
local x, y = 1, 2
x, y = y, x
assert(x == 2 and y == 1, "a swap")
local t = { 1, 2 }
local i = 1
i, t[i] = i + 1, 20
assert(t[1] == 20 and t[2] == 2 and i == 2, "a key read before its variable is assigned")
local u = {}
local old = u
u, u.x = {}, 5
assert(old.x == 5 and u.x == nil, "a table read before its variable is assigned")
local p, q, r
p, q, r = 1, (function() return 2, 3 end)()
assert(p == 1 and q == 2 and r == 3, "the last value's results fill the rest")
local c, d = 1, 2
c, d = d
assert(c == 2 and d == nil, "a single value: nil for the rest")
local n = 0
local function inc() n = n + 1; return n end
local e = 5
e = 1, inc()
assert(e == 1 and n == 1, "an extra value is evaluated")
local g
g, g = 1, 2
assert(g == 1, "the same target twice: right to left, as Lua 5.1")
local function fib(k)
  local f1, f2 = 0, 1
  for _ = 1, k do f1, f2 = f2, f1 + f2 end
  return f1
end
assert(fib(10) == 55, "in a loop of a function")
gx, gy = 1, 2
gx, gy = gy, gx
assert(gx == 2 and gy == 1, "globals")
local function up() x, y = y, x end
up()
assert(x == 1 and y == 2, "upvalues")
local m = setmetatable({}, { __newindex = function(tb, k, v) rawset(tb, k, v .. "!") end })
m.a, m.b = "1", "2"
assert(m.a == "1!" and m.b == "2!", "through __newindex")
local s = { v = 1 }
s.v, s.w = s.w, s.v
assert(s.v == nil and s.w == 1, "fields swapped")
print("all ok")
