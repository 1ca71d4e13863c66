-- 1: a closure made in a failing pcall'd function keeps its value
do
  local saved
  pcall(function() local x = "kept"; saved = function() return x end; local y = {}; error("fails") end)
  local p, q, r = 1, 2, 3
  assert(saved() == "kept", "1: " .. tostring(saved()))
end
-- 2: after a pcall that returned, an error in another pcall leaves the live frames' upvalues open
do
  local a
  local function use_a() return a end
  pcall(function() pcall(function() end); error("e") end)
  a = "assigned later"
  assert(use_a() == "assigned later", "2: " .. tostring(use_a()))
end
-- 3: xpcall
do
  local saved, seen
  xpcall(function() local x = "xkept"; saved = function() return x end; error("e") end, function(e) seen = e; return e end)
  local p, q, r = 1, 2, 3
  assert(saved() == "xkept", "3: " .. tostring(saved()))
  assert(seen ~= nil)
end
-- 4: a new local in the reused register is not shared with the old closure
do
  local saved
  pcall(function() local x = "old"; saved = function() return x end; error("e") end)
  local fresh = "new"
  local function f2() return fresh end
  fresh = "newer"
  assert(saved() == "old" and f2() == "newer", "4: " .. tostring(saved()) .. " " .. tostring(f2()))
end
-- 5: nested frames of the failing call, and a pcall inside a coroutine
do
  local saved = {}
  local function inner(v) local y = v; saved[#saved + 1] = function() return y end; if v == 3 then error("deep") end; inner(v + 1) end
  pcall(inner, 1)
  local a, b, c, d, e = 9, 9, 9, 9, 9
  assert(saved[1]() == 1 and saved[2]() == 2 and saved[3]() == 3, "5")
  local co = coroutine.create(function()
    local s
    pcall(function() local z = "co"; s = function() return z end; error("e") end)
    local m, n = 0, 0
    return s()
  end)
  local ok, v = coroutine.resume(co)
  assert(ok and v == "co", "5co: " .. tostring(v))
end
-- 6: the live function's own upvalue after an error in a pcall it makes (gopher-lua#448)
do
  local a
  local function use_a() return a("test") end
  pcall(function() error("an error") end)
  a = function(p) return "called with " .. p end
  assert(use_a() == "called with test", "6")
end
print("all ok")
