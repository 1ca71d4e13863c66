package cli

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlagsAnywhere: flags may follow the arguments (the help's
// "cmd [flags] ARGS" is one order, not the only one); a flag's value is
// never taken for an argument nor an argument for a value; "--" ends the
// flags; after an argument, what is not one of the command's flags is an
// argument (a store key "-counter"); before, unknown flags and repeats
// are still refused.
func TestFlagsAnywhere(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (*flag.FlagSet, *string, *bool, *time.Duration, error) {
		fs := newFlagSet("t", "help\n")
		dir := fs.String("state-dir", "", "")
		dev := fs.Bool("dev", false, "")
		d := fs.Duration("load-timeout", time.Second, "")
		err := parseFlags(fs, args, io.Discard, io.Discard)
		return fs, dir, dev, d, err
	}
	for _, tc := range []struct {
		args []string
		dir  string
		dev  bool
		d    time.Duration
		rest []string
	}{
		{[]string{"--state-dir", "S", "hello"}, "S", false, time.Second, []string{"hello"}},
		{[]string{"hello", "--state-dir", "S"}, "S", false, time.Second, []string{"hello"}},
		{[]string{"a", "--dev", "b", "--load-timeout=5s", "c"}, "", true, 5 * time.Second, []string{"a", "b", "c"}},
		{[]string{"a", "-load-timeout", "2s", "--state-dir=x"}, "x", false, 2 * time.Second, []string{"a"}},
		{[]string{"--dev=false", "a"}, "", false, time.Second, []string{"a"}},
		{[]string{"a", "--", "--dev", "-"}, "", false, time.Second, []string{"a", "--dev", "-"}},
		{[]string{"-", "--dev"}, "", true, time.Second, []string{"-"}},
		{[]string{"--state-dir", "--dev"}, "--dev", false, time.Second, nil},
		{[]string{"hello", "-counter", "--dev"}, "", true, time.Second, []string{"hello", "-counter"}},
		{[]string{"a", "-5", "--state-dir", "S", "--x=1"}, "S", false, time.Second, []string{"a", "-5", "--x=1"}},
		{nil, "", false, time.Second, nil},
	} {
		fs, dir, dev, d, err := parse(tc.args...)
		if !assert.NoError(t, err, "%q", tc.args) {
			continue
		}
		assert.Equal(t, tc.dir, *dir, "%q", tc.args)
		assert.Equal(t, tc.dev, *dev, "%q", tc.args)
		assert.Equal(t, tc.d, *d, "%q", tc.args)
		if tc.rest == nil {
			assert.Empty(t, fs.Args(), "%q", tc.args)
		} else {
			assert.Equal(t, tc.rest, fs.Args(), "%q", tc.args)
		}
	}
	for _, args := range [][]string{
		{"--bogus", "a"},
		{"a", "--dev", "b", "--dev"},
		{"a", "--state-dir", "S", "--state-dir", "T"},
		{"a", "--load-timeout"},
		{"a", "--load-timeout", "soon"},
	} {
		_, _, _, _, err := parse(args...)
		assert.Error(t, err, "%q", args)
	}
	for _, args := range [][]string{{"a", "--help"}, {"a", "-h"}, {"-help", "a"}} {
		_, _, _, _, err := parse(args...)
		assert.ErrorIs(t, err, flag.ErrHelp, "help anywhere: %q", args)
	}
}

// TestE2EFlagsAfterArguments: in the built binary, check and test take
// their flags after the paths too (the trial's "rclua check scripts
// --load-timeout 1s" read --load-timeout as a file).
func TestE2EFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.lua"), []byte("rc.log.info('x')\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a_test.lua"), []byte("function test_one() t.eq(1, 1) end\nfunction test_two() t.eq(2, 2) end\n"), 0o644))
	code, stdout, stderr := runChild(t, nil, "check", dir, "--load-timeout", "2s")
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	code, stdout, stderr = runChild(t, nil, "test", dir, "--run", "one")
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout, "1 passed, 0 failed", "--run applies after the path")
}

// TestE2ETestRunMatchingNothingFails: a --run that selects no test is a
// failure (a typo must not turn CI green).
func TestE2ETestRunMatchingNothingFails(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.lua"), []byte("rc.log.info('x')\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a_test.lua"), []byte("function test_one() t.eq(1, 1) end\n"), 0o644))
	code, stdout, stderr := runChild(t, nil, "test", "--run", "nomatch", dir)
	assert.Equal(t, 1, code, "%s%s", stdout, stderr)
	assert.Contains(t, stdout+stderr, `no test matched --run "nomatch"`)
	code, stdout, stderr = runChild(t, nil, "test", "--run", "one", dir)
	assert.Equal(t, 0, code, "%s%s", stdout, stderr)
}
