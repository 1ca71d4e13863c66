package luajson

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// EncodeError is an error of Encode, naming where in the value it
// occurred (a path such as `attachments[1].fields`).
type EncodeError struct {
	Path string // the whole path, each key clipped (Clip)
	Msg  string

	elems []string // Path's elements, innermost first
}

// Error returns "json: <path>: <what>", or "json: <what>" at the top level.
// A path of more than 5 elements shows its first 2 and last 3 around the
// number left out: "json: a.a ... (195 more) ... a.a.a: nesting deeper
// than 200". Path keeps the whole of it.
func (e *EncodeError) Error() string {
	if e.Path == "" {
		return "json: " + e.Msg
	}
	return "json: " + e.shownPath() + ": " + e.Msg
}

// shownPath is Path, or its ends when it has more than shownHead +
// shownTail elements.
func (e *EncodeError) shownPath() string {
	const shownHead, shownTail = 2, 3
	n := len(e.elems)
	if n <= shownHead+shownTail {
		return e.Path
	}
	var head, tail string
	for i := n - 1; i >= n-shownHead; i-- {
		head = joinPath(head, e.elems[i])
	}
	for i := shownTail - 1; i >= 0; i-- {
		tail = joinPath(tail, e.elems[i])
	}
	return fmt.Sprintf("%s ... (%d more) ... %s", head, n-shownHead-shownTail, tail)
}

// joinPath appends elem to path: after a dot unless elem is an index or
// quoted key, or path is empty.
func joinPath(path, elem string) string {
	if path == "" || elem[0] == '[' {
		return path + elem
	}
	return path + "." + elem
}

// MaxEncodeSize is the longest JSON text Encode makes: 16 MiB, the bound
// runtime/sandbox.MaxStringBytes puts on every string the Lua library
// builds (the same value, kept here since luabind cannot import runtime).
const MaxEncodeSize = 16 << 20

// ErrEncodedTooLarge is the error of an Encode whose text would be longer
// than MaxEncodeSize: a huge table, or a small one sharing subtables many
// times over (t = {t, t} forty times is 2^40 leaves).
var ErrEncodedTooLarge = fmt.Errorf("json: encoded text exceeds the limit of %d bytes", MaxEncodeSize)

// encodeCheckEvery is how many array items and object members the encoder
// writes between two looks at ctx.
const encodeCheckEvery = 1 << 12

// Encode converts a Lua value to JSON text. A table whose keys are
// 1..n is an array; a table whose keys are all strings is an object, in the
// table's own key order; an empty table is {} unless it carries the array
// mark (MarkArray, or decoded from []), then it is []. The null sentinel
// (of any state) and nil are null. It is an error to encode a table mixing
// integer and string keys or with other keys (naming the key), a sparse
// array, NaN or ±Inf, a string that is not valid UTF-8, a cycle, nesting
// deeper than MaxDepth, or a function, thread, channel or other userdata
// (an *EncodeError), and to make text longer than MaxEncodeSize
// (ErrEncodedTooLarge). Encode looks at ctx as it goes (a script's state's
// context: the call's deadline) and stops with an error wrapping ctx's
// once it is done.
func Encode(ctx context.Context, v lua.LValue) ([]byte, error) {
	e := encoder{ctx: ctx, buf: make([]byte, 0, 256), steps: encodeCheckEvery}
	if err := e.value(v); err != nil {
		return nil, err
	}
	if len(e.buf) > MaxEncodeSize {
		return nil, ErrEncodedTooLarge
	}
	return e.buf, nil
}

type encoder struct {
	ctx   context.Context
	buf   []byte
	path  []*lua.LTable // tables being encoded, for cycle detection
	steps int           // items and members left before the next look at ctx
}

// step is called before each array item and object member: it stops the
// encoding once the text exceeds MaxEncodeSize or, every encodeCheckEvery
// steps, once ctx is done. Every item and member writes at least one
// byte, so the work is bounded by the limit.
func (e *encoder) step() error {
	if len(e.buf) > MaxEncodeSize {
		return ErrEncodedTooLarge
	}
	if e.steps--; e.steps > 0 {
		return nil
	}
	e.steps = encodeCheckEvery
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("json: encoding stopped: %w", err)
	}
	return nil
}

// pathErr prefixes err's path with elem while the error unwinds.
func pathErr(err error, elem string) error {
	if ee, ok := err.(*EncodeError); ok {
		if ee.Path == "" || ee.Path[0] == '[' {
			ee.Path = elem + ee.Path
		} else {
			ee.Path = elem + "." + ee.Path
		}
		ee.elems = append(ee.elems, elem)
	}
	return err
}

func (e *encoder) value(v lua.LValue) error {
	switch v := v.(type) {
	case lua.LString:
		return e.str(string(v))
	case lua.LNumber:
		return e.number(float64(v))
	case lua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
		return nil
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
		return nil
	case *lua.LTable:
		return e.table(v)
	case *lua.LUserData:
		if _, ok := v.Value.(nullMarker); ok {
			e.buf = append(e.buf, "null"...)
			return nil
		}
	}
	return &EncodeError{Msg: "cannot encode a " + v.Type().String()}
}

func (e *encoder) number(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return &EncodeError{Msg: fmt.Sprintf("cannot encode %v", f)}
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		e.buf = strconv.AppendInt(e.buf, int64(f), 10)
		return nil
	}
	// As encoding/json: exponent only for very small or large magnitudes.
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(e.buf)
	e.buf = strconv.AppendFloat(e.buf, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		b := e.buf[n:]
		if m := len(b); m >= 4 && b[m-4] == 'e' && b[m-3] == '-' && b[m-2] == '0' {
			b[m-2] = b[m-1]
			e.buf = e.buf[:len(e.buf)-1]
		}
	}
	return nil
}

const hexDigits = "0123456789abcdef"

func (e *encoder) str(s string) error {
	if len(e.buf)+len(s) > MaxEncodeSize {
		return ErrEncodedTooLarge
	}
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			e.buf = append(e.buf, s[start:i]...)
			switch c {
			case '"', '\\':
				e.buf = append(e.buf, '\\', c)
			case '\n':
				e.buf = append(e.buf, '\\', 'n')
			case '\r':
				e.buf = append(e.buf, '\\', 'r')
			case '\t':
				e.buf = append(e.buf, '\\', 't')
			default:
				e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			if len(e.buf) > MaxEncodeSize { // escapes make up to 6 bytes of 1
				return ErrEncodedTooLarge
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return &EncodeError{Msg: fmt.Sprintf("string is not valid UTF-8 (byte %d)", i)}
		}
		i += size
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
	return nil
}

func (e *encoder) table(tb *lua.LTable) error {
	for _, p := range e.path {
		if p == tb {
			return &EncodeError{Msg: "cycle: a table contains itself"}
		}
	}
	if len(e.path) >= MaxDepth {
		return &EncodeError{Msg: fmt.Sprintf("nesting deeper than %d", MaxDepth)}
	}
	e.path = append(e.path, tb)
	defer func() { e.path = e.path[:len(e.path)-1] }()

	// Classify the keys.
	var nInt, nStr, maxInt int
	var firstStr string
	var bad lua.LValue
	for k, _ := tb.Next(lua.LNil); k != lua.LNil; k, _ = tb.Next(k) {
		switch k := k.(type) {
		case lua.LString:
			if nStr == 0 {
				firstStr = string(k)
			}
			nStr++
		case lua.LNumber:
			f := float64(k)
			if f >= 1 && f == math.Trunc(f) && f <= math.MaxInt32 {
				nInt++
				maxInt = max(maxInt, int(f))
			} else if bad == nil {
				bad = k
			}
		default:
			if bad == nil {
				bad = k
			}
		}
	}
	switch {
	case bad != nil:
		return &EncodeError{Msg: fmt.Sprintf("key %s (a %s) is not a string or array index", keyString(bad), bad.Type())}
	case nInt > 0 && nStr > 0:
		return &EncodeError{Msg: fmt.Sprintf("table mixes array items and string key %q", Clip(firstStr))}
	case nStr > 0 && IsArray(tb):
		return &EncodeError{Msg: fmt.Sprintf("table marked as an array has string key %q", Clip(firstStr))}
	case nInt > 0 && maxInt != nInt:
		return &EncodeError{Msg: fmt.Sprintf("sparse array: key %d with only %d items", maxInt, nInt)}
	}

	if nStr > 0 {
		e.buf = append(e.buf, '{')
		first := true
		for k, v := tb.Next(lua.LNil); k != lua.LNil; k, v = tb.Next(k) {
			if err := e.step(); err != nil {
				return err
			}
			if !first {
				e.buf = append(e.buf, ',')
			}
			first = false
			ks := string(k.(lua.LString))
			if err := e.str(ks); err != nil {
				return pathErr(err, "key "+strconv.Quote(Clip(ks)))
			}
			e.buf = append(e.buf, ':')
			if err := e.value(v); err != nil {
				return pathErr(err, pathKey(ks))
			}
		}
		e.buf = append(e.buf, '}')
		return nil
	}
	if nInt == 0 && !IsArray(tb) {
		e.buf = append(e.buf, '{', '}')
		return nil
	}
	e.buf = append(e.buf, '[')
	for i := 1; i <= nInt; i++ {
		if err := e.step(); err != nil {
			return err
		}
		if i > 1 {
			e.buf = append(e.buf, ',')
		}
		if err := e.value(tb.RawGetInt(i)); err != nil {
			return pathErr(err, "["+strconv.Itoa(i)+"]")
		}
	}
	e.buf = append(e.buf, ']')
	return nil
}

func keyString(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok {
		return strconv.Quote(Clip(string(s)))
	}
	return k.String()
}

// maxShown is how many bytes of a string from a script an error message
// shows (Clip).
const maxShown = 64

// Clip returns s, or its first 64 bytes (whole characters) and "..." when
// longer: the form in which an error message shows a key or value a
// script gave, so that a huge key cannot make a huge message (a path of
// 200 such keys, one per level).
func Clip(s string) string {
	if len(s) <= maxShown {
		return s
	}
	n := maxShown
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// pathKey renders an object key as a path element: name or ["odd key"].
func pathKey(k string) string {
	k = Clip(k)
	if k != "" && strings.IndexFunc(k, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0 {
		return k
	}
	return "[" + strconv.Quote(k) + "]"
}
