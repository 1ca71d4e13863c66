package luabind

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/store"
)

// storeState is a sandboxed state whose rc.store is namespace ns of db.
func storeState(t testing.TB, db *store.DB, ns string) *lua.LState {
	t.Helper()
	L := sandbox.New(sandbox.Options{})
	t.Cleanup(L.Close)
	m := &Module{Logger: zerolog.Nop()}
	if db != nil {
		m.Store = db.Namespace(ns)
	}
	m.Open(L, nil)
	return L
}

// runLua runs src as the chunk "store_test.lua" under a 10s deadline and
// returns its error.
func runLua(t testing.TB, L *lua.LState, src string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	L.SetContext(ctx)
	defer L.RemoveContext()
	fn, err := sandbox.Compile(L, "store_test.lua", []byte(src))
	require.NoError(t, err)
	L.Push(fn)
	return L.PCall(0, 0, nil)
}

// mustLua runs src, which reports a failed check by raising.
func mustLua(t testing.TB, L *lua.LState, src string) {
	t.Helper()
	require.NoError(t, runLua(t, L, src))
}

// luaErr is the message of a Lua error.
func luaErr(err error) string {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		return ae.Object.String()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

func dbs(t *testing.T, opts store.Options, f func(t *testing.T, db *store.DB)) {
	t.Run("bolt", func(t *testing.T) {
		db, err := store.Open(t.TempDir(), opts)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		f(t, db)
	})
	t.Run("memory", func(t *testing.T) {
		db := store.OpenMemory(opts)
		t.Cleanup(func() { _ = db.Close() })
		f(t, db)
	})
}

const roundTrip = `
local values = {
  null = rc.json.null,
  t = true, f = false,
  int = 42, neg = -7, big = 9007199254740992, zero = 0,
  float = 0.1, tiny = 1e-300, huge = 1.5e300,
  str = "héllo\0world", empty_str = "",
  long = string.rep("abcdefgh", 16384),
  empty_obj = {}, empty_arr = rc.json.array(),
  arr = {1, "two", rc.json.null, {3}},
  obj = {a = {b = {c = {1, 2, {d = rc.json.null}}}}, ["with space"] = 1},
}
for k, v in pairs(values) do
  assert(rc.store.set(k, v) == true, k)
end
`

const roundTripCheck = `
local want = {
  null = '"NULL"', t = 'true', f = 'false', int = '42', neg = '-7',
  big = '9007199254740992', zero = '0', float = '0.1', tiny = '1e-300', huge = '1.5e+300',
  str = '"héllo\\u0000world"', empty_str = '""',
  empty_obj = '{}', empty_arr = '[]',
  arr = '[1,"two",null,[3]]',
}
for k, w in pairs(want) do
  local v = rc.store.get(k)
  assert(v ~= nil, k .. " missing")
  local got = v == rc.json.null and '"NULL"' or rc.json.encode(v)
  assert(got == w, k .. ": got " .. got .. ", want " .. w)
end
assert(rc.store.get("null") == rc.json.null, "null is rc.json.null, not nil")
assert(math.type == nil or true)
assert(tostring(rc.store.get("big")) == "9007199254740992", "integers print as integers: " .. tostring(rc.store.get("big")))
assert(#rc.store.get("long") == 131072, "long string")
local o = rc.store.get("obj")
assert(o.a.b.c[3].d == rc.json.null and o["with space"] == 1, "nested object")
assert(rc.json.encode(rc.store.get("obj").a) == '{"b":{"c":[1,2,{"d":null}]}}', "nested encodes back")
assert(rc.store.get("missing") == nil, "absent is nil")
`

func TestStoreRoundTrip(t *testing.T) {
	t.Parallel()
	dbs(t, store.Options{}, func(t *testing.T, db *store.DB) {
		mustLua(t, storeState(t, db, "s"), roundTrip)
		mustLua(t, storeState(t, db, "s"), roundTripCheck) // a fresh state, as after a reload
	})
}

func TestStoreSurvivesReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	mustLua(t, storeState(t, db, "s"), roundTrip)
	require.NoError(t, db.Close())
	db, err = store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer db.Close()
	mustLua(t, storeState(t, db, "s"), roundTripCheck)
}

func TestStoreRaisesForWhatJSONCannotHold(t *testing.T) {
	t.Parallel()
	db := store.OpenMemory(store.Options{})
	defer db.Close()
	L := storeState(t, db, "s")
	for _, c := range []struct{ name, src, want string }{
		{"function", `rc.store.set("k", {f = print})`, "store_test.lua:1: bad argument #2 to rc.store.set (cannot store the value"},
		{"thread", `rc.store.set("k", coroutine.create(print))`, "store_test.lua:1: bad argument #2 to rc.store.set"},
		{"cycle", "local t = {}\nt.self = t\nrc.store.set('k', t)", "store_test.lua:3: bad argument #2 to rc.store.set"},
		{"nan", `rc.store.set("k", 0/0)`, "store_test.lua:1: bad argument #2"},
		{"math.huge", `rc.store.set("k", {limit = math.huge})`, "store_test.lua:1: bad argument #2"}, // infinity, as the README says
		{"-1/0", `rc.store.set("k", -1/0)`, "store_test.lua:1: bad argument #2"},
		{"mixed keys", `rc.store.set("k", {1, a = 2})`, "store_test.lua:1: bad argument #2"},
		{"update returns a function", `rc.store.update("k", function() return print end)`, "store_test.lua:1: bad argument #2 to rc.store.update (cannot store the value fn returned"},
		{"key not a string", `rc.store.set(1, 2)`, "store_test.lua:1: bad argument #1 to rc.store.set (key: string expected, got number)"},
		{"empty key", `rc.store.get("")`, "store_test.lua:1: bad argument #1 to rc.store.get (the key must not be empty)"},
		{"bad ttl", `rc.store.set("k", 1, {ttl = "soon"})`, `bad ttl "soon": want a duration such as`},
		{"negative ttl", `rc.store.set("k", 1, {ttl = -1})`, "ttl -1s is out of range: more than 0"},
		{"huge ttl", `rc.store.set("k", 1, {ttl = 1e300})`, "ttl of 1e+300 seconds is out of range: at most 100 years"},
		{"unknown option", `rc.store.set("k", 1, {tll = 5})`, `unknown option "tll"`},
		{"incr by a string", `rc.store.incr("k", "1")`, "bad argument #2 to rc.store.incr (number expected, got string)"},
		{"incr by nan", `rc.store.incr("k", 0/0)`, "n must be a finite number"},
		{"keys of a number", `rc.store.keys(5)`, "bad argument #1 to rc.store.keys"},
		{"misspelt", `rc.store.gett("k")`, "rc.store.gett does not exist (did you mean rc.store.get?"},
	} {
		err := runLua(t, L, c.src)
		assert.Contains(t, luaErr(err), c.want, c.name)
	}
	mustLua(t, L, `assert(rc.store.get("k") == nil, "nothing was stored")`)
}

func TestStoreLimitsReturnNilErr(t *testing.T) {
	t.Parallel()
	// Room for 100 bytes of keys and values in three keys.
	opts := store.Options{MaxKeyBytes: 16, MaxValueBytes: 64, MaxTotalBytes: 100 + 3*store.EntryOverhead}
	dbs(t, opts, func(t *testing.T, db *store.DB) {
		mustLua(t, storeState(t, db, "s"), `
local function refused(what, ok, err)
  assert(ok == nil, what .. ": not refused")
  assert(type(err) == "table" and err.error_type == "limit", what .. ": error_type " .. tostring(err and err.error_type))
  return tostring(err)
end
local long_key = string.rep("k", 17)
assert(refused("set key", rc.store.set(long_key, 1)):find("a key of 17 bytes is more than the limit of 16", 1, true))
refused("get key", rc.store.get(long_key))
refused("incr key", rc.store.incr(long_key))
refused("update key", rc.store.update(long_key, function() return 1 end))
refused("delete key", rc.store.delete(long_key))
local big = string.rep("x", 63) -- 65 bytes of JSON with its quotes
assert(refused("set value", rc.store.set("v", big)):find("more than the limit of 64", 1, true))
refused("update value", rc.store.update("v", function() return big end))
assert(rc.store.get("v") == nil, "nothing stored")
-- 40 + 40 bytes fill most of the 100; a third 40 does not fit.
assert(rc.store.set("a", string.rep("x", 37)))
assert(rc.store.set("b", string.rep("x", 37)))
assert(refused("set total", rc.store.set("c", string.rep("x", 37))):find("--store-limit", 1, true))
assert(rc.store.set("n", 1), "a small one fits")
refused("update total", rc.store.update("c", function() return string.rep("x", 37) end))
refused("incr total", rc.store.incr("c222", 1e15)) -- 4 + 16 bytes: 102
assert(rc.store.incr("n") == 2, "incr within the total")
assert(rc.store.delete("a"))
assert(rc.store.set("c", string.rep("x", 37)), "room after a delete")
-- Past the encoder's own cap (16 MiB of JSON) the refusal is a limit too,
-- by set and by update, for one string or two.
local huge = string.rep("x", 12 * 1024 * 1024)
assert(refused("set huge", rc.store.set("h", {huge, huge})):find("far more than the store's value limit", 1, true))
refused("set huge string", rc.store.set("h", string.rep("x", 16 * 1024 * 1024))) -- the longest string a script can build
refused("update huge", rc.store.update("h", function() return {huge, huge} end))
`)
	})
}

func TestStoreTTL(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	db := store.OpenMemory(store.Options{Now: clock, SweepEvery: -1})
	defer db.Close()
	L := storeState(t, db, "s")
	mustLua(t, L, `
assert(rc.store.set("hour", 1, {ttl = "1h"}))
assert(rc.store.set("secs", 2, {ttl = 90}))
assert(rc.store.set("ever", 3))
assert(rc.store.set("frac", 4, {ttl = 0.5}))
assert(rc.store.set("days", 5, {ttl = "1d12h"}))`)
	advance(time.Second)
	mustLua(t, L, `assert(rc.store.get("frac") == nil, "0.5s passed")
assert(rc.store.get("secs") == 2)
assert(rc.store.incr("secs") == 3, "incr keeps the ttl")`)
	advance(90 * time.Second)
	mustLua(t, L, `assert(rc.store.get("secs") == nil, "90s passed")
assert(rc.store.get("hour") == 1)
local k = rc.store.keys()
assert(#k == 3 and k[1] == "days" and k[2] == "ever" and k[3] == "hour", rc.json.encode(k))
assert(rc.store.incr("secs") == 1, "an expired key counts as absent")`)
	advance(time.Hour)
	mustLua(t, L, `assert(rc.store.get("hour") == nil and rc.store.get("ever") == 3)`)
	advance(34 * time.Hour) // 35h and 91s since the set
	mustLua(t, L, `assert(rc.store.get("days") == 5, "a ttl in days")`)
	advance(time.Hour)
	mustLua(t, L, `assert(rc.store.get("days") == nil, "1d12h passed")`)
}

func TestStoreIncrAndUpdate(t *testing.T) {
	t.Parallel()
	dbs(t, store.Options{}, func(t *testing.T, db *store.DB) {
		mustLua(t, storeState(t, db, "s"), `
assert(rc.store.incr("c") == 1)
assert(rc.store.incr("c", 5) == 6)
assert(rc.store.incr("c", -0.5) == 5.5)
assert(rc.store.get("c") == 5.5)
assert(rc.store.set("s", "text"))
local v, err = rc.store.incr("s")
assert(v == nil and err.error_type == "type" and tostring(err):find('"s" is not a number'), tostring(err))
assert(rc.store.get("s") == "text", "unchanged")

local seen = "unset"
local new = rc.store.update("u", function(old) seen = old; return {n = 1, list = {"a"}} end)
assert(seen == nil and new.n == 1, "absent: old is nil")
new = rc.store.update("u", function(old) old.n = old.n + 1; table.insert(old.list, "b"); return old end)
assert(new.n == 2)
assert(rc.json.encode(rc.store.get("u")) == '{"n":2,"list":["a","b"]}' or rc.json.encode(rc.store.get("u")) == '{"list":["a","b"],"n":2}')
assert(rc.store.update("u", function(old) return nil end) == nil)
assert(rc.store.get("u") == nil, "nil deletes")
assert(rc.store.update("null", function() return rc.json.null end) == rc.json.null)
assert(rc.store.get("null") == rc.json.null, "rc.json.null is stored, not deleted")
`)
	})
}

func TestStoreUpdateFunctionFailures(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.TempDir(), store.Options{})
	require.NoError(t, err)
	defer db.Close()
	L := storeState(t, db, "s")
	mustLua(t, L, `assert(rc.store.set("k", 1))`)
	for _, c := range []struct{ name, src, want string }{
		{"raises", "rc.store.update('k', function(old)\n  error('boom')\nend)", "store_test.lua:2: boom"},
		{"raises a table", "rc.store.update('k', function(old) error({code = 7}) end)", "table: "},
		{"writes inside", "rc.store.update('k', function(old)\n  rc.store.set('k', 5)\n  return 2\nend)",
			"store_test.lua:2: rc.store.set cannot be called inside an rc.store.update function"},
		{"incr inside", "rc.store.update('k', function(old) rc.store.incr('other') return 2 end)", "rc.store.incr cannot be called inside"},
		{"yields", "local co = coroutine.wrap(function() rc.store.update('k', function(old) coroutine.yield(1) return 2 end) end)\nco()", "yield across"},
	} {
		err := runLua(t, L, c.src)
		assert.Contains(t, luaErr(err), c.want, c.name)
		mustLua(t, L, `assert(rc.store.get("k") == 1, "unchanged")`)
	}
	// A pcall around the update catches fn's error; reads inside fn work.
	mustLua(t, L, `
local ok, err = pcall(rc.store.update, "k", function(old) error("inner") end)
assert(not ok and tostring(err):find("inner"), tostring(err))
local got = rc.store.update("k", function(old) return rc.store.get("k") + old end)
assert(got == 2 and rc.store.get("k") == 2, "reads inside fn")
assert(rc.store.set("k", 1), "writes work again after the update")`)

	// The handler's deadline stops a looping fn, and the namespace's lock
	// is released: the next update works.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	L.SetContext(ctx)
	fn, err := sandbox.Compile(L, "loop.lua", []byte(`rc.store.update("k", function(old) while true do end end)`))
	require.NoError(t, err)
	L.Push(fn)
	err = L.PCall(0, 0, nil)
	require.Error(t, err, "the deadline stops fn")
	assert.Contains(t, err.Error(), "context deadline exceeded")
	L.RemoveContext()
	mustLua(t, L, `assert(rc.store.get("k") == 1, "unchanged")
assert(rc.store.update("k", function(old) return old + 1 end) == 2, "the lock was released")`)
}

func TestStoreConcurrentIncrFromTwoStates(t *testing.T) {
	t.Parallel()
	dbs(t, store.Options{}, func(t *testing.T, db *store.DB) {
		const states = 2
		var wg sync.WaitGroup
		errs := make([]error, states)
		Ls := make([]*lua.LState, states)
		for i := range Ls {
			Ls[i] = storeState(t, db, "s") // two states, one namespace
		}
		for i, L := range Ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = runLua(t, L, `
for i = 1, 300 do
  assert(rc.store.incr("n"))
  assert(rc.store.update("u", function(old) return (old or 0) + 1 end))
end`)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		mustLua(t, Ls[0], `assert(rc.store.get("n") == 600, "incr: " .. tostring(rc.store.get("n")))
assert(rc.store.get("u") == 600, "update: " .. tostring(rc.store.get("u")))`)
	})
}

func TestStoreNamespacesAreIsolated(t *testing.T) {
	t.Parallel()
	dbs(t, store.Options{}, func(t *testing.T, db *store.DB) {
		mustLua(t, storeState(t, db, "a"), `assert(rc.store.set("k", "a")); assert(rc.store.set("a-only", 1))`)
		mustLua(t, storeState(t, db, "ab"), `assert(rc.store.set("k", "ab"))`)
		mustLua(t, storeState(t, db, "a/b"), `assert(rc.store.set("k", "a/b"))`)
		mustLua(t, storeState(t, db, "cursors"), `assert(rc.store.set("k", "cursors"))`)
		require.NoError(t, db.SaveCursor("k", []byte("cursor")))
		mustLua(t, storeState(t, db, "ab"), `
assert(rc.store.get("k") == "ab")
assert(rc.store.get("a-only") == nil, "another script's key")
local k = rc.store.keys("")
assert(#k == 1 and k[1] == "k", rc.json.encode(k))`)
		mustLua(t, storeState(t, db, "cursors"), `assert(rc.store.get("k") == "cursors", "a script called cursors is no cursor")`)
		c, _, err := db.LoadCursor("k")
		require.NoError(t, err)
		assert.Equal(t, "cursor", string(c))
	})
}

func TestStoreKeys(t *testing.T) {
	t.Parallel()
	db := store.OpenMemory(store.Options{})
	defer db.Close()
	mustLua(t, storeState(t, db, "s"), `
assert(rc.json.encode(rc.store.keys()) == "[]", "no keys: an empty array")
for _, k in ipairs({"seen:b", "seen:a", "digest", "seen:", "Seen:c"}) do assert(rc.store.set(k, 1)) end
assert(rc.json.encode(rc.store.keys()) == '["Seen:c","digest","seen:","seen:a","seen:b"]', rc.json.encode(rc.store.keys()))
assert(rc.json.encode(rc.store.keys("seen:")) == '["seen:","seen:a","seen:b"]')
assert(rc.json.encode(rc.store.keys("nope")) == "[]")
assert(rc.store.delete("seen:a") == true)
assert(rc.json.encode(rc.store.keys("seen:")) == '["seen:","seen:b"]')`)
}

func TestStoreUnavailable(t *testing.T) {
	t.Parallel()
	L := storeState(t, nil, "")
	mustLua(t, L, `
for _, call in ipairs({
  function() return rc.store.get("k") end,
  function() return rc.store.set("k", 1) end,
  function() return rc.store.delete("k") end,
  function() return rc.store.incr("k") end,
  function() return rc.store.update("k", function() return 1 end) end,
  function() return rc.store.keys() end,
}) do
  local v, err = call()
  assert(v == nil and err.error_type == "unavailable", tostring(err))
end`)
}

func TestStoreClosedIsAnError(t *testing.T) {
	t.Parallel()
	db, err := store.Open(t.TempDir(), store.Options{})
	require.NoError(t, err)
	L := storeState(t, db, "s")
	require.NoError(t, db.Close())
	err = runLua(t, L, `local v, err = rc.store.set("k", 1)
assert(v == nil and err.error_type == "store" and tostring(err):find("closed"), tostring(err))`)
	require.NoError(t, err)
	assert.False(t, strings.Contains(luaErr(err), "panic"))
}
