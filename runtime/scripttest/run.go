package scripttest

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime"
	"github.com/rclua/rclua/runtime/sandbox"
	"github.com/rclua/rclua/runtime/watch"
)

// DefaultStart is where the fake clock starts in every test unless the
// test file calls t.start: Monday 5 January 2026, 08:00 UTC.
var defaultStart = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// DefaultTimeout bounds one test function (the script's handlers have
// their own deadline, Config.HandlerTimeout).
const DefaultTimeout = 30 * time.Second

// Options configure RunFile.
type Options struct {
	// Run, when set, selects the tests whose name it matches.
	Run *regexp.Regexp
	// Config gives the script's load and handler timeouts (zero: the
	// daemon's defaults) and Unsafe.
	Config runtime.Config
	// Timeout bounds each test function; zero means DefaultTimeout.
	Timeout time.Duration
	// Output receives what the test file itself prints (print's
	// arguments through tostring, tab-separated, one line per call); nil
	// discards it. rclua test gives its stderr, so that stdout keeps
	// only results (one JSON object per line with --json).
	Output io.Writer
}

// Result is one test's outcome.
type Result struct {
	File     string        // the test file, as given
	Name     string        // the test function: "test_pong"
	Passed   bool          // false: Failure says why
	Where    string        // the failure's place, "file:line" ("" when unknown)
	Failure  string        // the failure's message, without Where
	Duration time.Duration // wall time of the test, the script's load included
}

// ScriptOf returns the script a test file tests: foo_test.lua tests
// foo.lua in the same folder.
func ScriptOf(testFile string) string {
	return strings.TrimSuffix(testFile, watch.TestSuffix) + ".lua"
}

// runner runs the tests of one file: it owns the test file's state and
// the world of the test running.
type runner struct {
	file    string
	script  string
	content []byte // the script under test
	opts    Options
	start   time.Time
	secrets map[string]string // t.secret's, by name
	config  map[string]any    // t.config's at the top level (nil: rclua.toml's section)
	account string            // t.account's: accountBot ("": the default) or accountUser
	w       *world            // nil outside a test
	L       *lua.LState
}

// now is the test file's clock: the running test's fake clock, else the
// start.
func (r *runner) now() time.Time {
	if r.w != nil {
		return r.w.now
	}
	return r.start
}

// RunFile runs the tests of one test file: its top level once, then every
// global function whose name starts with "test_" (in the order they are
// defined, those opts.Run selects), each against a fresh fake server, a
// fresh state of the script under test (see ScriptOf) and a fresh fake
// clock. The error is for a file that cannot run at all: unreadable, its
// script missing, a failing top level, no test function.
func RunFile(ctx context.Context, path string, opts Options) ([]Result, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	content, err := watch.ReadScript(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &runner{file: path, script: ScriptOf(path), opts: opts, start: defaultStart}
	if r.content, err = watch.ReadScript(r.script); err != nil {
		return nil, fmt.Errorf("%s: the script under test: %w", path, err)
	}
	r.L = sandbox.New(sandbox.Options{Clock: r.now})
	defer r.L.Close()
	r.L.SetGlobal("t", r.table())
	r.L.SetGlobal("print", r.L.NewFunction(r.print))
	fn, err := sandbox.Compile(r.L, path, content)
	if err != nil {
		return nil, err
	}
	if msg := r.call(ctx, fn); msg != "" {
		return nil, fmt.Errorf("%s", msg)
	}
	tests := r.tests()
	if len(tests) == 0 {
		return nil, fmt.Errorf("%s: no test functions (global functions named test_*)", path)
	}
	var out []Result
	for _, tf := range tests {
		if opts.Run != nil && !opts.Run.MatchString(tf.name) {
			continue
		}
		out = append(out, r.runTest(ctx, tf.name, tf.fn))
	}
	return out, nil
}

// print is the test file's print: a line to Options.Output.
func (r *runner) print(L *lua.LState) int {
	var sb strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			sb.WriteByte('\t')
		}
		if n, ok := L.Get(i).(lua.LNumber); ok {
			sb.WriteString(sandbox.NumberText(n)) // as the script's print writes it
		} else {
			sb.WriteString(L.ToStringMeta(L.Get(i)).String())
		}
	}
	sb.WriteByte('\n')
	if r.opts.Output != nil {
		_, _ = io.WriteString(r.opts.Output, sb.String())
	}
	return 0
}

type testFunc struct {
	name string
	fn   *lua.LFunction
}

// tests returns the test functions in the order they are defined.
func (r *runner) tests() []testFunc {
	var out []testFunc
	r.L.G.Global.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		fn, isFn := v.(*lua.LFunction)
		if ok && isFn && strings.HasPrefix(string(name), "test_") && fn.Proto != nil {
			out = append(out, testFunc{string(name), fn})
		}
	})
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].fn.Proto.LineDefined, out[j].fn.Proto.LineDefined; a != b {
			return a < b
		}
		return out[i].name < out[j].name
	})
	return out
}

// runTest runs one test in a new world.
func (r *runner) runTest(ctx context.Context, name string, fn *lua.LFunction) (res Result) {
	began := time.Now()
	res = Result{File: r.file, Name: name}
	defer func() { res.Duration = time.Since(began) }()
	w, err := newWorld(ctx, r.start, r.script, r.content, r.opts.Config, r.secrets, r.config, r.account)
	if err != nil {
		res.Where, res.Failure = splitWhere("the script under test did not load: " + err.Error())
		if strings.HasPrefix(err.Error(), r.script+":") {
			res.Where, res.Failure = splitWhere(err.Error())
			res.Failure = "the script under test did not load: " + res.Failure
		}
		return res
	}
	r.w = w
	w.caller = func() string { return strings.TrimSuffix(r.L.Where(1), ":") }
	defer func() { w.close(); r.w = nil }()
	if msg := r.call(ctx, fn); msg != "" {
		res.Where, res.Failure = splitWhere(msg)
		if len(w.errors) > 0 { // most often the cause: say so beside the assertion
			first := w.errors[0]
			res.Failure += "\n    before that, a handler of the script failed"
			if first.at != "" {
				res.Failure += " (at " + first.at + ")"
			}
			res.Failure += ": " + first.msg
			if n := len(w.errors); n > 1 {
				res.Failure += fmt.Sprintf(" (and %d more)", n-1)
			}
		}
		return res
	}
	if len(w.errors) > 0 {
		// The test's line that made the handler run; the script's
		// file:line is in the message.
		first := w.errors[0]
		res.Where, res.Failure = first.at, "a handler of the script failed: "+first.msg
		if first.at == "" {
			res.Where, res.Failure = splitWhere(first.msg)
			res.Failure = "a handler of the script failed: " + res.Failure
		}
		if n := len(w.errors); n > 1 {
			res.Failure += fmt.Sprintf(" (and %d more; call t.errors() to expect them)", n-1)
		} else {
			res.Failure += " (call t.errors() to expect it)"
		}
		return res
	}
	res.Passed = true
	return res
}

// call runs fn in the test file's state under the test timeout; it
// returns the failure's message ("file:line: message"), "" on success.
func (r *runner) call(ctx context.Context, fn *lua.LFunction) string {
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	r.L.SetContext(cctx)
	defer r.L.RemoveContext()
	r.L.Push(fn)
	f := sandbox.Call(r.L, 0, 0)
	if f == nil {
		return ""
	}
	msg := lua.LVAsString(f.Value)
	if _, isStr := f.Value.(lua.LString); !isStr {
		msg = "error object is a " + f.Value.Type().String() + " value"
	}
	if cctx.Err() != nil && ctx.Err() == nil {
		msg = strings.TrimSuffix(msg, cctx.Err().Error()) + fmt.Sprintf("stopped: the test ran longer than %v", r.opts.Timeout)
	}
	if f.Where != "" && !positioned.MatchString(msg) {
		msg = f.Where + " " + msg
	}
	return msg
}

// positioned matches a message that starts with "name:line:".
var positioned = regexp.MustCompile(`^([^\s:][^:\n]*:\d+):\s*`)

// splitWhere splits "file:line: message" into its place and message.
func splitWhere(msg string) (where, rest string) {
	if m := positioned.FindStringSubmatchIndex(msg); m != nil {
		return msg[m[2]:m[3]], msg[m[1]:]
	}
	return "", msg
}
