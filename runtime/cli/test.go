package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/scripttest"
)

const testHelp = `rclua test [flags] [PATH...]

Runs the scripts' own tests: every *_test.lua file in the given folders (or
the files given; default the scripts folder). foo_test.lua tests foo.lua
beside it: each test_* function runs against a fresh in-process fake
Rocket.Chat and a fake clock, offline (no server, no credentials, no
network, no real time). Prints "--- FAIL: name (file:line)" and the message
for each failed test, "ok" or "FAIL" per file, and a summary line
"N passed, M failed"; exits 1 if any test fails or --run matches no test,
2 on a usage error.
`

// testFlags is the flag set of "rclua test".
type testFlags struct {
	fs      *flag.FlagSet
	run     string
	json    bool
	scripts string
	handler time.Duration
	timeout time.Duration
	memory  memoryFlags
}

// Tests' own bounds: a handler gets less time than the daemon gives it
// (a test of a handler that loops must end, and quickly), and a test
// function more than a handler (so that the handler's stop is what the
// test sees, in t.errors()).
const (
	defaultTestHandlerTimeout = 5 * time.Second
	defaultTestTimeout        = 60 * time.Second
)

func newTestFlags(getenv func(string) string) *testFlags {
	f := &testFlags{fs: newFlagSet("test", testHelp)}
	f.fs.StringVar(&f.run, "run", "", "run only the tests whose name matches this `regexp`")
	f.fs.BoolVar(&f.json, "json", false, "print one JSON object per test on stdout (for CI); the summary goes to stderr")
	f.fs.StringVar(&f.scripts, "scripts", envOr(getenv, envScripts, defaultScripts), "scripts folder, tested when no PATH is given (env "+envScripts+")")
	f.fs.DurationVar(&f.handler, "handler-timeout", defaultTestHandlerTimeout, "how long a handler of the script under test may run before it is stopped (a failure t.errors() shows; the daemon's default is 30s)")
	f.fs.DurationVar(&f.timeout, "timeout", defaultTestTimeout, "how long one test function may run, handlers included; more than --handler-timeout")
	f.memory.register(f.fs, getenv, "the script under test's running top level or handler is")
	return f
}

// testRecord is one line of --json output.
type testRecord struct {
	File    string  `json:"file"`
	Test    string  `json:"test,omitempty"` // absent: the file could not run
	Result  string  `json:"result"`         // "pass" or "fail"
	Where   string  `json:"where,omitempty"`
	Message string  `json:"message,omitempty"`
	Elapsed float64 `json:"elapsed"` // seconds
}

func cmdTest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	f := newTestFlags(getenv)
	if err := parseFlags(f.fs, args, stdout, stderr); err != nil {
		return err
	}
	if f.handler <= 0 || f.timeout <= f.handler {
		return usagef("test: --timeout (%v) must be more than --handler-timeout (%v), both positive", f.timeout, f.handler)
	}
	if err := checkMemoryLimit(f.memory.limit); err != nil {
		return err
	}
	defer f.memory.apply()()
	opts := scripttest.Options{Output: stderr, Timeout: f.timeout} // a test file's print: stdout keeps the results
	opts.Config.HandlerTimeout = f.handler
	opts.Config.MemoryLimit = int64(f.memory.limit)
	if f.run != "" {
		re, err := regexp.Compile(f.run)
		if err != nil {
			return usagef("test: --run %q: %v", f.run, err)
		}
		opts.Run = re
	}
	paths := f.fs.Args()
	if len(paths) == 0 {
		paths = []string{f.scripts}
	}
	files, errs := runtime.TestFiles(paths)
	if len(errs) > 0 { // nothing runs: a path mistake is a usage error
		for i, err := range errs {
			errs[i] = usagef("test: %v", err)
		}
		return problems(errs...)
	}
	enc := json.NewEncoder(stdout)
	passed, failed := 0, 0
	for _, file := range files {
		began := time.Now()
		results, err := scripttest.RunFile(ctx, file, opts)
		if err != nil {
			failed++
			if f.json {
				_ = enc.Encode(testRecord{File: file, Result: "fail", Message: err.Error(), Elapsed: time.Since(began).Seconds()})
			} else {
				fmt.Fprintf(stdout, "FAIL\t%s: %v\n", file, err)
			}
			continue
		}
		fileFailed := false
		for _, r := range results {
			rec := testRecord{File: file, Test: r.Name, Result: "pass", Elapsed: r.Duration.Seconds()}
			if r.Passed {
				passed++
			} else {
				failed++
				fileFailed = true
				rec.Result, rec.Where, rec.Message = "fail", r.Where, r.Failure
			}
			switch {
			case f.json:
				_ = enc.Encode(rec)
			case !r.Passed:
				where := r.Where
				if where == "" {
					where = file
				}
				fmt.Fprintf(stdout, "--- FAIL: %s (%s)\n    %s\n", r.Name, where, r.Failure)
			}
		}
		switch {
		case f.json:
		case len(results) == 0 && f.run != "":
			fmt.Fprintf(stdout, "ok  \t%s\t[no tests to run]\n", file) // as go test says it
		default:
			status := "ok  "
			if fileFailed {
				status = "FAIL"
			}
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", status, file, plural(len(results), "test"), time.Since(began).Round(time.Millisecond))
		}
	}
	summary := stdout
	if f.json {
		summary = stderr
	}
	fmt.Fprintf(summary, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("test: %d test(s) failed", failed)
	}
	if passed == 0 && f.run != "" {
		// A selection that selects nothing is a mistake (a typo in the
		// pattern), not a success: CI must not go green running nothing.
		return fmt.Errorf("test: no test matched --run %q", f.run)
	}
	return nil
}

// plural is "1 test", "2 tests", "0 tests".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
