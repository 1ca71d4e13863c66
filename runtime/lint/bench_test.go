package lint_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/runtime/watch"
)

// BenchmarkCheckExamples: the static check of every example script, per
// pass over all of them (the API is read once, as rclua check does).
func BenchmarkCheckExamples(b *testing.B) {
	api := realAPI(b, nil)
	all, err := filepath.Glob("../../scripts/*.lua")
	require.NoError(b, err)
	var files []string
	for _, f := range all {
		if watch.IsScript(filepath.Base(f)) { // not the *_test.lua beside them
			files = append(files, f)
		}
	}
	require.NotEmpty(b, files)
	srcs := make([][]byte, len(files))
	for i, f := range files {
		srcs[i], err = os.ReadFile(f)
		require.NoError(b, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i, src := range srcs {
			fs, err := api.Check(files[i], src)
			if err != nil || len(fs) != 0 {
				b.Fatalf("%s: %v %v", files[i], err, fs)
			}
		}
	}
}

// BenchmarkReadAPI: reading the globals and the rc table from a state.
func BenchmarkReadAPI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		realAPI(b, nil)
	}
}
