// Package luajson converts JSON to Lua values and back, for gopher-lua
// states: the engine behind rclua's rc.json and every response body a
// binding hands to a script. It owns the null sentinel (Null, IsNull), the
// array mark (MarkArray, IsArray), the limits (MaxDecodeSize, MaxDepth,
// MaxDecodedSize, MaxEncodeSize) and the per-state decoder caches.
//
// # Values
//
// A JSON object becomes a table with string keys; an array a sequence,
// marked as an array so that an empty one encodes back as []; null becomes
// the state's null sentinel, in arrays and objects alike, so indices never
// shift. Numbers are Lua numbers (float64): integers up to 2^53 are exact
// and print without ".0". Strings keep their bytes; JSON input must be
// UTF-8.
//
// Encoding turns a sequence into an array and a table with string keys
// into an object (in the table's key order); an empty table is {} unless
// marked by MarkArray. Mixed or non-string keys, sparse arrays, NaN and
// infinities, invalid UTF-8, functions, cycles and nesting deeper than
// MaxDepth (200) are errors; shared (non-cyclic) subtables are fine. Input
// larger than MaxDecodeSize (32 MiB) is refused. Response bodies go
// straight from bytes to Lua tables, each built at its final size, never
// through map[string]any.
//
// # Limits
//
// Both directions bound what they build, not only what they read. A
// decode counts an estimate of the bytes of the tables and values it makes
// and stops past MaxDecodedSize (320 MiB; SetMaxDecodedSize changes it per
// state): 32 MiB of real responses fit, a 32 MiB array of empty tables
// (some 40 bytes of tables per byte of input) does not. Encoding stops
// once the text passes MaxEncodeSize (16 MiB, the host's string cap),
// which bounds a table that shares subtables (t = {t, t} forty times over
// has 2^40 leaves). Both look at a context as they go, the state's for a
// decode and Encode's argument, and stop once it is done. Error messages
// show at most 64 bytes of a key (Clip).
//
// Strings of up to 32 bytes (ids, times, names) are copied out of a
// decoded document (by default into 4 KiB chunks, and boxed as Lua values
// in chunks of 128: keeping one keeps its chunks, never the document);
// longer strings (message text) share memory with it, so keeping such a
// string from a large response keeps the response's text alive until the
// string is collected.
//
// # Caches
//
// Each state keeps, in its registry, caches that make decoding thousands
// of same-shaped objects cheap: interned object keys (4096, emptied and
// refilled when full), interned short string values (2048), and the key
// lists of object shapes seen before (256). Like the state, they belong to
// the one goroutine that runs it.
//
// # Build tags
//
// By default the decoder builds a table's hash part at its final size
// through a mirror of lua.LTable's layout (luabind/luajson/ltable, checked
// against the real type by reflection at start-up; on a mismatch it falls
// back to the safe path); objects of one shape share their key list (a
// table's own copy is made by the first key added to it), arrays of one or
// two values are made with their table in one allocation, and DecodeBytes
// views the input without copying it. Built with
// the purego tag (go build -tags purego), the package uses no unsafe code:
// tables are filled through gopher-lua's API and the input is copied. Both
// builds give the same values.
package luajson
