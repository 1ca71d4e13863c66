package cli

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rclua/rclua/runtime"
)

// devIdleWindow is how long BenchmarkDevIdle measures: a minute by default
// (the figure issue 5 asks for); -devidle=10s gives a quick run.
var devIdleWindow = flag.Duration("devidle", time.Minute, "BenchmarkDevIdle: the measurement `window` after start-up")

// clockTicks is the kernel's USER_HZ (sysconf(_SC_CLK_TCK)), the unit of
// utime and stime in /proc/PID/stat. It is 100 on every Linux
// architecture Go supports; reading it needs cgo.
const clockTicks = 100

// BenchmarkDevIdle measures the built binary in --dev mode with the
// example scripts in scripts/: the CPU time it uses over a window after
// start-up (normalised to a minute) and its resident memory at the end.
// "activity=default" runs the demo users' activity at its default rate;
// "activity=off" sets it to an hour, so only the idle cost remains (timers,
// the realtime connection, the rescan); "events=poll" polls instead of the
// realtime connection.
//
//	go test -run='^$' -bench=DevIdle -benchtime=1x ./runtime/cli              # one minute each
//	go test -run='^$' -bench=DevIdle -benchtime=1x ./runtime/cli -devidle=10s # a quick run
//
// Each variant measures once, whatever b.N is: the first iteration of
// b.Loop measures, the others (only when -benchtime asks for more time than
// the window) do nothing; ns/op, the window itself, is not reported. CPU
// time comes in 10 ms ticks: a 10 s window resolves 60 cpu-ms/min, and
// windows much shorter than that give noise.
func BenchmarkDevIdle(b *testing.B) {
	if goruntime.GOOS != "linux" {
		b.Skip("reads /proc/PID/stat and /proc/PID/status: Linux only")
	}
	if *devIdleWindow <= 0 {
		b.Fatalf("-devidle must be positive, got %v", *devIdleWindow)
	}
	b.Run("activity=default", func(b *testing.B) { benchDevIdle(b) })
	b.Run("activity=off", func(b *testing.B) { benchDevIdle(b, "--dev-activity", "1h") })
	// The idle cost of the realtime connection (the default): against
	// polling only.
	b.Run("activity=off,events=poll", func(b *testing.B) { benchDevIdle(b, "--dev-activity", "1h", "--events", "poll") })
}

// benchDevIdle starts "rclua run --dev" with extra arguments, measures one
// window and reports cpu-ms/min and rss-MB.
func benchDevIdle(b *testing.B, extra ...string) {
	args := append([]string{"run", "--dev", "--dev-addr", "127.0.0.1:0", "--scripts", examplesDir,
		"--log-format", "json", "--shutdown-timeout", "3s"}, extra...)
	c := startChild(b, nil, args...)
	waitForText(b, c.stderr, "rclua started", 15*time.Second)
	pid := c.cmd.Process.Pid

	var cpu time.Duration
	var window time.Duration
	var rssKiB int64
	measured := false
	for b.Loop() {
		if measured {
			continue
		}
		measured = true
		ticks0 := procCPUTicks(b, pid)
		start := time.Now()
		timer := time.NewTimer(*devIdleWindow)
		select {
		case <-timer.C:
		case <-c.done:
			timer.Stop()
			b.Fatalf("rclua exited during the measurement: %v; output:\n%s", c.err, c.stderr.String())
		}
		ticks1 := procCPUTicks(b, pid)
		window = time.Since(start)
		rssKiB = procRSSKiB(b, pid)
		cpu = time.Duration(ticks1-ticks0) * time.Second / clockTicks
	}

	check := func(ok bool, format string, args ...any) {
		if !ok {
			b.Fatalf(format, args...)
		}
	}
	examples, err := runtime.ScriptFiles([]string{examplesDir})
	check(err == nil, "listing the examples: %v", err)
	check(strings.Contains(c.stderr.String(), fmt.Sprintf(`"loaded":%d`, len(examples))), "every example script loads; output:\n%s", c.stderr.String())
	check(!strings.Contains(c.stderr.String(), `"level":"error"`), "no error while idle; output:\n%s", c.stderr.String())

	cpuPerMin := float64(cpu) / float64(time.Millisecond) * float64(time.Minute) / float64(window)
	b.ReportMetric(cpuPerMin, "cpu-ms/min")
	b.ReportMetric(float64(rssKiB)/1024, "rss-MB")
	b.ReportMetric(0, "ns/op") // the op is the fixed window: its time says nothing
	// The machine's load goes with the figure: on a busy machine an idle
	// Go process is woken and rescheduled more, and its CPU time grows.
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("window %v: cpu %v (utime+stime, %d Hz ticks), VmRSS %d kB; loadavg %s",
		window.Round(time.Millisecond), cpu, clockTicks, rssKiB, strings.TrimSpace(string(load)))

	check(c.cmd.Process.Signal(syscall.SIGTERM) == nil, "sending SIGTERM")
	code := c.wait(b, 10*time.Second)
	check(code == 0, "SIGTERM exits 0, got %d; output:\n%s", code, c.stderr.String())
}

// procCPUTicks is the process's utime+stime from /proc/PID/stat, in clock
// ticks, over all its threads.
func procCPUTicks(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatalf("reading the child's stat: %v", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted from after its closing one, where field 3 starts.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		tb.Fatalf("unexpected /proc/%d/stat: %q", pid, data)
	}
	fields := strings.Fields(string(data[i+1:]))
	const utime, stime = 14 - 3, 15 - 3 // proc(5) numbering, from field 3
	if len(fields) <= stime {
		tb.Fatalf("unexpected /proc/%d/stat: %q", pid, data)
	}
	var total int64
	for _, f := range []string{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			tb.Fatalf("parsing /proc/%d/stat: %v", pid, err)
		}
		total += n
	}
	return total
}

// procRSSKiB is the process's VmRSS from /proc/PID/status, in KiB.
func procRSSKiB(tb testing.TB, pid int) int64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("reading the child's status: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			tb.Fatalf("parsing VmRSS: %v", err)
		}
		return n
	}
	tb.Fatalf("no VmRSS in /proc/%d/status:\n%s", pid, data)
	return 0
}
