-- Strings as numbers, as Lua 5.1 reads them (checked with lua5.1).
local cases = {
  { "010", 10 }, { "08", 8 }, { "00011", 11 }, { "0x10", 16 }, { "0X1f", 31 }, { "-0x10", -16 },
  { "1e2", 100 }, { " 12 ", 12 }, { "12\r", 12 }, { "\t-3.5e-1\n", -0.35 }, { ".5", 0.5 }, { "5.", 5 },
  { "0x1.8", 1.5 }, { "-010", -10 },
  { "0b11", nil }, { "1_000", nil }, { "0o17", nil }, { "abc", nil }, { "", nil }, { "0x", nil },
  { "+-1", nil }, { "1e", nil }, { "0x1p4", 16 }, { "0x1p", nil }, { "12 3", nil },
}
for _, c in ipairs(cases) do
  local s, want = c[1], c[2]
  assert(tonumber(s) == want, "tonumber(" .. string.format("%q", s) .. ")")
  local ok, v = pcall(function() return s + 0 end)
  if want == nil then
    assert(not ok, "arithmetic on " .. string.format("%q", s) .. " raises")
  else
    assert(ok and v == want, "arithmetic on " .. string.format("%q", s))
  end
end
assert(-"3" == -3 and "10" % "3" == 1 and "2" ^ "10" == 1024 and 7 / "2" == 3.5 and "6" * 2 == 12 and 1 - "1" == 0)
assert("-7" % 3 == 2, "mod floors, as Lua 5.1")
assert(tonumber("ff", 16) == 255 and tonumber("z", 36) == 35 and tonumber("8", 8) == nil, "with a base")
assert(tonumber("1e2", 10) == 100 and tonumber(" 12 \r", 10) == 12, "base 10 is the standard conversion")
assert(tonumber("0x10", 16) == 16 and tonumber(" 7f ", 16) == 127 and tonumber(12, 16) == 18, "strtoul's 0x; a number as its text")
assert(tonumber("1.5", 16) == nil and tonumber("", 16) == nil and tonumber("0x", 16) == nil)
assert(not pcall(tonumber, "10", 1) and not pcall(tonumber, "10", 37), "base out of range")
assert(not pcall(tonumber), "a value expected")
assert(5 % 3 == "5" % 3 and -5 % 3 == "-5" % "3" and 5.5 % -2 == "5.5" % -2, "string modulo as number modulo")
assert(tonumber(5) == 5 and tonumber({}) == nil and tonumber(nil) == nil)
local v = setmetatable({}, { __add = function(a, b) return "meta" end })
assert("x" + v == "meta" and v + "x" == "meta" and "1" + v == "meta", "the other operand's metamethod")
assert(not pcall(function() return {} + "1" end))
-- Library arguments that are numbers take a string that reads as one.
local n = ("take 3 of these"):match("(%d+)")
assert(("abcdef"):sub(1, n) == "abc" and ("abcdef"):sub("-2") == "ef", "string.sub")
assert(("abc"):byte("2") == 98 and string.char("65", "0x42") == "AB" and ("abcabc"):find("b", "3") == 5)
assert(select(2, ("aaa"):gsub("a", "b", "2")) == 2 and ("ab"):rep("3") == "ababab" and ("x"):rep("010") == ("x"):rep(10))
assert(table.concat({ 1, 2, 3 }, ",", "2", "3") == "2,3" and select("2", "a", "b", "c") == "b" and select("#", 1, 2) == 2)
local t = { "a", "b" }
table.insert(t, "1", "z")
assert(t[1] == "z" and table.remove(t, "3") == "b" and #t == 2)
assert(select("#", unpack({ 1, 2, 3 }, "2", "3")) == 2)
assert(math.floor("010") == 10 and math.max("3", 10, "12") == 12 and math.abs("-0x10") == 16 and math.fmod("7", "3") == 1)
assert(string.format("%d %5.1f %x", "010", "2.25", "255") == "10   2.2 ff", "format: " .. string.format("%d %5.1f %x", "010", "2.25", "255"))
assert(os.date("!%Y", "0") == "1970" and os.difftime("10", "4") == 6)
assert(not pcall(string.sub, "abc", "x"), "a string that is no number is still refused")
local list = {}
table.insert(list, "42")
table.insert(list, "1e1")
assert(list[1] == "42" and list[2] == "1e1", "table.insert(t, v) stores v as it is")
assert(string.match("hello", "l+", "4") == "l", "string.match's init")
assert(select(2, pcall(error, 5, 0)) == 5, "error(5, 0) raises the number")
assert(select(2, pcall(error, 0.1 + 0.2, 0)) == 0.1 + 0.2)
local e = select(2, pcall(function() error(0.1 + 0.2) end))
assert(e:match(": 0.3$"), "a number message reads as tostring writes it: " .. e)
local z = -tonumber("0")
assert(tostring(z) == "-0" and z .. "" == "-0", "a negative zero")
print("all ok")
