-- os.date as Lua 5.1 on glibc in the C locale (checked with lua5.1).
local function eq(got, want) assert(got == want, string.format("got %q, want %q", tostring(got), want)) end
local t = 1700000000 -- Tuesday 14 November 2023, 22:13:20 UTC
eq(os.date("!%a %A %b %B %h", t), "Tue Tuesday Nov November Nov")
eq(os.date("!%c", t), "Tue Nov 14 22:13:20 2023")
eq(os.date("!%x %X %D %F %T %R %r", t), "11/14/23 22:13:20 11/14/23 2023-11-14 22:13:20 22:13 10:13:20 PM")
eq(os.date("!%d %e %j %m %y %Y %C", t), "14 14 318 11 23 2023 20")
eq(os.date("!%H %I %k %l %M %S %p %P", t), "22 10 22 10 13 20 PM pm")
eq(os.date("!%u %w %U %W %V %G %g", t), "2 2 46 46 46 2023 23")
eq(os.date("!%s %% %Q x%", t), "1700000000 % %Q x%")
eq(os.date("!%e|%k|%l", 946717200), " 1| 9| 9") -- 1 January 2000, 09:00
eq(os.date("!%V %G %U %W", 1704067199), "52 2023 53 52") -- 31 December 2023, a Sunday
eq(os.date("!%V %G %j", 1735689600), "01 2025 001") -- 1 January 2025
local d = os.date("!*t", t)
eq(string.format("%d-%d-%d %d:%d:%d w%d y%d %s", d.year, d.month, d.day, d.hour, d.min, d.sec, d.wday, d.yday, tostring(d.isdst)),
  "2023-11-14 22:13:20 w3 y318 false")
eq(os.date("!%Z", t), "GMT")
eq(os.date("!*tx", t), "*tx")
eq(os.date(12, t), "12")
assert(os.date("!%Y", 2 ^ 60) == nil and os.date("!*t", 1e300) == nil and os.date("%Y", 0 / 0) == nil, "no such time: nil")
assert(not pcall(os.time, { year = 2023, month = 1 }), "os.time needs a day")
eq(os.date("!%Y-%m-%d %H:%M:%S", os.time({ year = 2023, month = 11, day = 14, hour = 22, min = 13, sec = 20 }) - os.time({ year = 1970, month = 1, day = 1, hour = 0 })), "2023-11-14 22:13:20")
print("all ok")
