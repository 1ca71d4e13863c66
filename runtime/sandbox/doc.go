// Package sandbox builds the Lua states rclua runs scripts in: fresh
// gopher-lua states with an allowlist of libraries and the limits that
// keep one script from hurting the daemon, and compiles scripts into them.
//
// # Allowlist
//
// New builds a state with lua.Options{SkipOpenLibs: true} and opens only:
// base without dofile, loadfile and collectgarbage (each raises "... is
// disabled in the sandbox"; load/loadstring of strings stay: they compile
// into the same sandbox), table, string, math, coroutine, and os with only
// time, clock, date and difftime. io, debug and package are tables whose
// every field raises "<lib>.<name> is disabled in the sandbox"; os is
// read-only and its missing fields raise the same way; require returns
// the open libraries ("string", "rc", ...) and refuses everything else.
// Options.Unsafe opens every gopher-lua library instead.
//
// # Limits
//
// Calls are bounded to 200 frames (deeper recursion raises "stack
// overflow") and the value stack to 256Ki slots, with MinimizeStackMemory.
// Library calls that build a string in one Go call, which a deadline
// cannot interrupt, refuse results above 16 MiB (also in unsafe mode):
// string.rep, string.format (whose widths and precisions have at most two
// digits, as in Lua 5.1), string.gsub (reimplemented: linear) and
// table.concat (reimplemented: gopher-lua's overflows the value stack on
// big tables); os.date formats are capped at 1 KiB. A coroutine runs under
// the context of the call resuming it, so one created at load works in
// later handlers and none escapes a deadline.
//
// The caller sets a deadline on every call with L.SetContext; the VM
// checks it between instructions, and the pattern matching below checks it
// as it matches.
//
// # Patterns
//
// Pattern matching (string.find, string.match, string.gmatch, string.gsub,
// also in unsafe mode) is this package's own Lua 5.1 implementation
// (package sandbox/luapattern). It checks the state's context every 1024
// matching steps, so a pattern that backtracks exponentially
// (string.find(("a"):rep(40), ("a*"):rep(40) .. "b")) stops at the
// deadline instead of hanging its caller. Recursion deeper than 10000
// levels raises "pattern too complex", and a pattern has at most 32
// captures. It follows Lua 5.1 where gopher-lua differs: the %f frontier
// pattern; '^' is an ordinary character in gmatch; string.find("abc", "",
// 10) returns 4, 3; string.match returns nil when nothing matches; gsub
// with a negative n replaces nothing; "%x" in a gsub replacement is "x"; a
// number is a valid replacement; sets like [%a-z] and [0-0-0]. Malformed
// patterns are always reported with Lua's messages (Lua 5.1 reports them
// only when matching reaches them). Differences from Lua 5.1: a "\0" in a
// pattern is an ordinary character, and a trailing '%' in a gsub
// replacement stays '%'.
package sandbox
