package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rclua/rclua/luabind"
	"github.com/rclua/rclua/runtime/source"
)

// awaitingSource are the event kinds rc.on accepts whose source is not
// written yet, and which one will emit them. Remove a kind once its
// source is in the list below.
var awaitingSource = map[string]string{}

// TestSourceKindsAreLuaEvents: every kind a source emits is an event a
// script can name in rc.on, and the other way round (but for the kinds
// awaiting their source).
func TestSourceKindsAreLuaEvents(t *testing.T) {
	t.Parallel()
	emitted := map[string]bool{}
	for _, src := range []source.Source{source.NewPoll(nil, source.PollOptions{}), source.NewRealtime(nil, source.RealtimeOptions{})} {
		for _, k := range src.Kinds() {
			emitted[k] = true
		}
	}
	for _, k := range luabind.EventKinds() {
		if by, ok := awaitingSource[k]; ok {
			assert.False(t, emitted[k], "rc.on(%q) has its source: remove it from awaitingSource (%s)", k, by)
			continue
		}
		assert.True(t, emitted[k], "rc.on(%q) has a source", k)
		delete(emitted, k)
	}
	assert.Empty(t, emitted, "kinds emitted that rc.on does not accept")
}

// TestSourcesRunOnlyWhileListening: the host runs a source while some
// script listens to its kinds, stops it with the last listener (a failed
// reload keeps the old listener), and starts it afresh when one comes back.
func TestSourcesRunOnlyWhileListening(t *testing.T) {
	t.Parallel()
	src := newTestSource(source.KindSubscription)
	th := startHost(t, Config{}, src, map[string]string{
		"quiet.lua": `rc.every(0.01, function() rc.log.info("quiet tick") end)`,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("quiet tick") > 3 }, "time passes")
	on, runs := src.running()
	assert.False(t, on, "no listener: the source does not run")
	assert.Zero(t, runs)

	path := filepath.Join(th.dir, "l.lua")
	writeFile(t, path, listener)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs once a script listens")
	require.True(t, src.send(subEvent(source.ActionUpdated, "s1", 1)))
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "s1") == 1 }, "the event reaches the listener")

	// A broken edit keeps the old version, and with it the listener and
	// the same Run of the source.
	renameOver(t, path, "this is not lua")
	th.waitStatus("l", "load failed", func(s ScriptStatus) bool { return s.LastError != "" })
	require.True(t, src.send(subEvent(source.ActionUpdated, "s2", 1)), "the source still runs")
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "s2") == 1 }, "the old version still handles events")
	on, runs = src.running()
	assert.True(t, on, "the running version still listens")
	assert.Equal(t, 1, runs, "the source was not restarted")

	// A version without rc.on stops the source.
	renameOver(t, path, `rc.every(1, function() end)`)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return !on }, "the source stops with the last listener")
	assert.False(t, src.send(subEvent(source.ActionUpdated, "s1", 2)), "nothing runs to emit")

	// Back: a fresh Run.
	renameOver(t, path, listener)
	th.logs.eventually(t, waitFor, func() bool { on, runs := src.running(); return on && runs == 2 }, "a fresh Run for the new listener")

	// Deleting the file stops its script and the source.
	require.NoError(t, os.Remove(path))
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return !on }, "the source stops when the listener's file goes")
	_, runs = src.running()
	assert.Equal(t, 2, runs, "no Run after the last listener went")
}

// TestSourceFailureStopsTheHost: a source that cannot go on (revoked
// credentials) ends Run with its error, after the usual shutdown.
func TestSourceFailureStopsTheHost(t *testing.T) {
	t.Parallel()
	src := newTestSource(source.KindSubscription)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "l.lua"), listener)
	logs := &logSink{}
	h := newHost(Config{ScriptsDir: dir, Rescan: time.Hour}, env{}, []source.Source{src}, zerolog.New(logs))
	done := make(chan error, 1)
	go func() { done <- h.Run(context.Background()) }()
	logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	refused := errors.New("login refused: token revoked")
	src.fail <- refused
	select {
	case err := <-done:
		require.Error(t, err)
		assert.ErrorIs(t, err, refused, "Run returns the source's error")
		assert.Contains(t, err.Error(), "event source")
	case <-time.After(waitFor):
		t.Fatalf("Run did not end after the source failed; log:\n%s", logs.String())
	}
	assert.Equal(t, 1, logs.count("event source failed: stopping"))
	for _, st := range h.Status() {
		assert.Equal(t, StateStopped, st.State, "%s stopped", st.Name)
	}
}

// TestSourceEndingOnItsOwnIsRestarted: a source whose Run returns nil
// while scripts listen is run again (after a pause), not given up.
func TestSourceEndingOnItsOwnIsRestarted(t *testing.T) {
	t.Parallel()
	src := newTestSource(source.KindSubscription)
	th := startHost(t, Config{}, src, map[string]string{"l.lua": listener})
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	src.fail <- nil
	th.logs.eventually(t, waitFor, func() bool { on, runs := src.running(); return on && runs == 2 }, "a second Run")
	assert.Equal(t, 1, th.logs.count("event source stopped on its own: restarting it"))
	require.True(t, src.send(subEvent(source.ActionUpdated, "s1", 1)))
	th.logs.eventually(t, waitFor, func() bool { return th.events("updated", "s1") == 1 }, "events flow again")
}

// TestSourceErrorOnStopIsNotFatal: what a source returns when the host
// stops it (no listener any more) does not end the host.
func TestSourceErrorOnStopIsNotFatal(t *testing.T) {
	t.Parallel()
	src := newTestSource(source.KindSubscription)
	src.stopErr = context.Canceled
	th := startHost(t, Config{}, src, map[string]string{"l.lua": listener})
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return on }, "the source runs")
	path := filepath.Join(th.dir, "l.lua")
	renameOver(t, path, `rc.every(1, function() end)`)
	th.logs.eventually(t, waitFor, func() bool { on, _ := src.running(); return !on }, "the source is stopped")
	renameOver(t, path, listener)
	th.logs.eventually(t, waitFor, func() bool { on, runs := src.running(); return on && runs == 2 }, "the host still runs it again")
	assert.Zero(t, th.logs.count("event source failed: stopping"), "no failure")
}

// startSource emits its events as soon as it runs (as a catch-up after a
// restart does), then waits for its end.
type startSource struct{ events []source.Event }

func (s *startSource) Kinds() []string { return []string{source.KindSubscription} }

func (s *startSource) Run(ctx context.Context, emit source.Emit) error {
	for _, ev := range s.events {
		if err := emit(ctx, ev); err != nil {
			return nil
		}
	}
	<-ctx.Done()
	return nil
}

// TestSourceStartsAfterTheInitialLoad: a source starts only once every
// script of the initial scan is loaded, so the events it emits at its
// start (the catch-up after a restart) reach a script whose top level is
// slow too, not only the quickest one, and are reported handled once both
// handled them.
func TestSourceStartsAfterTheInitialLoad(t *testing.T) {
	t.Parallel()
	var handled handledCount
	src := &startSource{events: []source.Event{handled.event(source.ActionUpdated, "caught-up", 1)}}
	th := startHost(t, Config{}, src, map[string]string{
		"fast.lua": listener,
		"slow.lua": `local t0 = os.clock()
while os.clock() - t0 < 0.3 do end
` + listener,
	})
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("event", "id", "caught-up") == 2 }, "both scripts to handle the event")
	assert.Equal(t, 1, th.logs.count("event", "id", "caught-up", "script", "slow"), "the slow script got it")
	assert.Equal(t, 1, th.logs.count("event", "id", "caught-up", "script", "fast"), "the fast script got it")
	th.logs.eventually(t, waitFor, func() bool { return handled.n.Load() == 1 }, "the event acknowledged")
}

// stuckSource is a source that, once stopped, does not return until
// release is closed.
type stuckSource struct {
	release chan struct{}
	asked   chan struct{} // closed once its Run's context ended
	once    sync.Once
}

func (s *stuckSource) Kinds() []string { return []string{source.KindSubscription} }

func (s *stuckSource) Run(ctx context.Context, _ source.Emit) error {
	<-ctx.Done()
	s.once.Do(func() { close(s.asked) })
	<-s.release
	return nil
}

// TestAliveGoesStaleWhenASourceIsStuck: Alive advances while the host's
// loops go round; once a source runner is stuck (its source does not
// return after the host stopped it) it stops advancing, and it resumes
// once the source returns.
func TestAliveGoesStaleWhenASourceIsStuck(t *testing.T) {
	t.Parallel()
	src := &stuckSource{release: make(chan struct{}), asked: make(chan struct{})}
	th := startHost(t, Config{aliveEvery: time.Millisecond}, src, map[string]string{"l.lua": listener})
	t.Cleanup(func() {
		select {
		case <-src.release:
		default:
			close(src.release)
		}
	})
	start := th.h.Alive()
	require.False(t, start.IsZero(), "stamped when Run starts")
	th.logs.eventually(t, waitFor, func() bool { return th.h.Alive().After(start) }, "Alive to advance")

	require.NoError(t, os.Remove(filepath.Join(th.dir, "l.lua"))) // nobody listens: the host stops the source
	select {
	case <-src.asked:
	case <-time.After(waitFor):
		t.Fatal("the source was not stopped")
	}
	// window is an observation period (a healthy probe stamps about 50
	// times in it), not synchronisation; the first lets a round already
	// past the runner finish.
	window := func() { <-time.After(50 * time.Millisecond) }
	window()
	stuck := th.h.Alive()
	window()
	assert.Equal(t, stuck, th.h.Alive(), "no stamp while a source runner is stuck")

	close(src.release)
	th.logs.eventually(t, waitFor, func() bool { return th.h.Alive().After(stuck) }, "Alive to advance again")
}
