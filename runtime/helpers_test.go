package runtime

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/source"
)

// waitFor bounds the wait for a condition: generous, since -race on two
// busy cores slows loads tenfold (a passing test never waits it out).
const waitFor = 30 * time.Second
const tick = 5 * time.Millisecond

// logSink captures zerolog JSON lines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// entries returns every logged line, parsed.
func (s *logSink) entries() []map[string]any {
	s.mu.Lock()
	data := append([]byte(nil), s.buf.Bytes()...)
	s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// count counts lines whose message is msg and whose fields match kv pairs
// (values compared as strings; a value ending in "*" matches a prefix).
func (s *logSink) count(msg string, kv ...string) int {
	n := 0
	for _, e := range s.entries() {
		if match(e, msg, kv...) {
			n++
		}
	}
	return n
}

func match(e map[string]any, msg string, kv ...string) bool {
	if m, _ := e["message"].(string); m != msg {
		return false
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := e[kv[i]].(string)
		if !ok && e[kv[i]] != nil {
			v = fmt.Sprint(e[kv[i]])
		}
		want := kv[i+1]
		if strings.HasSuffix(want, "*") {
			if !strings.HasPrefix(v, strings.TrimSuffix(want, "*")) {
				return false
			}
		} else if v != want {
			return false
		}
	}
	return true
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// eventually waits up to timeout for cond, failing with the log on timeout.
func (s *logSink) eventually(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, s.String())
		}
		time.Sleep(tick)
	}
}

// testHost is a host running in the background on a temporary folder.
type testHost struct {
	t    *testing.T
	h    *Host
	dir  string
	logs *logSink
	stop context.CancelFunc
	done chan error
}

// startHost writes files, starts a host with real luabind bindings (no
// services) and src (nil: no source) and waits for the initial load.
func startHost(t *testing.T, cfg Config, src source.Source, files map[string]string) *testHost {
	t.Helper()
	var sources []source.Source
	if src != nil {
		sources = append(sources, src)
	}
	return startHostEnv(t, cfg, env{module: &luabind.Module{}}, sources, files)
}

// startHostDeps is startHost with the given dependencies.
func startHostDeps(t *testing.T, cfg Config, deps Deps, files map[string]string) *testHost {
	t.Helper()
	return startHostEnv(t, cfg, env{module: deps.Module}, deps.Sources, files)
}

// startHostEnv is startHost with the given environment (tests installing
// their own Go functions into the scripts' states) and sources.
func startHostEnv(t *testing.T, cfg Config, e env, sources []source.Source, files map[string]string) *testHost {
	t.Helper()
	return startHostObs(t, cfg, e, sources, files, nil)
}

// startHostObs is startHostEnv with an observer (nil: none).
func startHostObs(t *testing.T, cfg Config, e env, sources []source.Source, files map[string]string, obs Observer) *testHost {
	t.Helper()
	if cfg.ScriptsDir == "" {
		cfg.ScriptsDir = t.TempDir()
	}
	for name, content := range files {
		path := filepath.Join(cfg.ScriptsDir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		writeFile(t, path, content)
	}
	if cfg.Rescan == 0 {
		cfg.Rescan = time.Hour // tests exercise fsnotify, not the rescan
	}
	if cfg.minEvery == 0 {
		cfg.minEvery = time.Millisecond
	}
	logs := &logSink{}
	log := zerolog.New(logs).With().Timestamp().Logger()
	h := newHost(cfg, e, sources, log)
	if obs != nil {
		h.obs = obs
	}
	ctx, cancel := context.WithCancel(context.Background())
	th := &testHost{t: t, h: h, dir: cfg.ScriptsDir, logs: logs, stop: cancel, done: make(chan error, 1)}
	go func() { th.done <- h.Run(ctx) }()
	select {
	case <-h.Loaded():
	case <-time.After(waitFor):
		t.Fatal("initial load did not finish")
	}
	t.Cleanup(th.shutdown)
	return th
}

// shutdown stops the host and waits for Run to return.
func (th *testHost) shutdown() {
	th.stop()
	select {
	case err := <-th.done:
		require.NoError(th.t, err, "Run")
		th.done <- err // let later calls return too
	case <-time.After(waitFor):
		th.t.Fatalf("Run did not return after cancel; log:\n%s", th.logs.String())
	}
}

func (th *testHost) status(name string) (ScriptStatus, bool) {
	for _, s := range th.h.Status() {
		if s.Name == name {
			return s, true
		}
	}
	return ScriptStatus{}, false
}

// waitStatus waits until the script's status satisfies cond.
func (th *testHost) waitStatus(name string, what string, cond func(ScriptStatus) bool) ScriptStatus {
	th.t.Helper()
	var st ScriptStatus
	th.logs.eventually(th.t, waitFor, func() bool {
		var ok bool
		st, ok = th.status(name)
		return ok && cond(st)
	}, name+": "+what)
	return st
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644), "write %s", path)
}

// renameOver saves like many editors: write a temp file, rename it over.
func renameOver(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	writeFile(t, tmp, content)
	require.NoError(t, os.Rename(tmp, path), "rename over %s", path)
}

func hashOf(content string) string {
	s := sha256.Sum256([]byte(content))
	return hex.EncodeToString(s[:])
}

// testSource is an event source the test drives: send emits through the
// running Run (if any); fail makes Run return err.
type testSource struct {
	kinds []string
	mu    sync.Mutex
	runs  int             // Run calls so far
	emit  source.Emit     // of the running Run; nil when none runs
	ctx   context.Context // of the running Run
	fail  chan error      // a value makes the running Run return it
	// stopErr is what Run returns when its context ends (a sloppy source
	// answering the host's stop with an error).
	stopErr error
}

func newTestSource(kinds ...string) *testSource {
	return &testSource{kinds: kinds, fail: make(chan error, 1)}
}

func (s *testSource) Kinds() []string { return s.kinds }

func (s *testSource) Run(ctx context.Context, emit source.Emit) error {
	s.mu.Lock()
	s.runs++
	s.emit, s.ctx = emit, ctx
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.emit = nil
		s.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return s.stopErr
	case err := <-s.fail:
		return err
	}
}

// running reports whether a Run is in progress, and how many began.
func (s *testSource) running() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.emit != nil, s.runs
}

// send emits ev through the running Run, waiting as a source does while
// a queue is full; false when none runs or its context ended first.
func (s *testSource) send(ev source.Event) bool {
	s.mu.Lock()
	emit, ctx := s.emit, s.ctx
	s.mu.Unlock()
	return emit != nil && emit(ctx, ev) == nil
}

// subEvent is a subscription event whose object carries n.
func subEvent(action, id string, n int) source.Event {
	if action == source.ActionRemoved {
		return source.Event{Kind: source.KindSubscription, Action: action, ID: id,
			Raw: []byte(`{"_id":"` + id + `","_deletedAt":"1970-01-01T00:00:00.000Z"}`)}
	}
	raw, _ := json.Marshal(map[string]any{"_id": id, "n": n})
	return source.Event{Kind: source.KindSubscription, Action: action, ID: id, Raw: raw}
}

// listener logs every subscription event it gets.
const listener = `rc.on("subscription", function(action, sub)
  rc.log.info("event", {action = action, id = sub._id})
end)
`

// events counts the events of action about id that listener logged.
func (th *testHost) events(action, id string) int {
	return th.logs.count("event", "action", action, "id", id)
}
