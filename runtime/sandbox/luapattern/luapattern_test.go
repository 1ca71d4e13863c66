package luapattern

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// find compiles pattern with anchoring and finds its first match.
func find(b *Budget, pattern, subject string, init int) (Match, bool, error) {
	p, err := Compile(pattern, true)
	if err != nil {
		return Match{}, false, err
	}
	return p.Find(b, subject, init)
}

func TestFind(t *testing.T) {
	t.Parallel()
	m, ok, err := find(nil, "(%w+)=()", "a key=val", 0)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, Match{Start: 2, End: 6, Captures: []Capture{{Start: 2, End: 5}, {Start: 6, End: 6, Position: true}}}, m)

	_, ok, err = find(nil, "^key", "a key", 0)
	require.NoError(t, err)
	assert.False(t, ok, "anchored at init")
	m, ok, err = find(nil, "^key", "a key", 2)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 5, m.End)

	p, err := Compile("^a", false)
	require.NoError(t, err)
	assert.False(t, p.Anchored())
	m, ok, err = p.Find(nil, "x^a", 0)
	require.NoError(t, err)
	assert.True(t, ok, "without anchoring '^' is a character")
	assert.Equal(t, 1, m.Start)
}

func TestBudgetStopsBacktracking(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	calls := 0
	b := &Budget{Check: func() error {
		calls++
		if calls == 5 {
			return stop
		}
		return nil
	}}
	_, _, err := find(b, strings.Repeat("a*", 40)+"b", strings.Repeat("a", 40), 0)
	require.ErrorIs(t, err, stop)
	assert.Equal(t, 5, calls)
	assert.GreaterOrEqual(t, b.steps, 5*CheckEvery)
}

func TestBudgetCountsLinearScans(t *testing.T) {
	t.Parallel()
	calls := 0
	b := &Budget{Check: func() error { calls++; return nil }}
	_, ok, err := find(b, "%b()", strings.Repeat("(", 3000), 0)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Greater(t, calls, 3000*3000/2/CheckEvery/2, "the %%b scans count as steps")
}

func TestDepthBound(t *testing.T) {
	t.Parallel()
	_, _, err := find(nil, strings.Repeat("a?", MaxDepth+1), strings.Repeat("a", MaxDepth+1), 0)
	require.ErrorIs(t, err, ErrTooComplex)
	_, ok, err := find(nil, strings.Repeat("a?", 1000), strings.Repeat("a", 1000), 0)
	require.NoError(t, err)
	assert.True(t, ok)
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for pat, want := range map[string]string{
		"%":      "malformed pattern (ends with '%')",
		"[a":     "malformed pattern (missing ']')",
		"[%":     "malformed pattern (missing ']')",
		"(":      "unfinished capture",
		")":      "invalid pattern capture",
		"%1":     "invalid capture index",
		"%b":     "unbalanced pattern",
		"%f":     "missing '[' after '%f' in pattern",
		"%fa":    "missing '[' after '%f' in pattern",
		"%f[a":   "malformed pattern (missing ']')",
		"(()%1)": "invalid capture index",
	} {
		_, err := Compile(pat, true)
		require.Error(t, err, pat)
		assert.Equal(t, want, err.Error(), pat)
	}
	_, err := Compile(strings.Repeat("()", MaxCaptures), true)
	require.NoError(t, err)
	_, err = Compile(strings.Repeat("()", MaxCaptures+1), true)
	assert.EqualError(t, err, "too many captures")
}

func TestSets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		pat, in, out string
	}{
		{"[a-c]", "abc", "d`"},
		{"[^a-c]", "d`", "abc"},
		{"[]]", "]", "a"},
		{"[^]]", "a", "]"},
		{"[a-]", "a-", "b"},
		{"[-a]", "a-", "b"},
		{"[%a-z]", "Qz-", "1"},
		{"[%]]", "]", "%"},
		{"[a-%%]", "]", "a%b"}, // Lua 5.1 reads the escaped range end's class from the ']'
		{"[%w_]", "a_9", "-"},
		{"%W", "-", "a"},
		{"%z", "\x00", "a"},
		{"%Z", "a", "\x00"},
		{".", "\x00\xff", ""},
	} {
		p, err := Compile(c.pat, true)
		require.NoError(t, err, c.pat)
		set := p.items[0].set
		for i := 0; i < len(c.in); i++ {
			assert.True(t, set.has(c.in[i]), "%q in %s", c.in[i], c.pat)
		}
		for i := 0; i < len(c.out); i++ {
			assert.False(t, set.has(c.out[i]), "%q not in %s", c.out[i], c.pat)
		}
	}
}
