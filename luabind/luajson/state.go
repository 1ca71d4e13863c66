package luajson

import (
	"errors"

	lua "github.com/yuin/gopher-lua"
)

// registryKey is the key under which a state's luajson data lives in the
// Lua registry.
const registryKey = "github.com/rclua/rclua/luabind/luajson"

// arrayMarkKey is the metatable field that marks a table as a JSON array
// (rc.json.array and every decoded array carry a metatable with it).
const arrayMarkKey = "__jsonarray"

// Bounds of the caches kept per state. The key caches are emptied and
// refilled when full, so that they follow what the script decodes now
// rather than what it decoded first; the value cache keeps its first
// entries (values are far more varied than keys).
const (
	maxInternedKeys   = 4096 // object keys
	maxInternedKeyLen = 64
	maxInternedValues = 2048 // short string values
	maxInternedLen    = 16
	maxCopiedLen      = 32   // longer string values are views into the input
	strArenaSize      = 4096 // bytes of a chunk of copied strings
	strBoxChunk       = 128  // boxes of copied strings in one chunk
	maxShapes         = 256  // key lists of objects (see objectKeys)
	maxShapeKeys      = 64
	maxShapeLen       = 1024 // bytes of a key list's cache key
)

// nullMarker is the Value of the rc.json.null userdata; the encoder
// recognises the sentinel of any state by it.
type nullMarker struct{}

// stateData is what luajson keeps per Lua state: the null sentinel, the
// array mark's metatable, and the caches and buffers reused by the
// decoder. Like the state, it belongs to the one goroutine that runs the
// state.
type stateData struct {
	null    *lua.LUserData
	arrMeta *lua.LTable

	// keys interns object keys: decoding thousands of objects with the
	// same fields shares one copy of each key.
	keys map[string]lua.LValue
	// vals interns short string values ("c", "mentions", a username):
	// the boxed lua.LValue is reused.
	vals map[string]lua.LValue
	// shapes holds the key lists of objects seen before, by shapeKey:
	// the thousands of objects of a response share a handful of them.
	shapes map[string]*objectKeys

	stack    []lua.LValue
	names    []string
	buf      []byte
	shapeKey []byte
	strArena []byte        // bytes of copied short strings (see boxShort)
	strBoxes []lua.LString // boxes of copied short strings (see boxShort)

	// decodeLimit bounds what one decode builds (SetMaxDecodedSize).
	decodeLimit int
}

// dataOf returns the luajson data of L's global state, creating it on first use.
func dataOf(L *lua.LState) *stateData {
	if ud, ok := L.G.Registry.RawGetString(registryKey).(*lua.LUserData); ok {
		if sd, ok := ud.Value.(*stateData); ok {
			return sd
		}
	}
	// The caches are made by the first decode (see caches): a state that
	// only uses rc.json.null or encodes does not pay for them.
	sd := &stateData{decodeLimit: MaxDecodedSize}

	nullMeta := L.CreateTable(0, 3)
	nullMeta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("null"))
		return 1
	}))
	nullMeta.RawSetString("__name", lua.LString("rc.json.null"))
	nullMeta.RawSetString("__metatable", lua.LFalse)
	sd.null = &lua.LUserData{Value: nullMarker{}, Env: L.G.Global, Metatable: nullMeta}

	sd.arrMeta = L.CreateTable(0, 2)
	sd.arrMeta.RawSetString(arrayMarkKey, lua.LTrue)
	sd.arrMeta.RawSetString("__name", lua.LString("rc.json.array"))

	holder := &lua.LUserData{Value: sd, Env: L.G.Global, Metatable: lua.LNil}
	L.G.Registry.RawSetString(registryKey, holder)
	return sd
}

// caches makes sd's decoder caches on first use.
func (sd *stateData) caches() {
	if sd.keys == nil {
		sd.keys = make(map[string]lua.LValue, 64)
		sd.vals = make(map[string]lua.LValue, 64)
		sd.shapes = make(map[string]*objectKeys, 16)
	}
}

// Null returns the null sentinel of L (rc.json.null): the value a JSON
// null decodes to, and which encodes as null.
func Null(L *lua.LState) lua.LValue { return dataOf(L).null }

// IsNull reports whether v is the null sentinel of some state.
func IsNull(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return false
	}
	_, ok = ud.Value.(nullMarker)
	return ok
}

// IsArray reports whether tb carries the JSON array mark: it was decoded
// from a JSON array or marked with MarkArray.
func IsArray(tb *lua.LTable) bool {
	mt, ok := tb.Metatable.(*lua.LTable)
	return ok && mt.RawGetString(arrayMarkKey) == lua.LTrue
}

// ErrHasMetatable is MarkArray's error for a table that already has a
// metatable of its own.
var ErrHasMetatable = errors.New("the table already has a metatable")

// MarkArray marks tb, a table of L, to encode as a JSON array, so that an
// empty one encodes as [] rather than {}. It fails with ErrHasMetatable
// when tb has a metatable other than the mark (a table marked already
// stays marked).
func MarkArray(L *lua.LState, tb *lua.LTable) error {
	arr := dataOf(L).arrMeta
	if mt := tb.Metatable; mt != lua.LNil && mt != arr {
		return ErrHasMetatable
	}
	tb.Metatable = arr
	return nil
}

// SetMaxDecodedSize sets the most one decode in L may build, in the
// estimate of bytes that MaxDecodedSize (the default) bounds: a host with
// a smaller memory limit lowers it. n must be positive.
func SetMaxDecodedSize(L *lua.LState, n int) {
	if n <= 0 {
		panic("luajson: SetMaxDecodedSize of a non-positive size")
	}
	dataOf(L).decodeLimit = n
}
