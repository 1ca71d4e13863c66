package luabind

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson/ltable"
)

// setStrict gives tb, the API table called name ("rc", "rc.chat"), a
// metatable whose __index raises an error for a missing key, so that a
// misspelt name fails where it is read, naming it, rather than later as
// "attempt to call a non-function object". __index is only consulted on a
// miss: reading an existing key costs nothing more. The message is built
// at error time from the table's own keys, so keys a script adds to an API
// table are read and listed like the others. rawget(tb, key) still reads
// without raising (feature detection). The keys of extra are made by
// their function at each read (rc.config) unless the table has them.
func setStrict(L *lua.LState, tb *lua.LTable, name string, extra ...computed) {
	mt := ltable.New(L, 1)
	ltable.SetString(mt, "__index", L.NewFunction(func(L *lua.LState) int {
		tb, ok := L.Get(1).(*lua.LTable)
		if !ok {
			return 0
		}
		key := L.Get(2)
		for _, c := range extra {
			if key == lua.LString(c.name) {
				L.Push(c.value(L))
				return 1
			}
		}
		L.RaiseError("%s", missingKeyMessage(name, tb, key, extra))
		return 0
	}))
	tb.Metatable = mt
}

// Strict makes tb, an API table of another part called name (the t table
// of rclua test), strict as rc's tables are: reading a missing key raises
// "t.postd does not exist (did you mean t.post? ...)".
func Strict(L *lua.LState, tb *lua.LTable, name string) { setStrict(L, tb, name) }

// computed is a key of an API table whose value is made at each read.
type computed struct {
	name  string
	value func(L *lua.LState) lua.LValue
}

// maxListedKeys bounds the keys a missing-key message lists and looks
// through: API tables have a few; one a script has filled with more gets a
// message without them (it is built at error time, within a call's
// deadline, and must not cost what the table is worth).
const maxListedKeys = 64

// missingKeyMessage is the error for reading key from tb, the API table
// called name: "rc.chat.postMessage does not exist (did you mean
// rc.chat.post_message? rc.chat has: post_message)".
func missingKeyMessage(name string, tb *lua.LTable, key lua.LValue, extra []computed) string {
	var keys []string
	for _, c := range extra {
		keys = append(keys, c.name)
	}
	for k, _ := tb.Next(lua.LNil); k != lua.LNil; k, _ = tb.Next(k) {
		if s, ok := k.(lua.LString); ok {
			if len(keys) == maxListedKeys {
				return fmt.Sprintf("%s does not exist (%s has more than %d keys)", qualify(name, key), name, maxListedKeys)
			}
			keys = append(keys, string(s))
		}
	}
	return missingMessage(name, keys, key)
}

// MissingKeyMessage is the error a strict API table raises when key is
// read from the table called table ("rc.chat"), whose keys are keys:
// "rc.chat.postMessage does not exist (did you mean rc.chat.post_message?
// rc.chat has: post_message)". rclua check reports a missing rc path with
// it, so that the static check and the running script say the same.
func MissingKeyMessage(table string, keys []string, key string) string {
	if len(keys) > maxListedKeys {
		return fmt.Sprintf("%s does not exist (%s has more than %d keys)", qualify(table, lua.LString(key)), table, maxListedKeys)
	}
	return missingMessage(table, slices.Clone(keys), lua.LString(key))
}

// missingMessage builds missingKeyMessage's text from keys, which it sorts.
func missingMessage(name string, keys []string, key lua.LValue) string {
	sort.Strings(keys)

	var b strings.Builder
	b.WriteString(qualify(name, key))
	b.WriteString(" does not exist (")
	if s, ok := key.(lua.LString); ok {
		if hint, ok := newerLua[name+"."+string(s)]; ok {
			b.WriteString(hint + "; ")
		} else if near := suggest(string(s), keys); near != "" {
			fmt.Fprintf(&b, "did you mean %s? ", qualify(name, lua.LString(near)))
		}
	}
	if len(keys) == 0 {
		fmt.Fprintf(&b, "%s is empty)", name)
		return b.String()
	}
	fmt.Fprintf(&b, "%s has: ", name)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(clip(k))
	}
	b.WriteString(")")
	return b.String()
}

// newerLua words what Lua 5.1 (gopher-lua's) has instead of a library
// field of a later Lua that scripts written for one reach for.
var newerLua = map[string]string{
	"table.unpack":   "Lua 5.1 has unpack",
	"table.pack":     `Lua 5.1 has none: {...} and select("#", ...)`,
	"table.move":     "Lua 5.1 has none: a loop, or table.insert",
	"math.tointeger": "Lua 5.1 has none: math.floor",
}

// qualify names key of the table called name: rc.chat.x, or rc["a b"] and
// rc[1] when the key is not an identifier.
func qualify(name string, key lua.LValue) string {
	if s, ok := key.(lua.LString); ok {
		k := clip(string(s))
		if isIdentifier(k) {
			return name + "." + k
		}
		return name + "[" + strconv.Quote(k) + "]"
	}
	return name + "[" + key.String() + "]"
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range []byte(s) {
		letter := c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// maxSuggested is the longest name suggest compares (API names are short;
// the edit distance costs the product of two names' lengths).
const maxSuggested = 64

// Suggest returns the name of names (sorted) that name most likely meant,
// or "", by the rule of the strict tables' "did you mean" (see suggest).
func Suggest(name string, names []string) string { return suggest(name, names) }

// suggest returns the key of keys (sorted) that key most likely meant, or
// "". First the same name ignoring case and underscores (postMessage,
// PostMessage and postmessage mean post_message); failing that, a near
// spelling (subscription, post_mesage): at most 2 edits, and fewer than
// half the name's length, the first of the closest. Names longer than
// maxSuggested are not compared.
func suggest(key string, keys []string) string {
	if len(key) > maxSuggested {
		return ""
	}
	norm := normalizeName(key)
	for _, k := range keys {
		if k != key && len(k) <= maxSuggested && normalizeName(k) == norm {
			return k
		}
	}
	best, bestD := "", 3
	for _, k := range keys {
		if len(k) > maxSuggested {
			continue
		}
		nk := normalizeName(k)
		if abs(len(nk)-len(norm)) >= bestD { // the distance is at least that
			continue
		}
		if d := editDistance(norm, nk); d < bestD && 2*d < len(norm) {
			best, bestD = k, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// normalizeName lowercases s and drops underscores and hyphens.
func normalizeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range []byte(s) {
		switch {
		case c == '_' || c == '-':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + ('a' - 'A'))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// editDistance is the Levenshtein distance between a and b, in bytes,
// with a swap of two adjacent bytes counted as one edit (the optimal
// string alignment distance: raed is one edit from read).
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1) // row i-2
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
