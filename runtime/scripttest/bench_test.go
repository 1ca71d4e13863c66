package scripttest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rclua/rclua/runtime"
)

// BenchmarkExampleTests runs the example scripts' tests (scripts/*_test.lua)
// and reports the wall time per test (ms/test; the target is under 20 ms,
// so a rules repository of 100 tests runs in about 2 s).
//
//	go test -run '^$' -bench ExampleTests -benchmem ./runtime/scripttest/
func BenchmarkExampleTests(b *testing.B) {
	files, errs := runtime.TestFiles([]string{filepath.Join("..", "..", "scripts")})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	tests := 0
	var spent time.Duration
	for b.Loop() {
		for _, f := range files {
			res, err := RunFile(context.Background(), f, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if !r.Passed {
					b.Fatalf("%s: %s: %s", r.Name, r.Where, r.Failure)
				}
				tests++
				spent += r.Duration
			}
		}
	}
	b.ReportMetric(float64(spent.Microseconds())/1000/float64(tests), "ms/test")
}
