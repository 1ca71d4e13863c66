package luabind

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/rc"
	"github.com/rclua/rclua/rc/rctest"
)

// BenchmarkGetEndToEndFloor is BenchmarkGetEndToEnd's floor, in the same
// run: the same request with plain net/http and encoding/json into maps.
//
//	go test -run='^$' -bench=GetEndToEnd -benchmem -count=5 ./luabind/
func BenchmarkGetEndToEndFloor(b *testing.B) {
	s := rctest.NewServer(rctest.WithSubscriptions(5000))
	defer s.Close()
	hc := &http.Client{}
	b.ReportAllocs()
	for b.Loop() {
		req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/subscriptions.get", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("X-User-Id", rctest.BotUserID)
		req.Header.Set("X-Auth-Token", rctest.BotToken)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var out struct {
			Update  []map[string]any `json:"update"`
			Remove  []map[string]any `json:"remove"`
			Success bool             `json:"success"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(out.Update) < 5000 {
			b.Fatalf("status %d, %d subscriptions, %v", resp.StatusCode, len(out.Update), err)
		}
	}
}

// BenchmarkGetLoopHeap runs a Lua loop of 20 rc.subscriptions.get() of
// 5,000 subscriptions over HTTP and reports the peak heap (sampled every
// millisecond), the heap with one result alive, the body's size, and how
// many bodies the peak is above the live result ("over-live-bodies", the
// figure issue 14 bounds by 2). The body is rctest's, served canned by a
// plain HTTP server (with its length), so that the heap measured is the
// client's alone, as in a daemon whose server is elsewhere. In "global"
// each result is assigned to a global, so the previous one is alive during
// each call; in "local" it is a local of the loop's body.
//
//	go test -run='^$' -bench=GetLoopHeap -count=5 ./luabind/
func BenchmarkGetLoopHeap(b *testing.B) {
	b.Run("global", func(b *testing.B) {
		benchGetLoopHeap(b, `for i = 1, 20 do
			result = assert(rc.subscriptions.get())
			assert(#result.update >= 5000)
		end`)
	})
	local := `for i = 1, 20 do
		local r = assert(rc.subscriptions.get())
		assert(#r.update >= 5000)
		if i == 20 then result = r end
	end`
	b.Run("local", func(b *testing.B) { benchGetLoopHeap(b, local) })
	// "held" is "local" in a process holding 256 MB of pointers elsewhere
	// (other scripts' state): a GC there costs far more than a decode, and
	// the one before a large decode must not run (its sec/op stays near
	// "local"'s; its over-live-bodies are the pacer's).
	b.Run("held", func(b *testing.B) {
		held := make([]*[15]int64, 2<<20)
		for i := range held {
			held[i] = new([15]int64)
		}
		benchGetLoopHeap(b, local)
		goruntime.KeepAlive(held)
	})
}

// benchGetLoopHeap is BenchmarkGetLoopHeap of loop, which must leave one
// result in the global result.
func benchGetLoopHeap(b *testing.B, loop string) {
	body := cannedBody(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	c, err := rc.New(srv.URL, rc.WithToken(rctest.BotUserID, rctest.BotToken))
	if err != nil {
		b.Fatal(err)
	}
	L := lua.NewState()
	defer L.Close()
	FromClient(c, zerolog.Nop()).Open(L, nil)
	var peak, live uint64
	for b.Loop() {
		L.SetGlobal("result", lua.LNil)
		settleHeap()
		stop := samplePeakHeap()
		if err := L.DoString(loop); err != nil {
			b.Fatal(err)
		}
		peak = stop()
		live = settleHeap() // one result alive (the global)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
	b.ReportMetric(float64(live)/(1<<20), "live-MB")
	b.ReportMetric(float64(len(body))/(1<<20), "body-MB")
	b.ReportMetric(float64(peak-min(peak, live))/float64(len(body)), "over-live-bodies")
}

// cannedBody returns the subscriptions.get body of an rctest server with
// 5,000 subscriptions.
func cannedBody(b *testing.B) []byte {
	s := rctest.NewServer(rctest.WithSubscriptions(5000))
	defer s.Close()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/api/v1/subscriptions.get", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-User-Id", rctest.BotUserID)
	req.Header.Set("X-Auth-Token", rctest.BotToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	return raw
}

// settleHeap collects garbage twice and returns the live heap, in bytes.
func settleHeap() uint64 {
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// samplePeakHeap samples the bytes of heap objects (live and not yet
// swept) every millisecond until the returned function is called, which
// ends the sampler and returns the highest sample.
func samplePeakHeap() func() uint64 {
	var (
		wg   sync.WaitGroup
		peak uint64
		done = make(chan struct{})
	)
	read := func() uint64 {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return max(peak, read())
	}
}
