-- luacheck settings for rclua scripts (Lua 5.1, as the sandbox runs them).
std = "lua51"
-- rc is the one global rclua gives a script; scripts read it, never replace it.
read_globals = { "rc" }
-- Test files define test_* functions at their top level (rclua test calls them)
-- and drive the script through the global t.
files["**/*_test.lua"] = { allow_defined_top = true, ignore = { "131" }, read_globals = { "t" } }
