-- rc.time: the server's timestamps to and from Unix seconds.

function test_parse(t)
  t:eq(rc.time.parse("1970-01-01T00:00:00Z"), 0)
  t:eq(rc.time.parse("2024-07-02T18:07:35.267Z"), 1719943655.267, "milliseconds as a fraction")
  t:eq(rc.time.parse("2024-07-02T20:07:35.267+02:00"), 1719943655.267, "an offset")
  t:eq(rc.time.parse({ ["$date"] = 1719943655267 }), 1719943655.267, "the realtime API's form")
  -- Across a daylight saving change the result is the same instant: no
  -- local time is involved (a parser built on os.time and today's UTC
  -- offset is an hour off for a time before the change).
  t:eq(rc.time.parse("2026-03-29T00:30:00Z") + 3600, rc.time.parse("2026-03-29T03:30:00+02:00"))
end

function test_parse_refusals(t)
  local v, err = rc.time.parse("2024-07-02 18:07")
  t:eq(v, nil)
  t:eq(err.error_type, "time")
  t:eq(err.status, 0)
  if not err.message:find('not an ISO-8601 time with a zone', 1, true) then t:error(err.message) end
  v, err = rc.time.parse("2024-07-02T18:07:35") -- no zone: which one?
  t:eq(err.error_type, "time")
  v, err = rc.time.parse("0000-06-01T00:00:00Z") -- a year rc.time.format refuses
  t:eq(v, nil)
  t:eq(err.error_type, "time")
  for _, bad in ipairs({ "2024-07-02T20:07:35+24:00", "2024-07-02T20:07:35+05:60", "2024-07-02T20:07:35-23:60" }) do
    v, err = rc.time.parse(bad) -- offsets that Go's parser takes and JavaScript's Date refuses
    t:eq(v, nil, bad)
    t:eq(err and err.error_type, "time", bad)
  end
  t:eq(rc.time.parse("2024-07-02T20:07:35-23:59"), rc.time.parse("2024-07-03T20:06:35Z"), "the largest offset")
  t:eq(rc.time.parse("2024-07-02T20:07:35+19:30"), rc.time.parse("2024-07-02T00:37:35Z"))
  t:raises("bad argument #1 to rc.time.parse (time string or", rc.time.parse, 42)
  t:raises("without a number $date in range", rc.time.parse, { ["$date"] = "x" })
  t:raises("without a number $date in range", rc.time.parse, { ["$date"] = 1e300 })
  t:raises("without a number $date in range", rc.time.parse, { ["$date"] = 0 / 0 })
end

function test_format(t)
  t:eq(rc.time.format(0), "1970-01-01T00:00:00.000Z")
  t:eq(rc.time.format(1719943655.267), "2024-07-02T18:07:35.267Z")
  t:eq(rc.time.format(1719943655.2674), "2024-07-02T18:07:35.267Z", "to the millisecond")
  t:eq(rc.time.format(rc.time.parse("2024-07-02T20:07:35.5+02:00")), "2024-07-02T18:07:35.500Z", "a round trip, in UTC")
  t:eq(rc.time.format(-1), "1969-12-31T23:59:59.000Z")
  t:raises("bad argument #1 to rc.time.format (seconds expected", rc.time.format, "2024")
  t:raises("seconds out of range (years 0001 to 9999)", rc.time.format, 1e300)
  t:raises("seconds out of range", rc.time.format, 0 / 0)
  t:raises("seconds out of range", rc.time.format, -1e12)
end
