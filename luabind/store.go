package luabind

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/luabind/luajson"
	"github.com/rclua/rclua/runtime/sandbox"
)

// Store is what rc.store needs: the script's own namespace of a
// persistent store (runtime/store.Namespace has these methods). Values are
// JSON texts; a returned slice is the caller's.
type Store interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	// Update calls fn with key's value (nil when absent) and stores what
	// it returns (nil deletes), keeping the key's expiry, with no other
	// write to the namespace in between.
	Update(ctx context.Context, key string, fn func(old []byte) ([]byte, error)) error
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// storeError is a failed rc.store call: err.message is the store's, and
// error_type is the store's own when it has one ("limit"), else "timeout"
// or "canceled" for the call's context, else "store".
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func (e *storeError) ErrorType() string {
	var typed interface{ ErrorType() string }
	switch {
	case errors.As(e.err, &typed):
		return typed.ErrorType()
	case errors.Is(e.err, luajson.ErrEncodedTooLarge):
		return "limit" // far past the store's value bound, refused while encoding
	case errors.Is(e.err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(e.err, context.Canceled):
		return "canceled"
	case errors.Is(e.err, errUnavailable):
		return "unavailable"
	}
	return "store"
}

// errNotNumber is rc.store.incr's error for a value that is no number.
type errNotNumber struct{ key string }

func (e errNotNumber) Error() string {
	return fmt.Sprintf("rc.store.incr: the value of %q is not a number", e.key)
}
func (e errNotNumber) ErrorType() string { return "type" }

// storeTable is rc.store.
func (b *binding) storeTable(L *lua.LState) *lua.LTable {
	return namespace(L, "rc.store",
		field{"get", b.storeGet},
		field{"set", b.storeSet},
		field{"delete", b.storeDelete},
		field{"incr", b.storeIncr},
		field{"update", b.storeUpdate},
		field{"keys", b.storeKeys},
	)
}

// storeFail returns nil, err for a failed store call.
func (b *binding) storeFail(L *lua.LState, err error) int {
	return b.fail(L, &storeError{err})
}

// storeKey checks argument 1, the key, and that fn may run: a write
// inside an rc.store.update function would wait for the update's own lock.
func (b *binding) storeKey(L *lua.LState, fn string, write bool) string {
	key, ok := L.Get(1).(lua.LString)
	if !ok {
		argError(L, 1, fn, "key: string expected, got "+typeName(L.Get(1)))
	}
	if key == "" {
		argError(L, 1, fn, "the key must not be empty")
	}
	if write && b.inUpdate {
		L.RaiseError("%s cannot be called inside an rc.store.update function (return the new value instead)", fn)
	}
	return string(key)
}

// encodeValue converts argument n to JSON for fn: a value JSON cannot hold
// (a function, userdata, a cycle, NaN, mixed keys) raises; too large a
// value or a context that ended is returned as the error.
func encodeValue(L *lua.LState, n int, fn string, v lua.LValue) ([]byte, error) {
	raw, err := luajson.Encode(ctxOf(L), v)
	var ee *luajson.EncodeError
	if errors.As(err, &ee) {
		argError(L, n, fn, "cannot store the value: "+err.Error())
	}
	if errors.Is(err, luajson.ErrEncodedTooLarge) {
		err = fmt.Errorf("%s: the value is more than %d bytes of JSON, far more than the store's value limit: %w", fn, luajson.MaxEncodeSize, err)
	}
	return raw, err
}

// storeGet is
//
//	rc.store.get(key) -> value | nil | nil, err
func (b *binding) storeGet(L *lua.LState) int {
	key := b.storeKey(L, "rc.store.get", false)
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	raw, ok, err := b.m.Store.Get(ctxOf(L), key)
	if err != nil {
		return b.storeFail(L, err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	v, err := luajson.DecodeBytes(L, raw)
	if err != nil {
		return b.storeFail(L, fmt.Errorf("rc.store.get: the value of %q: %w", key, err))
	}
	L.Push(v)
	return 1
}

// storeSet is
//
//	rc.store.set(key, value [, {ttl = "1h" | seconds}]) -> true | nil, err
//
// A nil value deletes the key.
func (b *binding) storeSet(L *lua.LState) int {
	const fn = "rc.store.set"
	key := b.storeKey(L, fn, true)
	v := L.Get(2)
	var ttl time.Duration
	if opts := optTable(L, 3, fn, "options"); opts != nil {
		eachOption(L, 3, fn, opts, func(k string, v lua.LValue) {
			switch k {
			case "ttl":
				ttl = checkTTL(L, 3, fn, v)
			default:
				unknownOption(L, 3, fn, k)
			}
		})
	}
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	var err error
	if v == lua.LNil {
		err = b.m.Store.Delete(ctxOf(L), key)
	} else {
		var raw []byte
		if raw, err = encodeValue(L, 2, fn, v); err == nil {
			err = b.m.Store.Set(ctxOf(L), key, raw, ttl)
		}
	}
	if err != nil {
		return b.storeFail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// ParseTTL converts the ttl option of rc.store.set ("1h", seconds; see
// ParseDuration): more than zero and at most MaxDuration.
func ParseTTL(v lua.LValue) (time.Duration, error) {
	d, err := ParseDuration(v, "ttl")
	if err == nil && d <= 0 {
		err = fmt.Errorf("ttl %v is out of range: more than 0, at most 100 years", d)
	}
	return d, err
}

// checkTTL is ParseTTL for argument n of fn, raising its error.
func checkTTL(L *lua.LState, n int, fn string, v lua.LValue) time.Duration {
	d, err := ParseTTL(v)
	if err != nil {
		argError(L, n, fn, err.Error())
	}
	return d
}

// storeDelete is
//
//	rc.store.delete(key) -> true | nil, err
func (b *binding) storeDelete(L *lua.LState) int {
	key := b.storeKey(L, "rc.store.delete", true)
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	if err := b.m.Store.Delete(ctxOf(L), key); err != nil {
		return b.storeFail(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// storeIncr is
//
//	rc.store.incr(key [, n]) -> new | nil, err
//
// It adds n (default 1) to key's number (0 when absent), keeping its
// expiry.
func (b *binding) storeIncr(L *lua.LState) int {
	const fn = "rc.store.incr"
	key := b.storeKey(L, fn, true)
	n := 1.0
	switch v := L.Get(2).(type) {
	case *lua.LNilType:
	case lua.LNumber:
		n = float64(v)
		if math.IsNaN(n) || math.IsInf(n, 0) {
			argError(L, 2, fn, fmt.Sprintf("n must be a finite number, not %v", v))
		}
	default:
		argError(L, 2, fn, "number expected, got "+typeName(v))
	}
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	var sum float64
	err := b.m.Store.Update(ctxOf(L), key, func(old []byte) ([]byte, error) {
		cur := 0.0
		if old != nil {
			// A stored value is valid JSON: ParseFloat accepts it
			// exactly when it is a number.
			f, err := strconv.ParseFloat(string(old), 64)
			if err != nil {
				return nil, errNotNumber{key}
			}
			cur = f
		}
		sum = cur + n
		if math.IsInf(sum, 0) {
			return nil, fmt.Errorf("rc.store.incr: %v + %v overflows", cur, n)
		}
		return luajson.Encode(ctxOf(L), lua.LNumber(sum))
	})
	if err != nil {
		return b.storeFail(L, err)
	}
	L.Push(lua.LNumber(sum))
	return 1
}

// storeUpdate is
//
//	rc.store.update(key, fn) -> new | nil, err
//
// fn(old) returns key's new value (nil deletes it); old is nil when the key
// is absent. No other write to the script's store happens between the read
// and the write. fn runs under the handler's deadline; an error it raises
// (or the deadline) is raised again by update, and nothing is written. fn
// may not yield, nor call rc.store's writes.
func (b *binding) storeUpdate(L *lua.LState) int {
	const fn = "rc.store.update"
	key := b.storeKey(L, fn, true)
	f := checkFunction(L, 2, fn)
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	var (
		result lua.LValue = lua.LNil
		raised error      // fn's error (or a value it returned that JSON cannot hold), raised after the update
	)
	b.inUpdate = true
	err := b.storeUpdateTx(L, key, func(old []byte) ([]byte, error) {
		var oldV lua.LValue = lua.LNil
		if old != nil {
			v, err := luajson.DecodeBytes(L, old)
			if err != nil {
				return nil, fmt.Errorf("rc.store.update: the value of %q: %w", key, err)
			}
			oldV = v
		}
		L.Push(f)
		L.Push(oldV)
		if err := sandbox.PCall(L, 1, 1); err != nil {
			raised = err
			return nil, err
		}
		result = L.Get(-1)
		L.Pop(1)
		if result == lua.LNil {
			return nil, nil
		}
		raw, err := luajson.Encode(ctxOf(L), result)
		var ee *luajson.EncodeError
		if errors.As(err, &ee) {
			raised = err
		}
		return raw, err
	})
	if raised != nil {
		var ae *lua.ApiError
		if errors.As(raised, &ae) {
			L.Error(ae.Object, 0) // fn's own error, as fn raised it
		}
		argError(L, 2, fn, "cannot store the value fn returned: "+raised.Error())
	}
	if err != nil {
		return b.storeFail(L, err)
	}
	L.Push(result)
	return 1
}

// storeUpdateTx is Store.Update, with b.inUpdate cleared however it ends.
func (b *binding) storeUpdateTx(L *lua.LState, key string, fn func([]byte) ([]byte, error)) error {
	defer func() { b.inUpdate = false }()
	return b.m.Store.Update(ctxOf(L), key, fn)
}

// storeKeys is
//
//	rc.store.keys([prefix]) -> {key, ...} | nil, err
//
// The live keys starting with prefix, sorted (byte order), as an array.
func (b *binding) storeKeys(L *lua.LState) int {
	const fn = "rc.store.keys"
	prefix := ""
	if v := L.Get(1); v != lua.LNil {
		prefix = checkArgString(L, 1, fn)
	}
	if b.m.Store == nil {
		return b.storeFail(L, errUnavailable)
	}
	keys, err := b.m.Store.Keys(ctxOf(L), prefix)
	if err != nil {
		return b.storeFail(L, err)
	}
	tb := L.CreateTable(len(keys), 0)
	for _, k := range keys {
		tb.Append(lua.LString(k))
	}
	_ = luajson.MarkArray(L, tb) // a new table has no metatable
	L.Push(tb)
	return 1
}
