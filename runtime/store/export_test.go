package store

import "testing"

// Fill writes keys keys into each of spaces namespaces "script0",
// "script1", ... (one transaction each), for the benchmarks of package
// store_test.
func Fill(tb testing.TB, d *DB, spaces, keys int) { fill(tb, d, spaces, keys) }
