package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/source"
)

// TestReloadTrialKeepsTheRunningVersion: while an edit's top level runs
// (here it waits on a gate, as one waiting on a slow server does), the
// running version goes on: its events are handled and its timer ticks,
// by it and not by the new one; once the new top level returns, the new
// version takes over. A load asked for meanwhile runs after it, once.
func TestReloadTrialKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{LoadTimeout: time.Minute}, g.env(), []source.Source{src}, map[string]string{
		"s.lua": `rc.on("subscription", function(_, sub) record("v1", sub._id) end)
rc.every("10ms", function() record("tick1") end)`,
	})
	wait(t, "the source runs", func() bool { ok, _ := src.running(); return ok })
	require.True(t, src.send(subEvent(source.ActionUpdated, "a", 1)))
	wait(t, "v1 has a", func() bool { return g.count("v1 a") == 1 })

	renameOver(t, filepath.Join(th.dir, "s.lua"), `record("v2 loading"); gate()
rc.on("subscription", function(_, sub) record("v2", sub._id) end)`)
	wait(t, "the trial runs", func() bool { return g.count("v2 loading") == 1 })
	ticks := g.count("tick1")
	require.True(t, src.send(subEvent(source.ActionUpdated, "b", 1)))
	wait(t, "v1 has b during the trial", func() bool { return g.count("v1 b") == 1 })
	wait(t, "v1 ticks during the trial", func() bool { return g.count("tick1") >= ticks+3 })
	st, _ := th.status("s")
	assert.Equal(t, hashOf(`rc.on("subscription", function(_, sub) record("v1", sub._id) end)
rc.every("10ms", function() record("tick1") end)`), st.Hash, "v1 still runs")

	g.open()
	th.waitStatus("s", "v2 loaded", func(s ScriptStatus) bool { return len(s.Timers) == 0 && s.Hash != st.Hash })
	require.True(t, src.send(subEvent(source.ActionUpdated, "c", 1)))
	wait(t, "v2 has c", func() bool { return g.count("v2 c") == 1 })
	assert.Zero(t, g.count("v1 c"), "v1 is gone")
	assert.Zero(t, g.count("v2 b"), "b was v1's")
	assert.Equal(t, 1, g.count("v2 loading"), "one top level run")
}

// TestReloadTrialThatFailsKeepsRunning: an edit whose top level loops
// until the load timeout fails with its file:line, and the running
// version handled the events that came meanwhile and runs on; removing
// the file during a trial stops the script at once (the trial stopped).
func TestReloadTrialThatFailsKeepsRunning(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{LoadTimeout: 2 * time.Second}, g.env(), []source.Source{src}, map[string]string{
		"s.lua": `rc.on("subscription", function(_, sub) record("v1", sub._id) end)`,
	})
	wait(t, "the source runs", func() bool { ok, _ := src.running(); return ok })
	renameOver(t, filepath.Join(th.dir, "s.lua"), "record(\"looping\")\nwhile true do end\n")
	wait(t, "the trial runs", func() bool { return g.count("looping") == 1 })
	require.True(t, src.send(subEvent(source.ActionUpdated, "a", 1)))
	wait(t, "v1 has a during the trial", func() bool { return g.count("v1 a") == 1 })
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script load failed", "script", "s") == 1 }, "the failure")
	assert.Contains(t, th.logs.String(), "s.lua:2: stopped: the top level ran longer than the load timeout")
	require.True(t, src.send(subEvent(source.ActionUpdated, "b", 1)))
	wait(t, "v1 runs on", func() bool { return g.count("v1 b") == 1 })

	renameOver(t, filepath.Join(th.dir, "s.lua"), "record(\"looping again\")\nwhile true do end\n")
	wait(t, "the second trial runs", func() bool { return g.count("looping again") == 1 })
	require.NoError(t, os.Remove(filepath.Join(th.dir, "s.lua")))
	th.waitStatus("s", "stopped", func(s ScriptStatus) bool { return s.State == StateStopped })
	assert.Empty(t, th.h.Running(), "the trial was stopped with the script")
}

// wait polls cond until it holds, failing the test after waitFor.
func wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !waitUntil(waitFor, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// count is how many records equal r.
func (g *gatedEnv) count(r string) int {
	n := 0
	for _, x := range g.records() {
		if x == r {
			n++
		}
	}
	return n
}

// TestReloadTrialAtShutdown: a trial still running at the shutdown is
// given the grace as a handler is, then stopped: Run returns, and the new
// version never replaced the old one.
func TestReloadTrialAtShutdown(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	th := startHostEnv(t, Config{LoadTimeout: time.Minute, ShutdownTimeout: 200 * time.Millisecond}, g.env(), nil, map[string]string{
		"s.lua": `record("v1")`,
	})
	renameOver(t, filepath.Join(th.dir, "s.lua"), `record("v2 loading"); gate(); record("v2 loaded")`)
	wait(t, "the trial runs", func() bool { return g.count("v2 loading") == 1 })
	running := th.h.Running()
	require.Len(t, running, 1)
	assert.Equal(t, "load", running[0].Trigger)
	th.shutdown()
	assert.Zero(t, g.count("v2 loaded"), "stopped at the end of the grace")
	assert.Equal(t, 0, th.logs.count("script reloaded"), "never swapped in")
}

// TestModuleEditTrialKeepsTheRunningVersion: a module edit reloads its
// dependents through the same trial: while the module's new top level
// runs (it waits on a gate), the running version handles the events.
func TestModuleEditTrialKeepsTheRunningVersion(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{LoadTimeout: time.Minute}, g.env(), []source.Source{src}, map[string]string{
		"s.lua":     `local m = require("m"); rc.on("subscription", function(_, sub) record(m.v, sub._id) end)`,
		"lib/m.lua": `return {v = "m1"}`,
	})
	wait(t, "the source runs", func() bool { ok, _ := src.running(); return ok })
	writeFile(t, filepath.Join(th.dir, "lib", "m.lua"), `record("m2 loading"); gate(); return {v = "m2"}`)
	wait(t, "the trial runs", func() bool { return g.count("m2 loading") == 1 })
	require.True(t, src.send(subEvent(source.ActionUpdated, "a", 1)))
	wait(t, "the running version has a", func() bool { return g.count("m1 a") == 1 })
	g.open()
	th.logs.eventually(t, waitFor, func() bool { return th.logs.count("script reloaded", "script", "s") == 1 }, "the reload")
	require.True(t, src.send(subEvent(source.ActionUpdated, "b", 1)))
	wait(t, "the new version has b", func() bool { return g.count("m2 b") == 1 })
}

// TestReloadTrialSuperseded: an edit saved while the previous edit's top
// level still runs stops that trial and loads at once (a fix of a looping
// edit does not wait for the load timeout); a disable during a trial
// stops it too, and the new version never runs.
func TestReloadTrialSuperseded(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	src := newTestSource(source.KindSubscription)
	th := startHostEnv(t, Config{LoadTimeout: time.Hour}, g.env(), []source.Source{src}, map[string]string{
		"s.lua": `rc.on("subscription", function(_, sub) record("v1", sub._id) end)`,
	})
	wait(t, "the source runs", func() bool { ok, _ := src.running(); return ok })
	path := filepath.Join(th.dir, "s.lua")
	renameOver(t, path, `record("v2 loading"); gate(); record("v2 past the gate")`)
	wait(t, "the v2 trial", func() bool { return g.count("v2 loading") == 1 })
	v3 := `rc.on("subscription", function(_, sub) record("v3", sub._id) end)`
	renameOver(t, path, v3)
	th.waitStatus("s", "v3 loaded", func(s ScriptStatus) bool { return s.Hash == hashOf(v3) })
	require.True(t, src.send(subEvent(source.ActionUpdated, "a", 1)))
	wait(t, "v3 has a", func() bool { return g.count("v3 a") == 1 })

	renameOver(t, path, `record("v4 loading"); gate(); rc.on("subscription", function() record("v4") end)`)
	wait(t, "the v4 trial", func() bool { return g.count("v4 loading") == 1 })
	require.NoError(t, th.h.Disable("s"))
	th.waitStatus("s", "disabled", func(s ScriptStatus) bool { return s.State == StateDisabled })
	g.open()
	assert.Empty(t, th.h.Running(), "the trial was stopped")
	assert.Zero(t, g.count("v2 past the gate"), "v2 never went on")
	assert.Equal(t, 1, th.logs.count("script reloaded", "script", "s"), "only v3 was swapped in")
}

// TestReloadWaitOutcomes: a named reload that waits reports what became
// of each script: loaded, failed with the load's file:line (the running
// version going on), disabled, or still loading when its context ended;
// an unknown name reloads none (rclua reload once said "reloading" and
// exited 0 whatever happened).
func TestReloadWaitOutcomes(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{LoadTimeout: 2 * time.Second}, nil, map[string]string{
		"a.lua": "rc.log.info(\"a v1\")\n",
		"b.lua": "rc.log.info(\"b v1\")\n",
	})
	<-th.h.Loaded()
	ctx := context.Background()
	outs, err := th.h.ReloadWait(ctx, "a", "b.lua")
	require.NoError(t, err)
	require.Len(t, outs, 2)
	assert.Equal(t, ReloadOutcome{Script: "a", Loaded: true}, outs[0])
	assert.Equal(t, ReloadOutcome{Script: "b", Loaded: true}, outs[1])
	assert.Equal(t, 2, th.logs.count("a v1"), "its top level ran again before the answer")

	renameOver(t, filepath.Join(th.dir, "a.lua"), "rc.log.info(\"a v2\")\nlocal x = nil\nx.y = 1\n")
	outs, err = th.h.ReloadWait(ctx, "a")
	require.NoError(t, err)
	require.Len(t, outs, 1)
	assert.False(t, outs[0].Loaded)
	require.Error(t, outs[0].Err)
	assert.Contains(t, outs[0].Err.Error(), "a.lua:3:", "the load's own error")
	assert.Equal(t, StateRunning, statusOf(th.h, "a").State, "the running version goes on")

	require.NoError(t, th.h.Disable("b"))
	outs, err = th.h.ReloadWait(ctx, "b")
	require.NoError(t, err)
	assert.ErrorContains(t, outs[0].Err, "disabled")

	renameOver(t, filepath.Join(th.dir, "a.lua"), "while true do end\n")
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	outs, err = th.h.ReloadWait(short, "a")
	require.NoError(t, err)
	assert.ErrorIs(t, outs[0].Err, context.DeadlineExceeded, "a top level slower than the wait")

	_, err = th.h.ReloadWait(ctx, "nope")
	assert.ErrorIs(t, err, ErrUnknownScript)
}

// TestLoadRequestReplacedTakesTheNewerOutcome: a request a newer one
// replaced before it was taken finishes with the newer one's outcome,
// once that is known (a reload's waiter learns what became of the edit
// that took its place).
func TestLoadRequestReplacedTakesTheNewerOutcome(t *testing.T) {
	t.Parallel()
	var finished []string
	old := &loadRequest{done: func() { finished = append(finished, "old") }}
	mid := &loadRequest{replaced: []*loadRequest{old}, done: func() { finished = append(finished, "mid") }}
	newest := &loadRequest{replaced: []*loadRequest{mid}}
	assert.Empty(t, finished, "nothing finishes when replaced")
	newest.result, newest.err = loadFailed, errors.New("a.lua:2: boom")
	newest.finish()
	assert.Equal(t, []string{"old", "mid"}, finished)
	assert.Equal(t, loadFailed, old.result)
	assert.EqualError(t, old.err, "a.lua:2: boom")
	newest.finish()
	assert.Len(t, finished, 2, "finished once")
}

// TestReloadWaitTrialSuperseded: an edit saved while a reload's top level
// runs supersedes it (the trial is stopped), and the reload's waiter gets
// the edit's outcome, not "dropped": the newer content runs.
func TestReloadWaitTrialSuperseded(t *testing.T) {
	t.Parallel()
	g := newGatedEnv()
	var runs atomic.Int64
	e := g.env()
	gated := e.extra
	e.extra = func(L *lua.LState) {
		gated(L)
		L.SetGlobal("nth", L.NewFunction(func(L *lua.LState) int { L.Push(lua.LNumber(runs.Add(1))); return 1 }))
	}
	v1 := `local n = nth(); record("run " .. n); if n == 2 then gate() end`
	th := startHostEnv(t, Config{LoadTimeout: time.Hour}, e, nil, map[string]string{"s.lua": v1})
	<-th.h.Loaded()
	type result struct {
		outs []ReloadOutcome
		err  error
	}
	got := make(chan result, 1)
	go func() {
		outs, err := th.h.ReloadWait(context.Background(), "s")
		got <- result{outs, err}
	}()
	wait(t, "the reload's trial at the gate", func() bool { return g.count("run 2") == 1 })
	v2 := `local n = nth(); record("run " .. n); rc.log.info("v2 runs")`
	renameOver(t, filepath.Join(th.dir, "s.lua"), v2)
	var r result
	select {
	case r = <-got:
	case <-time.After(waitFor):
		t.Fatal("ReloadWait did not return")
	}
	require.NoError(t, r.err)
	require.Len(t, r.outs, 1)
	assert.True(t, r.outs[0].Loaded, "the edit that took the reload's place loaded: %v", r.outs[0].Err)
	assert.Equal(t, hashOf(v2), statusOf(th.h, "s").Hash)
	g.open()
}

// TestReloadWaitAfterTheActorEnded: a reload asked of a script whose
// actor has ended (the shutdown, its file removed) returns at once, not
// after the whole wait.
func TestReloadWaitAfterTheActorEnded(t *testing.T) {
	t.Parallel()
	th := startHost(t, Config{}, nil, map[string]string{"s.lua": "rc.log.info(\"s\")\n"})
	<-th.h.Loaded()
	a := th.actor("s.lua")
	a.drain(true) // as the actor's end does first
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	outs, err := th.h.ReloadWait(ctx, "s")
	require.NoError(t, err)
	require.Len(t, outs, 1)
	assert.False(t, outs[0].Loaded)
	assert.NotErrorIs(t, outs[0].Err, context.DeadlineExceeded)
	assert.ErrorContains(t, outs[0].Err, "not loaded")
}
