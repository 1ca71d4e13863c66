package luabind

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"runtime/metrics"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/rc"
)

// Malformed responses: errorTable reports them as error_type "decode".
var (
	errNotObject = errors.New("response is not a JSON object")
	errNoMember  = errors.New("response lacks the member")
)

// fail returns nil, err to Lua. When err is the call's own context ending
// during a request, it raises instead, naming the request (never its
// query): the call stops there anyway (the VM raises at its next
// instruction), and the stop can then say what it waited for.
func (b *binding) fail(L *lua.LState, err error) int {
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		if method, endpoint, ok := rc.RequestOf(err); ok {
			L.RaiseError("%v (waiting for %s %s)", ctx.Err(), method, endpoint)
		}
	}
	L.Push(lua.LNil)
	L.Push(b.errorTable(L, err))
	return 2
}

// pushObject decodes a response body that must be a JSON object, drops its
// "success" key and pushes it.
func (b *binding) pushObject(L *lua.LState, endpoint string, body []byte) int {
	v, err := b.decodeResponse(L, endpoint, body)
	if err != nil {
		return b.fail(L, err)
	}
	tb, ok := v.(*lua.LTable)
	if !ok || luajson.IsArray(tb) {
		return b.fail(L, fmt.Errorf("luabind: %s: %w", endpoint, errNotObject))
	}
	tb.RawSetString("success", lua.LNil)
	L.Push(tb)
	return 1
}

// pushMember decodes body and pushes its member key, which must be a JSON
// object. When optional (get_one), an absent or null member pushes a single
// nil; otherwise it is a malformed response: nil, err (error_type
// "decode").
func (b *binding) pushMember(L *lua.LState, endpoint string, body []byte, key string, optional bool) int {
	v, err := luajson.DecodeMember(L, body, key)
	if errors.Is(err, luajson.ErrNotObject) {
		err = errNotObject
	}
	if err != nil {
		return b.fail(L, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err))
	}
	if v == lua.LNil || luajson.IsNull(v) {
		if optional {
			L.Push(lua.LNil)
			return 1
		}
		return b.fail(L, fmt.Errorf("luabind: %s: %w %q", endpoint, errNoMember, key))
	}
	if tb, ok := v.(*lua.LTable); !ok || luajson.IsArray(tb) {
		return b.fail(L, fmt.Errorf("luabind: %s: %w: member %q is %s", endpoint, errNotObject, key, jsonKind(v)))
	}
	L.Push(v)
	return 1
}

// pushBody decodes any JSON body and pushes it.
func (b *binding) pushBody(L *lua.LState, endpoint string, body []byte) int {
	v, err := b.decodeResponse(L, endpoint, body)
	if err != nil {
		return b.fail(L, err)
	}
	L.Push(v)
	return 1
}

// decodeResponse decodes a response body of endpoint, handed over by the
// client, wrapping a failure with the endpoint; a large one after
// collecting the garbage when that pays (see largeDecodes).
func (b *binding) decodeResponse(L *lua.LState, endpoint string, body []byte) (lua.LValue, error) {
	if len(body) < largeBody {
		return decodeBody(L, endpoint, body)
	}
	before := b.large.before(len(body))
	v, err := decodeBody(L, endpoint, body)
	b.large.after(before)
	return v, err
}

// decodeBody decodes a response body of endpoint, handed over by the
// client, wrapping a failure with the endpoint.
func decodeBody(L *lua.LState, endpoint string, body []byte) (lua.LValue, error) {
	v, err := luajson.DecodeBytes(L, body)
	if err != nil {
		return lua.LNil, fmt.Errorf("luabind: %s: decoding the response: %w", endpoint, err)
	}
	return v, nil
}

// jsonKind names the JSON kind a decoded value came from.
func jsonKind(v lua.LValue) string {
	switch v := v.(type) {
	case *lua.LTable:
		if luajson.IsArray(v) {
			return "an array"
		}
		return "an object"
	case lua.LString:
		return "a string"
	case lua.LNumber:
		return "a number"
	case lua.LBool:
		return "a boolean"
	}
	return "null"
}

// largeBody is the size from which a response body is decoded only after
// collecting the heap's garbage, when there is much of it. A decoded
// response takes about 7 times its body, so a script calling
// rc.subscriptions.get() of thousands of rooms in a loop would otherwise
// keep its dead previous results until the pacer's next cycle: the heap
// peaked about 9 bodies over the live one instead of 1
// (BenchmarkGetLoopHeap/local). Responses this large are rare: a get of
// about 1,500 subscriptions, a long history.
const largeBody = 1 << 20

// largeDecodes is what a state remembers of its last large decode, to
// decide whether the next one collects the garbage first: the GC cycles
// completed when it ended, and the bytes allocated while it ran (about
// its result).
type largeDecodes struct {
	cycles uint64
	added  uint64
}

// heapStats is what the decision reads of the heap, without stopping the
// world.
type heapStats struct {
	objects uint64 // heap objects, live or not yet freed
	live    uint64 // the live heap at the last GC
	cycles  uint64 // GCs completed
	allocs  uint64 // bytes allocated since the process started
}

func readHeap() (heapStats, bool) {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/allocs:bytes"},
	}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			return heapStats{}, false
		}
	}
	return heapStats{s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()}, true
}

// shouldCollect is the decision: the garbage is at least the body and
// half the live heap. The garbage is what the heap holds beyond the live
// heap of the last GC, plus the previous large decode's result unless a
// GC that began after it ended has completed (the GC running when it
// ended, if any, saw that result live, while the script may have dropped
// it since). A GC costs in proportion to the
// live heap; with that much garbage the pacer (GOGC=100) would run one
// within about as much allocation again, so collecting at most doubles
// the rate of GCs, and in a daemon whose scripts hold far more than a
// result it does not run.
func (d *largeDecodes) shouldCollect(body uint64, h heapStats) bool {
	var garbage uint64
	if h.objects > h.live {
		garbage = h.objects - h.live
	}
	if h.cycles < d.cycles+2 {
		garbage += d.added
	}
	return garbage >= body && garbage >= h.live/2
}

// before runs a GC first if shouldCollect says so, and returns the heap
// before the decode of a body of n bytes.
func (d *largeDecodes) before(n int) heapStats {
	h, ok := readHeap()
	if ok && d.shouldCollect(uint64(n), h) {
		goruntime.GC()
		h, ok = readHeap()
	}
	if !ok {
		return heapStats{}
	}
	return h
}

// after records the decode that began with before's heap.
func (d *largeDecodes) after(before heapStats) {
	h, ok := readHeap()
	if !ok || before.allocs == 0 {
		return
	}
	d.cycles, d.added = h.cycles, h.allocs-before.allocs
}
