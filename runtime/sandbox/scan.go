package sandbox

import (
	"bytes"
	"fmt"
)

// Limits on source that Compile (and load and loadstring at run time)
// checks with one linear scan before gopher-lua parses and compiles it.
// Compiling cannot be interrupted, its recursion overflows the Go stack on
// deeply nested source (a fatal error, not a panic), and some shapes
// compile in quadratic time; inside these limits every source compiles in
// well under a second (BenchmarkCompileAtLimits).
const (
	// MaxSourceBytes caps the size of a chunk.
	MaxSourceBytes = 256 << 10
	// MaxNesting caps nested brackets ( [ {, blocks (function, do, if,
	// repeat) and chains of unary operators (not, -, #), as Lua 5.1 caps
	// its syntax levels at 200.
	MaxNesting = 200
	// MaxExpressionOps caps the operators of one expression (binary and
	// unary operators, indexing, calls), counting the expressions it is
	// nested in, and the elseif branches of one if: gopher-lua builds each
	// as a tree as deep as it is long.
	MaxExpressionOps = 1000
	// MaxCompileWork caps an estimate, in steps, of the compiler's work
	// that grows faster than the source: searching a function's constant
	// table once per name, string and number (linear in the table),
	// folding arithmetic once per operator (linear in the expression),
	// resolving gotos once per label and block (linear in the gotos) and
	// elseif chains (linear in the chain).
	MaxCompileWork = 2 << 20
	// MaxResolveWork caps the compiler's name resolution, in local
	// variables searched: gopher-lua looks each name up in every local in
	// scope, of every enclosing function, one by one (about 5 ns each), so
	// many names under many locals compiled for seconds.
	MaxResolveWork = 12 << 20
)

// checkSource returns a *SyntaxError when src exceeds one of the limits,
// naming the line where it did. It never fails source that gopher-lua
// would compile and that stays inside them; malformed source may pass (the
// parser reports it).
func checkSource(name string, src []byte) error {
	if len(src) > MaxSourceBytes {
		line := bytes.Count(src[:MaxSourceBytes], []byte("\n")) + 1
		return &SyntaxError{Msg: fmt.Sprintf("%s:%d: source of %d bytes exceeds the limit of %d bytes", name, line, len(src), MaxSourceBytes)}
	}
	s := &scanner{src: src, line: 1}
	s.levels = []level{{kind: 'c'}}
	s.funcs = []*funcConsts{newFuncConsts()}
	if err := s.run(); err != "" {
		return &SyntaxError{Msg: fmt.Sprintf("%s:%d: %s", name, s.line, err)}
	}
	return nil
}

// level is one open bracket or block.
type level struct {
	kind  byte // ( [ { for brackets; f function; b do, if, repeat; c the chunk
	depth int  // nesting depth of this level (see MaxNesting)
	base  int  // operators of the enclosing expressions when it opened
	ops   int  // operators of the current expression at this level
	chain int  // elseif branches at this level (an if)
	// arithBase and arith are base and ops for arithmetic operators only.
	arithBase, arith int
	gotos            int  // gotos of the function when it opened
	locals           int  // local variables declared in this block so far
	params           bool // a function's parameter list
}

// funcConsts is what the scanner knows of one function's constant table:
// the position of each distinct name, string or number token.
type funcConsts struct {
	index map[string]int
	gotos int
}

func newFuncConsts() *funcConsts { return &funcConsts{index: map[string]int{}} }

// scanner walks a chunk token by token, tracking nesting, expression
// length and compile work.
type scanner struct {
	src    []byte
	pos    int
	line   int
	levels []level
	funcs  []*funcConsts
	// unary is the current run of unary operators; operand is whether
	// the last token ended an operand (a name, a literal, a closing
	// bracket, end).
	unary   int
	operand bool
	inLabel bool // between the two :: of a label
	work    int
	// Name resolution: the locals in scope, whether the names that come
	// are being declared (after local or for, up to = or in), whether the
	// next ( opens a parameter list, whether the last token was . or :
	// (a field name follows, not resolved), and the work so far.
	inScope   int
	declaring bool
	params    bool
	field     bool
	resolve   int
}

func (s *scanner) top() *level { return &s.levels[len(s.levels)-1] }

// path is the operator count of the current expression, enclosing
// expressions and elseif chains included.
func (s *scanner) path() int { t := s.top(); return t.base + t.chain + t.ops }

// charge adds n steps of compile work, why naming what they are.
func (s *scanner) charge(n int, why string) string {
	s.work += n
	if s.work > MaxCompileWork {
		return fmt.Sprintf("too much to compile in one chunk: %s (over %d steps); split big functions and tables", why, MaxCompileWork)
	}
	return ""
}

// op counts one operator of the current expression (arith: an arithmetic
// one, which gopher-lua folds again at every level of the expression).
func (s *scanner) op(arith bool) string {
	t := s.top()
	t.ops++
	if s.path() > MaxExpressionOps {
		return fmt.Sprintf("expression too long (more than %d operators, counting the expressions it is part of)", MaxExpressionOps)
	}
	if arith {
		t.arith++
		return s.charge(t.arithBase+t.arith, "arithmetic expressions too long")
	}
	return ""
}

// boundary starts a new expression at the current level.
func (s *scanner) boundary() {
	t := s.top()
	t.ops, t.arith = 0, 0
	s.unary = 0
}

// push opens a bracket or block.
func (s *scanner) push(kind byte) string {
	t := s.top()
	depth := t.depth + s.unary + 1
	if depth > MaxNesting {
		return fmt.Sprintf("too deeply nested (more than %d levels of brackets, blocks and unary operators)", MaxNesting)
	}
	fc := s.funcs[len(s.funcs)-1]
	if kind == 'f' {
		fc = newFuncConsts()
		s.funcs = append(s.funcs, fc)
	}
	s.levels = append(s.levels, level{kind: kind, depth: depth, base: s.path() + 1, arithBase: t.arithBase + t.arith, gotos: fc.gotos})
	s.unary = 0
	s.operand = false
	return ""
}

// pop closes the innermost bracket or block: its last expression counts
// as part of the enclosing one (a parenthesised expression is, in
// gopher-lua's tree).
func (s *scanner) pop() string {
	if len(s.levels) == 1 {
		return "" // unbalanced: the parser reports it
	}
	c := s.levels[len(s.levels)-1]
	s.levels = s.levels[:len(s.levels)-1]
	s.inScope -= c.locals
	fc := s.funcs[len(s.funcs)-1]
	if c.kind == 'f' {
		s.funcs = s.funcs[:len(s.funcs)-1]
	} else if c.kind == 'b' && fc.gotos > c.gotos {
		if err := s.charge(fc.gotos-c.gotos, "too many gotos"); err != "" {
			return err
		}
	}
	t := s.top()
	t.ops += c.ops + 1
	t.arith += c.arith
	s.unary = 0
	s.operand = true
	if s.path() > MaxExpressionOps {
		return fmt.Sprintf("expression too long (more than %d operators, counting the expressions it is part of)", MaxExpressionOps)
	}
	return ""
}

// constant counts one name, string or number token: gopher-lua searches
// the function's constant table for it from the start. One step of that
// search costs a quarter of the other steps (measured: 4,000 distinct
// strings in one table compile in about 0.12 s), so a data table of a few
// thousand entries stays legal.
func (s *scanner) constant(key string) string {
	fc := s.funcs[len(s.funcs)-1]
	i, ok := fc.index[key]
	if !ok {
		i = len(fc.index)
		fc.index[key] = i
	}
	return s.charge((i+4)/constantStepsPerStep, "too many distinct names and constants in one function")
}

// constantStepsPerStep is how many steps of the constant search make one
// step of MaxCompileWork.
const constantStepsPerStep = 4

// operandStart notes a token that starts an operand: after another
// operand it starts a new statement (f() g(), x = 1 y = 2).
func (s *scanner) operandStart() {
	if s.operand {
		s.boundary()
	}
	s.unary = 0
}

// newline consumes a line break at pos (\n, \r, \r\n or \n\r, as
// gopher-lua counts them) and counts the line.
func (s *scanner) newline() {
	c := s.src[s.pos]
	s.pos++
	if s.pos < len(s.src) && (s.src[s.pos] == '\n' || s.src[s.pos] == '\r') && s.src[s.pos] != c {
		s.pos++
	}
	s.line++
}

// skipTo moves past the first occurrence of end at or after pos, counting
// lines (to the end of the source when there is none).
func (s *scanner) skipTo(end []byte) {
	for s.pos < len(s.src) {
		if bytes.HasPrefix(s.src[s.pos:], end) {
			s.pos += len(end)
			return
		}
		if c := s.src[s.pos]; c == '\n' || c == '\r' {
			s.newline()
		} else {
			s.pos++
		}
	}
}

// longBracket reports whether a long bracket [==[ opens at pos and
// returns its closing ]==].
func (s *scanner) longBracket() ([]byte, bool) {
	p := s.pos + 1
	for p < len(s.src) && s.src[p] == '=' {
		p++
	}
	if p >= len(s.src) || s.src[p] != '[' {
		return nil, false
	}
	close := append([]byte{']'}, bytes.Repeat([]byte("="), p-s.pos-1)...)
	s.pos = p + 1
	return append(close, ']'), true
}

// quoted skips a string in quote q starting at pos (its opening quote) and
// returns its text, escapes unprocessed.
func (s *scanner) quoted(q byte) string {
	s.pos++
	start := s.pos
	for s.pos < len(s.src) {
		switch c := s.src[s.pos]; c {
		case q:
			s.pos++
			return string(s.src[start : s.pos-1])
		case '\\':
			s.pos++
			if s.pos < len(s.src) && (s.src[s.pos] == '\n' || s.src[s.pos] == '\r') {
				s.newline()
			} else {
				s.pos++
			}
		case '\n', '\r':
			return string(s.src[start:s.pos]) // unterminated: the parser reports it
		default:
			s.pos++
		}
	}
	return string(s.src[start:])
}

func isNameStart(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isHex(c byte) bool       { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// number skips a number at pos as gopher-lua's lexer reads it.
func (s *scanner) number() string {
	start := s.pos
	if s.src[s.pos] == '0' && s.pos+1 < len(s.src) && (s.src[s.pos+1] == 'x' || s.src[s.pos+1] == 'X') {
		s.pos += 2
		for s.pos < len(s.src) && isHex(s.src[s.pos]) {
			s.pos++
		}
		return string(s.src[start:s.pos])
	}
	digits := func() {
		for s.pos < len(s.src) && isDigit(s.src[s.pos]) {
			s.pos++
		}
	}
	digits()
	if s.pos < len(s.src) && s.src[s.pos] == '.' {
		s.pos++
		digits()
	}
	if s.pos < len(s.src) && (s.src[s.pos] == 'e' || s.src[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.src) && (s.src[s.pos] == '+' || s.src[s.pos] == '-') {
			s.pos++
		}
		digits()
	}
	return string(s.src[start:s.pos])
}

// run scans the whole chunk; it returns the message of the first limit
// crossed, or "".
func (s *scanner) run() string {
	for s.pos < len(s.src) {
		if err := s.token(); err != "" {
			return err
		}
	}
	return ""
}

// token scans one token (or white space, or a comment) at pos.
func (s *scanner) token() string {
	src := s.src
	c := src[s.pos]
	switch {
	case c == '\n' || c == '\r':
		s.newline()
		return ""
	case c == ' ' || c == '\t':
		s.pos++
		return ""
	case isNameStart(c):
		start := s.pos
		for s.pos < len(src) && (isNameStart(src[s.pos]) || isDigit(src[s.pos])) {
			s.pos++
		}
		return s.word(string(src[start:s.pos]))
	case isDigit(c) || c == '.' && s.pos+1 < len(src) && isDigit(src[s.pos+1]):
		s.operandStart()
		err := s.constant("#" + s.number())
		s.operand = true
		return err
	case c == '"' || c == '\'':
		call := s.operand // f "x" calls f
		str := s.quoted(c)
		return s.stringToken(str, call)
	case c == '[':
		if end, ok := s.longBracket(); ok {
			call := s.operand
			start := s.pos
			s.skipTo(end)
			return s.stringToken(string(src[start:max(start, s.pos-len(end))]), call)
		}
		s.pos++
		return s.push('[')
	case c == '-' && s.pos+1 < len(src) && src[s.pos+1] == '-':
		s.pos += 2
		if s.pos < len(src) && src[s.pos] == '[' {
			if end, ok := s.longBracket(); ok {
				s.skipTo(end)
				return ""
			}
		}
		for s.pos < len(src) && src[s.pos] != '\n' && src[s.pos] != '\r' {
			s.pos++
		}
		return ""
	}
	s.pos++
	two := func(next byte) bool {
		if s.pos < len(src) && src[s.pos] == next {
			s.pos++
			return true
		}
		return false
	}
	field := false
	defer func() { s.field = field }()
	switch c {
	case '(':
		params := s.params
		s.params = false
		err := s.push(c)
		s.top().params = params
		return err
	case '{':
		return s.push(c)
	case ')', ']', '}':
		return s.pop()
	case '+', '*', '/', '%', '^':
		s.operand = false
		return s.op(true)
	case '-':
		if s.operand {
			s.operand = false
			return s.op(true)
		}
		return s.unaryOp(true)
	case '#':
		return s.unaryOp(false)
	case '.':
		if two('.') {
			if two('.') { // ... is an operand
				s.operandStart()
				s.operand = true
				return ""
			}
		}
		s.operand = false
		field = true
		return s.op(false)
	case ':':
		if two(':') { // ::label::
			return s.label()
		}
		s.operand = false
		field = true
		return s.op(false)
	case '=':
		s.operand = false
		if two('=') {
			return s.op(false)
		}
		s.declaring = false
		s.boundary()
		return ""
	case '<', '>', '~':
		two('=')
		s.operand = false
		return s.op(false)
	case ',', ';':
		s.operand = false
		s.boundary()
		return ""
	}
	return "" // not Lua: the parser reports it
}

// unaryOp counts a unary operator: it nests what follows one level deeper.
func (s *scanner) unaryOp(arith bool) string {
	if s.operand {
		s.boundary() // not, # after an operand start a statement (malformed)
	}
	s.operand = false
	s.unary++
	if s.top().depth+s.unary > MaxNesting {
		return fmt.Sprintf("too deeply nested (more than %d levels of brackets, blocks and unary operators)", MaxNesting)
	}
	return s.op(arith)
}

// stringToken counts a string literal (call: right after an operand,
// which makes it a call argument).
func (s *scanner) stringToken(str string, call bool) string {
	if call {
		if err := s.op(false); err != "" {
			return err
		}
	} else {
		s.operandStart()
	}
	s.operand = true
	return s.constant("'" + str)
}

// label counts a ::label:: (its name follows as a name token): gopher-lua
// looks through the function's gotos for each.
func (s *scanner) label() string {
	s.operand = false
	s.boundary()
	if s.inLabel = !s.inLabel; !s.inLabel {
		return "" // the closing ::
	}
	return s.charge(s.funcs[len(s.funcs)-1].gotos, "too many goto labels")
}

// word scans a keyword or a name.
func (s *scanner) word(w string) string {
	switch w {
	case "and", "or":
		s.operand = false
		return s.op(false)
	case "not":
		return s.unaryOp(false)
	case "nil", "true", "false":
		s.operandStart()
		s.operand = true
		return ""
	case "function":
		s.operandStart()
		s.params = true
		return s.push('f')
	case "do", "if", "repeat":
		s.boundary()
		return s.push('b')
	case "end":
		// A function literal ends an operand of the enclosing expression;
		// other blocks end a statement.
		fn := s.top().kind == 'f'
		err := s.pop()
		if !fn {
			s.boundary()
		}
		return err
	case "until":
		err := s.pop()
		s.boundary()
		s.operand = false
		return err
	case "elseif":
		s.boundary()
		s.operand = false
		t := s.top()
		t.chain++
		if s.path() > MaxExpressionOps {
			return fmt.Sprintf("if statement too long (more than %d elseif branches and operators, counting the expressions it is part of)", MaxExpressionOps)
		}
		return s.charge(t.chain, "elseif chains too long")
	case "goto":
		s.boundary()
		s.operand = false
		s.funcs[len(s.funcs)-1].gotos++
		return ""
	case "local", "for":
		s.boundary()
		s.operand = false
		s.declaring = true
		return ""
	case "return", "break", "then", "else", "in", "while":
		s.boundary()
		s.operand = false
		s.declaring = false
		return ""
	}
	return s.name(w)
}

// name counts a name: a local declared (after local or for, or in a
// parameter list), a field (after . or :), or a name the compiler
// resolves by searching every local in scope.
func (s *scanner) name(w string) string {
	field := s.field
	s.field = false
	if s.declaring && s.operand {
		s.declaring = false // local x  y = 1: a new statement
	}
	s.operandStart()
	s.operand = true
	switch t := s.top(); {
	case t.params && len(s.levels) > 1:
		s.levels[len(s.levels)-2].locals++ // in scope in the function's body
		s.inScope++
	case s.declaring:
		t.locals++
		s.inScope++
	case !field:
		s.resolve += s.inScope
		if s.resolve > MaxResolveWork {
			return fmt.Sprintf("too much to compile in one chunk: too many names under too many local variables (over %d lookups); split big functions", MaxResolveWork)
		}
	}
	return s.constant(w)
}
