package luajson

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// MaxDecodeSize is the largest JSON input the decoder accepts (32 MiB, the
// client's default response bound).
const MaxDecodeSize = 32 << 20

// MaxDepth is the deepest nesting of arrays and objects the decoder and
// the encoder accept.
const MaxDepth = 200

// MaxDecodedSize bounds what one decode builds: the estimated size, in
// bytes, of the tables and values it makes (see the cost constants
// below), 10 times MaxDecodeSize (320 MiB). A realistic response costs 6
// to 8 bytes per byte of JSON, so any response the client accepts (up to
// MaxDecodeSize) fits; small containers cost far more ([[],[],...] 40
// bytes per input byte, [{"a":0},...] 80), and such input is refused once
// it has built this much, well before it reaches MaxDecodeSize. The
// bytes of decoded strings come on top: at most the input's size.
const MaxDecodedSize = 10 * MaxDecodeSize

// The estimated cost, in bytes, of what the decoder builds, measured on
// gopher-lua v1.1.2 (64-bit): a table (lua.LTable), a value in an array or
// object (its slot, and the box of a string or a large number), an object
// member beyond its value (its hash entry, key list entry and key index
// entry), and the hash part of a non-empty object.
const (
	tableCost  = 96
	valueCost  = 24
	memberCost = 120
	objectCost = 400
)

// checkEvery is how much of the estimate the decoder builds between two
// looks at the state's deadline: about 40,000 values.
const checkEvery = 1 << 20

// ErrTooLarge is returned for input larger than MaxDecodeSize.
var ErrTooLarge = errors.New("json: input larger than 32 MiB")

// LimitError is the error of a decode that would build more than its
// limit: MaxDecodedSize, or what SetMaxDecodedSize set.
type LimitError struct {
	Limit  int // bytes of the estimate
	Offset int // where in the input the decoder was
}

// Error returns "json: decoded value exceeds the limit of <n> bytes (...)
// at offset <n>".
func (e *LimitError) Error() string {
	return fmt.Sprintf("json: decoded value exceeds the limit of %d bytes (the estimated size of its tables and values) at offset %d",
		e.Limit, e.Offset)
}

// ErrNotObject is DecodeMember's error for input that is not a JSON object.
var ErrNotObject = errors.New("json: not an object")

// smallInts holds boxed lua.LNumber values 0..255, so that decoding the
// many small counters of a response allocates nothing for them. It is
// filled once and never written again.
var smallInts = func() (a [256]lua.LValue) {
	for i := range a {
		a[i] = lua.LNumber(i)
	}
	return a
}()

// plain marks the bytes a JSON string may hold without the slow path:
// printable ASCII other than '"' and '\\'.
var plain = func() (a [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		a[c] = c != '"' && c != '\\'
	}
	return a
}()

// Decode converts JSON text straight into Lua values in L: objects become
// tables with string keys, arrays become sequences (marked as arrays, so
// that an empty one encodes back as []), null becomes the null sentinel
// (see Null), numbers become lua.LNumber (float64: integers up to 2^53 are
// exact), and strings keep their bytes. Input that is not valid JSON, not
// valid UTF-8, nested deeper than MaxDepth or larger than MaxDecodeSize is
// an error (a *SyntaxError, or ErrTooLarge), and so is input that would
// build more than MaxDecodedSize (a *LimitError). When L has a
// context, the decoder looks at it as it goes, and stops with an error
// wrapping the context's once it is done. Long strings share s's memory.
func Decode(L *lua.LState, s string) (lua.LValue, error) {
	d, err := newDecoder(L, dataOf(L), s)
	if err != nil {
		return lua.LNil, err
	}
	v := d.value()
	return v, d.finish()
}

// DecodeBytes is Decode of b, which the caller hands over: b must not
// change afterwards, since decoded strings longer than 32 bytes may share
// its memory (a response body, read once and kept by nobody else). Built
// with the purego tag, b is copied first.
func DecodeBytes(L *lua.LState, b []byte) (lua.LValue, error) {
	return Decode(L, viewBytes(b))
}

// DecodeMember decodes b, handed over as for DecodeBytes, which must hold
// a JSON object, and returns the value of its member key (the last one
// when repeated; lua.LNil when absent) without building the outer table;
// the other members are checked and dropped. Input that is valid JSON but
// no object is ErrNotObject.
func DecodeMember(L *lua.LState, b []byte, key string) (lua.LValue, error) {
	d, err := newDecoder(L, dataOf(L), viewBytes(b))
	if err != nil {
		return lua.LNil, err
	}
	if d.i >= len(d.s) || d.s[d.i] != '{' {
		d.finish()
		return lua.LNil, ErrNotObject
	}
	var found lua.LValue = lua.LNil
	if d.enter() && d.members() {
		d.depth--
		for j, name := range d.names {
			if name == key {
				found = d.stack[j]
			}
		}
	}
	if err := d.finish(); err != nil {
		return lua.LNil, err
	}
	return found, nil
}

// newDecoder returns a decoder of s, positioned at its first value, using
// the buffers of sd; finish returns them. Input larger than MaxDecodeSize
// is refused here, for every entry point.
func newDecoder(L *lua.LState, sd *stateData, s string) (decoder, error) {
	if len(s) > MaxDecodeSize {
		return decoder{}, ErrTooLarge
	}
	sd.caches()
	d := decoder{L: L, sd: sd, s: s, stack: sd.stack[:0], names: sd.names[:0], buf: sd.buf[:0],
		ctx: L.Context(), next: min(checkEvery, sd.decodeLimit), limit: sd.decodeLimit}
	d.ws()
	return d, nil
}

// Buffers larger than these (entries, bytes) are dropped after a decode
// rather than kept by the state: one huge document must not pin its
// scratch space for the state's lifetime.
const (
	maxKeptEntries = 1 << 14
	maxKeptBuf     = 1 << 16
)

// finish checks that nothing but white space follows the top-level value,
// hands the (possibly grown) buffers back to the state data, cleared of
// references, and returns the decoding error, if any.
func (d *decoder) finish() error {
	if d.err == nil {
		d.ws()
		if d.i < len(d.s) {
			d.fail("unexpected data after the top-level value")
		}
	}
	if cap(d.stack) > maxKeptEntries || cap(d.names) > maxKeptEntries || cap(d.buf) > maxKeptBuf {
		d.sd.stack, d.sd.names, d.sd.buf = nil, nil, nil
		return d.err
	}
	clear(d.stack[:cap(d.stack)])
	clear(d.names[:cap(d.names)])
	d.sd.stack, d.sd.names, d.sd.buf = d.stack[:0], d.names[:0], d.buf[:0]
	return d.err
}

// spend adds n bytes to the estimate of what the decoder built; false,
// with d.err set, once that exceeds the limit or the state's context is
// done. It is on the hot path: one addition and one comparison until the
// next checkpoint.
func (d *decoder) spend(n int) bool {
	d.used += n
	return d.used <= d.next || d.checkpoint()
}

// checkpoint is spend's slow path, every checkEvery bytes and at the limit.
func (d *decoder) checkpoint() bool {
	if d.err != nil {
		return false
	}
	if d.used > d.limit {
		d.err = &LimitError{Limit: d.limit, Offset: d.i}
		return false
	}
	if d.ctx != nil {
		if err := d.ctx.Err(); err != nil {
			d.err = fmt.Errorf("json: decoding stopped at offset %d: %w", d.i, err)
			return false
		}
	}
	d.next = min(d.used+checkEvery, d.limit)
	return true
}

// decoder is a recursive-descent JSON parser building Lua values as it goes.
type decoder struct {
	L     *lua.LState
	sd    *stateData
	s     string
	i     int
	depth int
	err   error

	stack []lua.LValue // values of the arrays and objects being built
	names []string     // keys of the objects being built
	buf   []byte       // scratch for strings with escapes

	ctx   context.Context // the state's, or nil
	used  int             // estimated bytes built so far (see spend)
	next  int             // used's value at the next checkpoint
	limit int             // the most used may reach
}

// SyntaxError is a JSON decoding error with the byte offset it occurred at.
type SyntaxError struct {
	Offset int
	msg    string
}

// Error returns "json: <what> at offset <n>".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("json: %s at offset %d", e.msg, e.Offset)
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &SyntaxError{Offset: d.i, msg: msg}
	}
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) value() lua.LValue {
	if d.i >= len(d.s) {
		d.fail("unexpected end of input")
		return lua.LNil
	}
	switch c := d.s[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		d.i++
		s, ok := d.str()
		if !ok {
			return lua.LNil
		}
		return d.strValue(s)
	case 't':
		return d.literal("true", lua.LTrue)
	case 'f':
		return d.literal("false", lua.LFalse)
	case 'n':
		return d.literal("null", d.sd.null)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.number()
		}
		d.fail(fmt.Sprintf("invalid character %q looking for a value", c))
		return lua.LNil
	}
}

func (d *decoder) literal(word string, v lua.LValue) lua.LValue {
	if !strings.HasPrefix(d.s[d.i:], word) {
		d.fail("invalid literal")
		return lua.LNil
	}
	d.i += len(word)
	return v
}

func (d *decoder) enter() bool {
	d.depth++
	if d.depth > MaxDepth {
		d.fail(fmt.Sprintf("nesting deeper than %d", MaxDepth))
		return false
	}
	return d.spend(tableCost)
}

func (d *decoder) array() lua.LValue {
	if !d.enter() {
		return lua.LNil
	}
	d.i++ // '['
	base := len(d.stack)
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
	} else {
		for {
			v := d.value()
			if d.err != nil || !d.spend(valueCost) {
				return lua.LNil
			}
			d.stack = append(d.stack, v)
			d.ws()
			if d.i >= len(d.s) {
				d.fail("unexpected end of input in array")
				return lua.LNil
			}
			c := d.s[d.i]
			d.i++
			if c == ']' {
				break
			}
			if c != ',' {
				d.i--
				d.fail(fmt.Sprintf("invalid character %q after array element", c))
				return lua.LNil
			}
			d.ws()
		}
	}
	d.depth--
	items := d.stack[base:]
	tb := newArrayTable(d.L, items)
	tb.Metatable = d.sd.arrMeta
	clear(items)
	d.stack = d.stack[:base]
	return tb
}

func (d *decoder) object() lua.LValue {
	if !d.enter() {
		return lua.LNil
	}
	base, nb := len(d.stack), len(d.names)
	if !d.members() {
		return lua.LNil
	}
	d.depth--
	vals := d.stack[base:]
	if len(vals) == 0 {
		return d.L.CreateTable(0, 0) // {}: no key list, no preallocated parts
	}
	if !d.spend(objectCost) {
		return lua.LNil
	}
	names := d.names[nb:]
	ok, shared := d.objectKeys(names)
	tb := newObjectTable(d.L, ok, vals, shared)
	clear(vals)
	clear(names)
	d.stack = d.stack[:base]
	d.names = d.names[:nb]
	return tb
}

// members reads the members of the object whose '{' is at d.i, appending
// their names to d.names and their values to d.stack; false on an error.
func (d *decoder) members() bool {
	d.i++ // '{'
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return true
	}
	for {
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			d.fail("expected a string key")
			return false
		}
		d.i++
		k, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			d.fail("expected ':' after object key")
			return false
		}
		d.i++
		d.ws()
		v := d.value()
		if d.err != nil || !d.spend(valueCost+memberCost) {
			return false
		}
		d.names = append(d.names, k)
		d.stack = append(d.stack, v)
		d.ws()
		if d.i >= len(d.s) {
			d.fail("unexpected end of input in object")
			return false
		}
		c := d.s[d.i]
		d.i++
		if c == '}' {
			return true
		}
		if c != ',' {
			d.i--
			d.fail(fmt.Sprintf("invalid character %q after object value", c))
			return false
		}
		d.ws()
	}
}

// objectKeys returns the key list of an object whose members are names,
// and whether it is a cached template (shared) rather than the table's own.
// Objects with the same names in the same order share one template, found
// by a cache key made of the names (length-prefixed, so it is exact).
func (d *decoder) objectKeys(names []string) (ok *objectKeys, shared bool) {
	sd := d.sd
	if len(names) > maxShapeKeys {
		return newObjectKeys(names, d.key), false
	}
	ck := sd.shapeKey[:0]
	for _, name := range names {
		ck = binary.AppendUvarint(ck, uint64(len(name)))
		ck = append(ck, name...)
	}
	sd.shapeKey = ck
	if ok, found := sd.shapes[string(ck)]; found {
		return ok, true
	}
	ok = newObjectKeys(names, d.key)
	if len(ck) > maxShapeLen {
		return ok, false
	}
	if len(sd.shapes) >= maxShapes {
		clear(sd.shapes)
	}
	sd.shapes[string(ck)] = ok
	return ok, true
}

// key returns the interned copy of an object key, and that copy boxed.
func (d *decoder) key(k string) (string, lua.LValue) {
	if ik, ok := d.sd.keys[k]; ok {
		return string(ik.(lua.LString)), ik
	}
	k = strings.Clone(k) // do not pin the input
	bk := lua.LValue(lua.LString(k))
	if len(k) <= maxInternedKeyLen {
		if len(d.sd.keys) >= maxInternedKeys {
			clear(d.sd.keys)
		}
		d.sd.keys[k] = bk
	}
	return k, bk
}

// strValue boxes a string value. Short strings (ids, times, names: at
// most maxCopiedLen bytes) are copied, so that keeping one does not keep
// the whole input alive; the most common of them share one box (the vals
// cache). Longer strings are views into the input.
func (d *decoder) strValue(s string) lua.LValue {
	if len(s) > maxCopiedLen {
		return lua.LString(s)
	}
	if len(s) <= maxInternedLen {
		if v, ok := d.sd.vals[s]; ok {
			return v
		}
		if len(d.sd.vals) < maxInternedValues {
			s = strings.Clone(s) // the cache outlives the input: do not pin it
			v := lua.LValue(lua.LString(s))
			d.sd.vals[s] = v
			return v
		}
	}
	return d.boxShort(s)
}

// str reads a string whose opening quote has been consumed. Strings without
// escapes are substrings of the input.
func (d *decoder) str() (string, bool) {
	start := d.i
	s := d.s
	i := d.i
	for i < len(s) && plain[s[i]] {
		i++
	}
	if i < len(s) && s[i] == '"' {
		d.i = i + 1
		return s[start:i], true
	}
	// Slow path: non-ASCII (validated), escapes, or an error.
	escaped := false
	buf := d.buf[:0]
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			if !escaped {
				return s[start:i], true
			}
			buf = append(buf, s[start:i]...)
			d.buf = buf
			return string(buf), true
		case c == '\\':
			if !escaped {
				escaped = true
			}
			buf = append(buf, s[start:i]...)
			n, ok := d.escape(&buf, i)
			if !ok {
				return "", false
			}
			i += n
			start = i
		case c < 0x20:
			d.i = i
			d.fail("control character in string")
			return "", false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				d.i = i
				d.fail("invalid UTF-8 in string")
				return "", false
			}
			i += size
		}
	}
	d.i = i
	d.fail("unexpected end of input in string")
	return "", false
}

// escape decodes the escape sequence at s[i] ('\\') into buf and returns
// its length.
func (d *decoder) escape(buf *[]byte, i int) (int, bool) {
	s := d.s
	if i+1 >= len(s) {
		d.i = i
		d.fail("unexpected end of input in string escape")
		return 0, false
	}
	switch s[i+1] {
	case '"', '\\', '/':
		*buf = append(*buf, s[i+1])
	case 'b':
		*buf = append(*buf, '\b')
	case 'f':
		*buf = append(*buf, '\f')
	case 'n':
		*buf = append(*buf, '\n')
	case 'r':
		*buf = append(*buf, '\r')
	case 't':
		*buf = append(*buf, '\t')
	case 'u':
		r, ok := hex4(s, i+2)
		if !ok {
			d.i = i
			d.fail("invalid \\u escape")
			return 0, false
		}
		n := 6
		if utf16.IsSurrogate(r) {
			r2, ok := rune(-1), false
			if i+7 < len(s) && s[i+6] == '\\' && s[i+7] == 'u' {
				r2, ok = hex4(s, i+8)
			}
			if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
				r = dec
				n = 12
			} else {
				r = utf8.RuneError // a lone surrogate, as encoding/json does
			}
		}
		*buf = utf8.AppendRune(*buf, r)
		return n, true
	default:
		d.i = i
		d.fail("invalid escape in string")
		return 0, false
	}
	return 2, true
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a JSON number. Integers of up to 19 digits are converted
// directly (exact up to 2^53, correctly rounded beyond); others go through
// strconv.ParseFloat.
func (d *decoder) number() lua.LValue {
	s := d.s
	start := d.i
	i := d.i
	neg := false
	if s[i] == '-' {
		neg = true
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		d.i = i
		d.fail("invalid number")
		return lua.LNil
	}
	var u uint64
	digits := 0
	if s[i] == '0' {
		i++
		digits = 1
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			u = u*10 + uint64(s[i]-'0')
			i++
			digits++
		}
	}
	simple := digits <= 19
	if i < len(s) && s[i] == '.' {
		simple = false
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			d.fail("invalid number: no digits after '.'")
			return lua.LNil
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		simple = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			d.fail("invalid number: no digits in exponent")
			return lua.LNil
		}
	}
	d.i = i
	if simple {
		if !neg && u < uint64(len(smallInts)) {
			return smallInts[u]
		}
		f := float64(u)
		if neg {
			f = -f
		}
		return lua.LNumber(f)
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil || math.IsInf(f, 0) {
		d.i = start
		d.fail("number out of range")
		return lua.LNil
	}
	return lua.LNumber(f)
}
