-- What runtime/sandbox/rewrite.go fixes, as Lua 5.1 runs it (checked
-- with lua5.1). Multiple assignments evaluate every value, and the
-- tables and keys their targets index, before assigning any.
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

-- An and/or value assigned to an existing local.
local function F() return false end
local function T() return true end
local msg = {}
local text = "old"
text = msg.text and msg.text:lower()
assert(text == nil, "and: the nil operand, not the old value")
local r = "R"
r = F() and T()
assert(r == false, "and of calls")
r = "R"
r = msg.missing and 1
assert(r == nil, "and of a missing field")
r = true
r = r and (F() and T())
assert(r == false, "and of a parenthesised and")
r = nil
r = r or (F() and T())
assert(r == false, "or of a parenthesised and")
local function param(a, b) a = F() and b; return a end
assert(param("A", "B") == false, "a parameter")
r = "R"
r = msg.missing or "default"
assert(r == "default", "or")
local other
text, other = "old", "o2"
text, other = msg.text and msg.text:lower()
assert(text == nil and other == nil, "several targets, one and value")
local a2, b2 = "A"
a2, b2 = msg.q or msg.r and 2
assert(a2 == nil and b2 == nil, "several targets, one or value")

-- Loops whose body starts with a branch that never runs.
local s = 0
for _, v in ipairs({ 1, 2, 3 }) do if false then s = -100 end s = s + v end
assert(s == 6, "if false first")
s = 0
for _, v in ipairs({ 1, 2, 3 }) do if nil then s = -100 else s = s + 1 end s = s + v end
assert(s == 9, "if nil ... else first")
s = 0
for _, v in ipairs({ 1, 2, 3 }) do if false then s = -100 elseif v > 1 then s = s + 10 end s = s + v end
assert(s == 26, "if false ... elseif first")
s = 0
for _, v in ipairs({ 1, 2, 3 }) do while false do end s = s + v end
assert(s == 6, "while false first")
s = 0
local i = 0
repeat if false then local x end i = i + 1; s = s + i until i == 3
assert(s == 6, "repeat")
local function sum(t) local n = 0 for _, v in ipairs(t) do if false then local x end n = n + v end return n end
assert(sum({ 4, 5 }) == 9, "if false then local x end first: the function returns its value")
print("all ok")
