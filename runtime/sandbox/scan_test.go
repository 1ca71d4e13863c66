package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// TestHostileShapesStopAtTheirLimit: for every hostile shape, the largest
// source the limits accept compiles (no Go stack overflow, gopher-lua's
// own errors aside), and one step more is refused by the shape's limit
// with "t.lua:line: message".
func TestHostileShapesStopAtTheirLimit(t *testing.T) {
	t.Parallel()
	for _, sh := range hostileShapes {
		t.Run(sh.name, func(t *testing.T) {
			t.Parallel()
			n, src := largestAccepted(t, sh)
			L := New(Options{})
			defer L.Close()
			_, err := Compile(L, "t.lua", []byte(src))
			var se *SyntaxError
			if err != nil {
				require.ErrorAs(t, err, &se, "%s at n=%d", sh.name, n)
				assert.NotContains(t, err.Error(), sh.limit, "%s at n=%d is inside the limits", sh.name, n)
			}
			err = checkSource("t.lua", []byte(sh.gen(n+1)))
			require.Error(t, err, "%s at n=%d", sh.name, n+1)
			require.ErrorAs(t, err, &se)
			assert.Contains(t, err.Error(), sh.limit, sh.name)
			assert.Regexp(t, `^t\.lua:\d+: `, err.Error(), sh.name)
			t.Logf("n=%d: %s", n, err)
		})
	}
}

// TestHostileSourceFromTheIssue: the sources that killed or stalled the
// daemon are refused quickly, with the line where the limit was crossed.
func TestHostileSourceFromTheIssue(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ src, want string }{
		"4 MB of not":   {"local x = " + strings.Repeat("not ", 1<<20) + "1", "t.lua:1: source of 4194315 bytes exceeds the limit"},
		"200 KB of not": {"local x = " + strings.Repeat("not ", 50000) + "1", "t.lua:1: too deeply nested"},
		"parentheses":   {"x = 1\n\nlocal y = " + strings.Repeat("(", 100000), "t.lua:3: too deeply nested"},
		"tables":        {"-- a comment\nlocal t = " + strings.Repeat("{", 100000), "t.lua:2: too deeply nested"},
		"functions": {strings.Repeat("local f = function()\n", 300), // the 200th one's ( crosses
			"t.lua:200: too deeply nested"},
		"200 KB of y+y":     {"local y = 1\nlocal x = y" + strings.Repeat("+y", 100000), "t.lua:2: expression too long"},
		"20 MB table":       {"local t = {" + strings.Repeat("1, ", 7<<20) + "}", "exceeds the limit of 262144 bytes"},
		"line of the limit": {strings.Repeat("x = 1\n", 50000), "t.lua:43691: source of 300000 bytes"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			L := New(Options{})
			defer L.Close()
			_, err := Compile(L, "t.lua", []byte(c.src))
			require.Error(t, err, name)
			var se *SyntaxError
			require.ErrorAs(t, err, &se)
			assert.Contains(t, err.Error(), c.want, name)
		})
	}
}

// TestScannerSkipsStringsAndComments: brackets, keywords and operators
// inside strings, long strings and comments count for nothing, and what
// follows them is scanned again.
func TestScannerSkipsStringsAndComments(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("((({{{ not not - end end function ", 1000)
	ok := map[string]string{
		"double quotes":      `local s = "` + deep + `\" ` + deep + `"`,
		"single quotes":      `local s = '` + deep + `\' ` + deep + `'`,
		"escaped newline":    "local s = \"a\\\n" + deep + "\"",
		"long string":        "local s = [[" + deep + "]]",
		"long string levels": "local s = [==[" + deep + "]] ]=] " + deep + "]==]",
		"line comment":       "-- " + deep + "\nlocal x = 1",
		"long comment":       "--[[" + deep + "\n" + deep + "]] local x = 1",
		"long comment level": "--[=[" + deep + "]] " + deep + "]=] local x = 1",
		"not a long comment": "--[ " + deep + "\nlocal x = 1",
	}
	for name, src := range ok {
		L := New(Options{})
		_, err := Compile(L, "t.lua", []byte(src))
		assert.NoError(t, err, name)
		L.Close()
	}
	// After each, real nesting counts again.
	over := "\nlocal x = " + strings.Repeat("(", MaxNesting+1)
	for name, src := range ok {
		err := checkSource("t.lua", []byte(src+over))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "too deeply nested", name)
	}
}

// TestLegalScriptsPass: the example scripts, the project's Lua test files
// and gopher-lua's copies of the Lua 5.1 test suite all pass the limits.
func TestLegalScriptsPass(t *testing.T) {
	t.Parallel()
	var files []string
	for _, glob := range []string{"../../scripts/*.lua", "../../luabind/testdata/*.lua", "../testdata/*/*.lua", "../testdata/*.lua"} {
		m, err := filepath.Glob(glob)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 4, "the example scripts are found")
	if dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yuin/gopher-lua").Output(); err == nil {
		for _, sub := range []string{"_lua5.1-tests", "_glua-tests"} {
			m, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(dir)), sub, "*.lua"))
			files = append(files, m...)
		}
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		assert.NoError(t, checkSource(f, src), f)
	}
	t.Logf("%d files pass", len(files))
}

// TestLoadAtRunTimeIsBounded: load and loadstring meet the same limits,
// and load's reader cannot hand over more than MaxSourceBytes.
func TestLoadAtRunTimeIsBounded(t *testing.T) {
	t.Parallel()
	require.NoError(t, runSnippet(t, `
local f, err = loadstring(("not "):rep(50000) .. "1")
assert(f == nil and err:find("^<string>:1: too deeply nested"), err)
f, err = loadstring("x = y" .. ("+y"):rep(5000), "gen")
assert(f == nil and err:find("^gen:1: expression too long"), err)
local piece = ("x = 1\n"):rep(10000)
local n = 0
f, err = load(function() n = n + 1 return piece end, "reader")
assert(f == nil and err == "reader: source exceeds the limit of 262144 bytes", err)
assert(n == 5, "the reader was not called on after the limit: " .. n)
local parts = {"return ", "1 + ", "1"}
n = 0
f = assert(load(function() n = n + 1 return parts[n] end))
assert(f() == 2)
assert(loadstring("return 3")() == 3)
f, err = load(function() return {} end)
assert(f == nil and err == "reader function must return a string")
f, err = loadstring("x = = 1", "bad")
assert(f == nil and err:find("^bad:1: "), err)`, 5*time.Second, false))
	err := runSnippet(t, `load(function() error("from the reader") end)`, time.Second, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "from the reader")
}

// TestSyntaxErrorsAreUnchanged: source inside the limits gets gopher-lua's
// syntax errors as before.
func TestSyntaxErrorsAreUnchanged(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	_, err := Compile(L, "t.lua", []byte("local x = (1\n"))
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	assert.True(t, strings.HasPrefix(err.Error(), "t.lua:"), err.Error())
	assert.NotContains(t, err.Error(), "limit")
	fn, err := Compile(L, "t.lua", []byte("return (((1)))"))
	require.NoError(t, err)
	require.NoError(t, L.CallByParam(lua.P{Fn: fn, NRet: 1, Protect: true}))
	assert.Equal(t, lua.LNumber(1), L.Get(-1))
}

// BenchmarkCompileAtLimits compiles, for every hostile shape, the largest
// source the limits accept: what one uninterruptible Compile can cost.
func BenchmarkCompileAtLimits(b *testing.B) {
	for _, sh := range hostileShapes {
		_, src := largestAccepted(b, sh)
		b.Run(sh.name, func(b *testing.B) {
			L := New(Options{})
			defer L.Close()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				_, _ = Compile(L, "t.lua", []byte(src))
			}
		})
	}
}

// TestScanAcceptsDataTables: ordinary data in a script (a word list, a
// table of records) is legal; a list big enough to compile for seconds
// is refused.
func TestScanAcceptsDataTables(t *testing.T) {
	t.Parallel()
	words := func(n int) string {
		var b strings.Builder
		b.WriteString("local words = {")
		for i := range n {
			fmt.Fprintf(&b, "%q,", fmt.Sprintf("word%d", i))
		}
		b.WriteString("}\n")
		return b.String()
	}
	var records strings.Builder
	records.WriteString("local users = {\n")
	for i := range 1100 {
		fmt.Fprintf(&records, "  {name = \"user%d\", id = %d},\n", i, i)
	}
	records.WriteString("}\n")
	for name, src := range map[string]string{"2,100 words": words(2100), "1,100 records": records.String(), "3,500 words": words(3500)} {
		L := New(Options{})
		_, err := Compile(L, "data.lua", []byte(src))
		L.Close()
		assert.NoError(t, err, name)
	}
	L := New(Options{})
	defer L.Close()
	_, err := Compile(L, "data.lua", []byte(words(16000)))
	require.Error(t, err, "16,000 distinct constants in one function compile for seconds")
	assert.Contains(t, err.Error(), "too many distinct names and constants in one function")
}

// resolveSource is depth nested functions each declaring locals locals,
// then names name lookups in the innermost one.
func resolveSource(depth, locals, names int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, "local function f%d() local %s = 1\n", i, strings.Repeat("a,", locals-1)+"a")
	}
	b.WriteString(strings.Repeat("x=x ", names/2))
	b.WriteString("\n")
	b.WriteString(strings.Repeat("end ", depth))
	return b.String()
}

// TestScanBoundsNameResolution (review of item 2): gopher-lua resolves a
// name by searching every local in scope of every enclosing function, so
// 190 nested functions of 199 locals and 180 KB of names, inside every
// other limit, compiled for 18 s. The scan counts those lookups: that
// source is refused, one under the budget passes.
func TestScanBoundsNameResolution(t *testing.T) {
	t.Parallel()
	L := New(Options{})
	defer L.Close()
	hostile := resolveSource(190, 199, 45000)
	require.Less(t, len(hostile), MaxSourceBytes)
	_, err := Compile(L, "h.lua", []byte(hostile))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too many names under too many local variables")

	under := resolveSource(40, 199, 2*MaxResolveWork/(40*199)/3)
	_, err = Compile(L, "u.lua", []byte(under))
	assert.NoError(t, err)
}

// BenchmarkCompileAtResolveLimit compiles a source just under
// MaxResolveWork: 40 nested functions of 199 locals and the names that
// fill 90% of the budget.
func BenchmarkCompileAtResolveLimit(b *testing.B) {
	src := []byte(resolveSource(40, 199, MaxResolveWork/(40*199)*9/10))
	for b.Loop() {
		L := New(Options{})
		if _, err := Compile(L, "r.lua", src); err != nil {
			b.Fatal(err)
		}
		L.Close()
	}
}
