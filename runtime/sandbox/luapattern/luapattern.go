// Package luapattern implements Lua 5.1 string patterns (the language of
// string.find, string.match, string.gmatch and string.gsub, Lua 5.1
// reference manual §5.4.1) with a bounded cost: matching counts its steps
// and every CheckEvery steps asks the caller's Budget whether to go on, so
// a pattern that backtracks exponentially ends with the caller's error (a
// context deadline, typically) instead of hanging, and recursion is bounded
// so that no pattern can overflow the Go stack.
//
// Supported: single characters, '.', the classes %a %c %d %l %p %s %u %w
// %x %z and their upper-case complements (C locale, bytes), %-escapes of
// non-alphanumerics, sets [...] and [^...] with ranges and classes, the
// quantifiers * + - ?, the anchors ^ and $, captures including position
// captures (), back-references %1-%9, %bxy and the frontier %f[set] (as
// in Lua 5.1's undocumented and Lua 5.2's documented one). A pattern is a
// length-delimited byte string: a "\0" in it is an ordinary character.
//
// Malformed patterns are reported when the pattern is compiled, with Lua's
// messages, even where Lua 5.1 would only notice them if matching reached
// the faulty item.
package luapattern

import (
	"errors"
	"strings"
)

const (
	// MaxCaptures is the most captures a pattern may have (LUA_MAXCAPTURES).
	MaxCaptures = 32
	// MaxDepth bounds the nesting of the matcher's recursion (one level per
	// quantifier or capture item being tried): deeper patterns fail with
	// ErrTooComplex instead of overflowing the Go stack.
	MaxDepth = 10000
	// CheckEvery is how many matching steps run between two calls of a
	// Budget's Check.
	CheckEvery = 1024
)

// ErrTooComplex is returned when matching would recurse deeper than
// MaxDepth.
var ErrTooComplex = errors.New("pattern too complex")

// Budget carries the check that bounds the time spent matching. One Budget
// may serve several matches (the steps of a gsub or gmatch accumulate);
// it is not safe for concurrent use.
type Budget struct {
	// Check is called every CheckEvery steps; a non-nil error ends the
	// match with that error. A nil Check never stops a match.
	Check func() error
	steps int
}

// Capture is one capture of a match. Position captures, "()", have
// Position set and Start == End == the 0-based offset they captured.
type Capture struct {
	Start, End int
	Position   bool
}

// Match is a successful match: subject[Start:End] matched, with the
// pattern's captures in order (none if the pattern has no captures).
type Match struct {
	Start, End int
	Captures   []Capture
}

// Pattern is a compiled pattern. It is immutable and may be used by
// several goroutines at once.
type Pattern struct {
	items    []item
	anchored bool
	ncap     int
	// lit is the byte the first item needs when the pattern starts with a
	// plain character (used to skip ahead); -1 otherwise.
	lit int
}

// Anchored reports whether the pattern started with '^' and was compiled
// with anchoring allowed.
func (p *Pattern) Anchored() bool { return p.anchored }

type kind uint8

const (
	kSingle   kind = iota // one byte of set, with quantifier q
	kOpen                 // start capture n
	kPosition             // position capture n
	kClose                // end capture n
	kBackref              // %n: the text of capture n again
	kBalance              // %bxy
	kFrontier             // %f[set]
	kEnd                  // $ at the end of the pattern
)

type item struct {
	kind kind
	q    byte // 0, '*', '+', '-' or '?' for kSingle
	n    int  // capture index for kOpen, kPosition, kClose, kBackref
	x, y byte // %bxy
	set  *byteSet
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) union(o *byteSet) {
	for i := range s {
		s[i] |= o[i]
	}
}
func (s *byteSet) invert() {
	for i := range s {
		s[i] = ^s[i]
	}
}

// single returns the only member of s, or -1.
func (s *byteSet) single() int {
	found := -1
	for c := 0; c < 256; c++ {
		if s.has(byte(c)) {
			if found >= 0 {
				return -1
			}
			found = c
		}
	}
	return found
}

// classSet returns the set a %c escape stands for: a class for the class
// letters (complemented for upper case), else the character itself.
func classSet(c byte) byteSet {
	var s byteSet
	var in func(b byte) bool
	switch c | 0x20 {
	case 'a':
		in = isAlpha
	case 'c':
		in = func(b byte) bool { return b < 32 || b == 127 }
	case 'd':
		in = isDigit
	case 'l':
		in = func(b byte) bool { return b >= 'a' && b <= 'z' }
	case 'p':
		in = func(b byte) bool { return b > 32 && b < 127 && !isAlpha(b) && !isDigit(b) }
	case 's':
		in = func(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }
	case 'u':
		in = func(b byte) bool { return b >= 'A' && b <= 'Z' }
	case 'w':
		in = func(b byte) bool { return isAlpha(b) || isDigit(b) }
	case 'x':
		in = func(b byte) bool { return isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'f') }
	case 'z':
		in = func(b byte) bool { return b == 0 }
	default:
		s.add(c)
		return s
	}
	for b := 0; b < 256; b++ {
		if in(byte(b)) {
			s.add(byte(b))
		}
	}
	if c >= 'A' && c <= 'Z' {
		s.invert()
	}
	return s
}

func isAlpha(b byte) bool { return b|0x20 >= 'a' && b|0x20 <= 'z' }
func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// Compile parses pattern. With anchor, a leading '^' anchors the match at
// its starting position (string.find, match and gsub); without, it is an
// ordinary character (string.gmatch in Lua 5.1).
func Compile(pattern string, anchor bool) (*Pattern, error) {
	p := &Pattern{lit: -1}
	if anchor && strings.HasPrefix(pattern, "^") {
		p.anchored = true
		pattern = pattern[1:]
	}
	var open []int // indexes of the captures not closed yet
	var closed [MaxCaptures]bool
	for j := 0; j < len(pattern); {
		c := pattern[j]
		switch {
		case c == '(':
			if p.ncap == MaxCaptures {
				return nil, errors.New("too many captures")
			}
			if j+1 < len(pattern) && pattern[j+1] == ')' {
				p.items = append(p.items, item{kind: kPosition, n: p.ncap})
				closed[p.ncap] = true
				j += 2
			} else {
				p.items = append(p.items, item{kind: kOpen, n: p.ncap})
				open = append(open, p.ncap)
				j++
			}
			p.ncap++
			continue
		case c == ')':
			if len(open) == 0 {
				return nil, errors.New("invalid pattern capture")
			}
			n := open[len(open)-1]
			open = open[:len(open)-1]
			closed[n] = true
			p.items = append(p.items, item{kind: kClose, n: n})
			j++
			continue
		case c == '$' && j+1 == len(pattern):
			p.items = append(p.items, item{kind: kEnd})
			j++
			continue
		case c == '%' && j+1 < len(pattern):
			switch d := pattern[j+1]; {
			case d == 'b':
				if j+3 >= len(pattern) {
					return nil, errors.New("unbalanced pattern")
				}
				p.items = append(p.items, item{kind: kBalance, x: pattern[j+2], y: pattern[j+3]})
				j += 4
				continue
			case d == 'f':
				j += 2
				if j >= len(pattern) || pattern[j] != '[' {
					return nil, errors.New("missing '[' after '%f' in pattern")
				}
				set, next, err := parseSet(pattern, j)
				if err != nil {
					return nil, err
				}
				p.items = append(p.items, item{kind: kFrontier, set: set})
				j = next
				continue
			case isDigit(d):
				n := int(d - '1')
				if n < 0 || n >= p.ncap || !closed[n] {
					return nil, errors.New("invalid capture index")
				}
				p.items = append(p.items, item{kind: kBackref, n: n})
				j += 2
				continue
			}
		}
		// A single-character item, maybe quantified.
		var set *byteSet
		switch c {
		case '%':
			if j+1 == len(pattern) {
				return nil, errors.New("malformed pattern (ends with '%')")
			}
			s := classSet(pattern[j+1])
			set = &s
			j += 2
		case '[':
			s, next, err := parseSet(pattern, j)
			if err != nil {
				return nil, err
			}
			set = s
			j = next
		case '.':
			set = &byteSet{}
			set.invert()
			j++
		default:
			set = &byteSet{}
			set.add(c)
			j++
		}
		it := item{kind: kSingle, set: set}
		if j < len(pattern) && strings.IndexByte("*+-?", pattern[j]) >= 0 {
			it.q = pattern[j]
			j++
		}
		p.items = append(p.items, it)
	}
	if len(open) > 0 {
		return nil, errors.New("unfinished capture")
	}
	if len(p.items) > 0 && p.items[0].kind == kSingle && (p.items[0].q == 0 || p.items[0].q == '+') {
		p.lit = p.items[0].set.single()
	}
	return p, nil
}

// parseSet parses the set starting with the '[' at pattern[j] and returns
// it and the index after its ']'. The first character of the set (after a
// '^') is never its end, so "[]]" is the set of ']'; "%x" inside is an
// escape or class; "a-z" is a range when the '-' is not the set's last
// character.
func parseSet(pattern string, j int) (*byteSet, int, error) {
	start := j + 1
	neg := start < len(pattern) && pattern[start] == '^'
	if neg {
		start++
	}
	// Find the closing ']' (the first body character never closes).
	k := start
	for {
		if k >= len(pattern) {
			return nil, 0, errors.New("malformed pattern (missing ']')")
		}
		c := pattern[k]
		k++
		if c == '%' {
			if k >= len(pattern) {
				return nil, 0, errors.New("malformed pattern (missing ']')")
			}
			k++
		}
		if k < len(pattern) && pattern[k] == ']' {
			break
		}
	}
	end := k // index of the closing ']'
	body := pattern[start:end]
	at := func(i int) byte { // the byte at body[i]; the ']' just past it
		if i < len(body) {
			return body[i]
		}
		return ']'
	}
	set := &byteSet{}
	for i := 0; i < len(body); {
		switch {
		case body[i] == '%':
			s := classSet(at(i + 1))
			set.union(&s)
			i += 2
		case i+2 < len(body) && body[i+1] == '-':
			for c := int(body[i]); c <= int(body[i+2]); c++ {
				set.add(byte(c))
			}
			i += 3
		default:
			set.add(body[i])
			i++
		}
	}
	if neg {
		set.invert()
	}
	return set, end + 1, nil
}

// Find looks for the first match of p in subject starting at byte offset
// init (0 <= init <= len(subject)); an anchored pattern is only tried at
// init. The error is the Budget's or ErrTooComplex.
func (p *Pattern) Find(b *Budget, subject string, init int) (Match, bool, error) {
	m := matcher{p: p, src: subject, b: b}
	return m.find(init)
}

// MatchAt tries p at offset pos of subject only (whatever its anchoring),
// as string.gmatch and string.gsub do at each position.
func (p *Pattern) MatchAt(b *Budget, subject string, pos int) (Match, bool, error) {
	m := matcher{p: p, src: subject, b: b}
	return m.at(pos)
}

// abort carries an error out of the recursion.
type abort struct{ err error }

type capState struct {
	start, end int // end < 0: unfinished
	pos        bool
}

type matcher struct {
	p     *Pattern
	src   string
	b     *Budget
	depth int
	caps  [MaxCaptures]capState
}

func (m *matcher) find(init int) (res Match, ok bool, err error) {
	defer m.recover(&err)
	n := len(m.src)
	for s := init; s <= n; s++ {
		if m.p.lit >= 0 && !m.p.anchored {
			k := strings.IndexByte(m.src[s:], byte(m.p.lit))
			if k < 0 {
				return Match{}, false, nil
			}
			m.step(k)
			s += k
		}
		if e := m.try(s); e >= 0 {
			return m.result(s, e), true, nil
		}
		if m.p.anchored {
			break
		}
	}
	return Match{}, false, nil
}

func (m *matcher) at(pos int) (res Match, ok bool, err error) {
	defer m.recover(&err)
	if e := m.try(pos); e >= 0 {
		return m.result(pos, e), true, nil
	}
	return Match{}, false, nil
}

func (m *matcher) recover(err *error) {
	if v := recover(); v != nil {
		a, ok := v.(abort)
		if !ok {
			panic(v)
		}
		*err = a.err
	}
}

func (m *matcher) try(s int) int {
	m.depth = 0
	return m.match(s, 0)
}

func (m *matcher) result(s, e int) Match {
	res := Match{Start: s, End: e}
	if m.p.ncap > 0 {
		res.Captures = make([]Capture, m.p.ncap)
		for i := range res.Captures {
			c := m.caps[i]
			res.Captures[i] = Capture{Start: c.start, End: c.end, Position: c.pos}
		}
	}
	return res
}

// step counts k steps and calls the budget's check when due.
func (m *matcher) step(k int) {
	b := m.b
	if b == nil {
		return
	}
	before := b.steps
	b.steps += k
	if b.Check != nil && b.steps/CheckEvery != before/CheckEvery {
		if err := b.Check(); err != nil {
			panic(abort{err})
		}
	}
}

// deeper runs match(s, i) one recursion level down.
func (m *matcher) deeper(s, i int) int {
	m.depth++
	if m.depth > MaxDepth {
		panic(abort{ErrTooComplex})
	}
	e := m.match(s, i)
	m.depth--
	return e
}

// match matches items[i:] at s and returns the end of the match, or -1.
func (m *matcher) match(s, i int) int {
	items := m.p.items
	src := m.src
	for {
		m.step(1)
		if i == len(items) {
			return s
		}
		it := &items[i]
		switch it.kind {
		case kSingle:
			switch it.q {
			case 0:
				if s < len(src) && it.set.has(src[s]) {
					s++
					i++
					continue
				}
				return -1
			case '?':
				if s < len(src) && it.set.has(src[s]) {
					if e := m.deeper(s+1, i+1); e >= 0 {
						return e
					}
				}
				i++
				continue
			case '-':
				for {
					if e := m.deeper(s, i+1); e >= 0 {
						return e
					}
					if s < len(src) && it.set.has(src[s]) {
						s++
						continue
					}
					return -1
				}
			default: // '*', '+'
				k := 0
				for s+k < len(src) && it.set.has(src[s+k]) {
					k++
				}
				m.step(k)
				lo := 0
				if it.q == '+' {
					lo = 1
				}
				if i+1 == len(items) {
					if k >= lo {
						return s + k
					}
					return -1
				}
				for ; k >= lo; k-- {
					if e := m.deeper(s+k, i+1); e >= 0 {
						return e
					}
				}
				return -1
			}
		case kOpen, kPosition:
			m.caps[it.n] = capState{start: s, end: -1, pos: it.kind == kPosition}
			if it.kind == kPosition {
				m.caps[it.n].end = s
			}
			return m.deeper(s, i+1)
		case kClose:
			m.caps[it.n].end = s
			e := m.deeper(s, i+1)
			if e < 0 {
				m.caps[it.n].end = -1
			}
			return e
		case kEnd:
			if s == len(src) {
				return s
			}
			return -1
		case kBackref:
			c := m.caps[it.n]
			if c.pos {
				return -1
			}
			sub := src[c.start:c.end]
			m.step(len(sub))
			if !strings.HasPrefix(src[s:], sub) {
				return -1
			}
			s += len(sub)
			i++
		case kBalance:
			if s >= len(src) || src[s] != it.x {
				return -1
			}
			depth := 1
			k := s + 1
			for ; k < len(src); k++ {
				if c := src[k]; c == it.y {
					depth--
					if depth == 0 {
						break
					}
				} else if c == it.x {
					depth++
				}
			}
			m.step(k - s)
			if k >= len(src) {
				return -1
			}
			s = k + 1
			i++
		case kFrontier:
			var prev, cur byte
			if s > 0 {
				prev = src[s-1]
			}
			if s < len(src) {
				cur = src[s]
			}
			if it.set.has(prev) || !it.set.has(cur) {
				return -1
			}
			i++
		}
	}
}
