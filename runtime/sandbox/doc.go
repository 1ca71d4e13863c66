// Package sandbox builds the Lua states rclua runs scripts in: fresh
// gopher-lua states with an allowlist of libraries and the limits that
// keep one script from hurting the daemon, and compiles scripts into them.
//
// # Allowlist
//
// New builds a state with lua.Options{SkipOpenLibs: true} and opens only:
// base without dofile, loadfile, collectgarbage and module (each raises
// "... is disabled in the sandbox"; load/loadstring of strings stay: they
// compile into the same sandbox; newproxy accepts only booleans and
// proxies), table, string, math, coroutine, and os with only
// time, clock, date and difftime. io, debug and package are tables whose
// every field raises "<lib>.<name> is disabled in the sandbox"; os is
// read-only and its missing fields raise the same way; require returns
// the open libraries ("string", "rc", ...), then what Options.Modules
// finds (the host's lib/ folder), compiled through Compile, run once per
// state with its name as argument and cached (a module returning nothing
// caches true; a failed one is not cached); a cycle raises "require
// cycle: a -> b -> a"; without Options.Modules everything else is refused.
// The registry's _LOADED holds only what require returns (gopher-lua's
// module read the full os table there).
// Options.Unsafe opens every gopher-lua library instead.
//
// # Clock
//
// Options.Clock replaces the real clock of os.time, os.date and os.clock
// (runtime/scripttest's fake clock): a time not given is Clock's now, the
// local zone is the location of Clock's times (os.date's "!" is UTC), and
// os.clock counts Clock's seconds since the state was made. A date table
// given to os.time needs year, month and day (hour defaults to 12).
//
// # Cost of a state
//
// A state costs about 53 KB and 116 allocations (BenchmarkNew: about
// 30 µs on a quiet 2-core AMD EPYC), about 87 KB and 474 allocations with
// the rc module (BenchmarkNewState in runtime); a loaded example script
// keeps about 83 KB (BenchmarkLoad1000: 1,000 scripts, 82.8 MB of heap).
// New does not open the libraries key by key in each state, nor build the
// sandbox's replacements and stubs in each: it copies them from a
// template state, opened and restricted once per process, each state
// getting its own tables (metatables included) and functions (the same Go
// functions, its own environment and upvalues; a function held in two
// places stays one) and sharing only immutable values (boxed keys, key
// lists, strings, numbers). The Go functions copied hold no mutable data;
// what does is made in each state: coroutine.resume, wrap and yield (the
// nesting count), math.random and randomseed (the generator), require
// (its cache) and the Clock. Built with the purego tag (no unsafe, see
// luabind/luajson/ltable) New opens and restricts the libraries in each
// state. The value stack starts at 256 slots (4 KiB) and grows by 16Ki
// slots up to its bound; the call stack is CallStackSize frames (16 KB,
// fixed: see Limits). Compile gives a script's functions code and line
// tables of their own size (gopher-lua's compiler leaves 1,024-entry
// buffers, 12 KiB per function, behind).
//
// # Limits
//
// Calls are bounded to CallStackSize (200) frames: deeper recursion, also
// through pcall, metamethods, tostring, gsub or sort callbacks, raises
// "file:line: stack overflow" (the call stack is fixed: gopher-lua's
// growing one panics with "lua callstack overflow" instead), and at most
// MaxCoroutineDepth coroutines run inside each other. The value stack
// holds 256Ki slots ("registry overflow" beyond, e.g. unpack of a huge
// range). Library calls that build a string in one Go call, which a
// deadline cannot interrupt, refuse results above MaxStringBytes (16 MiB,
// also in unsafe mode): string.rep, string.format (reimplemented with Lua
// 5.1's conversions and counted exactly as it is built; %s takes any value
// through tostring), string.gsub (reimplemented: linear) and table.concat
// (reimplemented: gopher-lua's overflows the value stack on big tables);
// string.upper and lower map ASCII bytes only, as Lua 5.1's C locale does
// (gopher-lua's Unicode mapping triples invalid bytes); os.date formats
// are capped at 1 KiB. rawset and table.insert refuse an integer key more
// than 1Mi slots past the end of a table (gopher-lua fills the gap in one
// Go call). table.sort is a quicksort of its own that checks the deadline
// as it compares and raises "invalid order function for sorting" like Lua
// 5.1. math.random and randomseed use a generator of the state's own and
// raise "interval is empty" instead of panicking.
//
// A coroutine runs under the context of the call resuming it, so one
// created at load works in later handlers and none escapes a deadline. A
// yield that would cross a Go call (pcall, a metamethod, an iterator of a
// generic for, a library callback) raises "attempt to yield across
// metamethod/C-call boundary" (gopher-lua would resume the Go caller in a
// suspended coroutine and later dereference nil), and a coroutine whose
// last yield left it without a frame (return coroutine.yield(x) at its
// base, a Go function as its body) ends on its next resume as in Lua 5.1.
//
// The syntax tree is rewritten before compilation (rewrite.go) around
// three gopher-lua compiler bugs: multiple assignments evaluate every
// value, and every table and key a target indexes, before any target is
// assigned (gopher-lua compiles x, y = y, x into two copies of y:
// yuin/gopher-lua#440); an and/or value assigned to an existing local
// goes through a local of its own (gopher-lua kept the old value: #490);
// branches that never run (if false, while false) are dropped, so no
// loop body starts with one (gopher-lua's jump pass then jumped wrongly:
// #540). The same rewrite makes each chain of .. one call of a function
// of the chunk's own, which concatenates as Lua 5.1 does (right to left,
// __concat given the values themselves) with numbers written by
// NumberText (a fraction as Lua 5.1's %.14g, a whole number with every
// digit), as tostring, print, string.format's %s and table.concat write
// them too.
//
// Closures and errors behave as in Lua 5.1 (unwind.go): when an error
// unwinds a protected call (Call, pcall, xpcall), the upvalues of the
// frames it unwinds are closed with their values, and those of the frames
// that stay are left open. gopher-lua left the first open, so a closure
// made in a failing function read whatever later code put in its
// register, and after a pcall that returned, an error in an enclosing
// pcall closed the second, so a local assigned after it no longer reached
// the closures sharing it (yuin/gopher-lua#448). Built with the purego
// tag, gopher-lua's behaviour remains.
//
// The caller sets a deadline on every call with L.SetContext; the VM
// checks it between instructions, and the pattern matching, table.sort,
// string.format and table.concat check it as they go.
//
// # Source
//
// Compile (and load and loadstring, which compile through it) first scans
// the source once, skipping strings, long strings and comments as
// gopher-lua's lexer does, and refuses with "file:line: message" at the
// line where a limit is crossed: more than MaxSourceBytes (256 KiB); more
// than MaxNesting (200) levels of brackets, blocks and unary operators
// (gopher-lua's recursive compiler overflows the Go stack, a fatal error,
// on a few MB of "not not ..."); more than MaxExpressionOps (1000)
// operators in one expression or elseif branches in one if (each is a tree
// as deep as it is long); more than MaxCompileWork steps of the
// compiler's quadratic work (the linear search of a function's constant
// table, at a quarter step per entry searched; arithmetic folded again at
// every level: 200 KB of y+y+... took 86 s); more than MaxResolveWork
// locals searched to resolve names (each name is looked up in every local
// in scope of every enclosing function: 190 nested functions of 199 locals
// and 180 KB of names took 18 s; at the limit about 0.1 s,
// BenchmarkCompileAtResolveLimit). load's reader may return at most
// MaxSourceBytes in all. A source
// right at any one limit compiles in at most about 130 ms
// (BenchmarkCompileAtLimits); the example scripts and the Lua 5.1 test
// suite use under a quarter of the compile work and a few percent of the
// other limits.
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
