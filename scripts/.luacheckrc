-- luacheck settings for rclua scripts (Lua 5.1, as the sandbox runs them).
std = "lua51"
-- rc is the one global rclua gives a script; scripts read it, never replace it.
read_globals = { "rc" }
