package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// SyntaxError is a script that does not compile. Its message is
// "name:line: message", as Lua prints errors.
type SyntaxError struct {
	Msg string
}

// Error returns "name:line: message".
func (e *SyntaxError) Error() string { return e.Msg }

// Compile compiles content into a function of L, named name in error
// messages and tracebacks (the script's file name). A syntax error is a
// *SyntaxError: "name:line: message near 'token'", or "... at end of file".
//
// Content beyond the source limits (MaxSourceBytes, MaxNesting,
// MaxExpressionOps, MaxCompileWork) is refused before gopher-lua sees it,
// with a *SyntaxError naming the line where a limit was crossed.
func Compile(L *lua.LState, name string, content []byte) (*lua.LFunction, error) {
	if err := checkSource(name, content); err != nil {
		return nil, err
	}
	fn, err := load(L, name, content)
	if err == nil {
		compact(fn.Proto, MaxNesting+1) // again for a wrapped chunk: cheap, and idempotent
		return fn, nil
	}
	var perr *parse.Error
	var aerr *lua.ApiError
	if errors.As(err, &aerr) && aerr.Cause != nil {
		errors.As(aerr.Cause, &perr)
	}
	if perr != nil {
		line := perr.Pos.Line
		if line <= 0 {
			line = bytes.Count(content, []byte("\n")) + 1
			return nil, &SyntaxError{Msg: fmt.Sprintf("%s:%d: %s at end of file", name, line, perr.Message)}
		}
		return nil, &SyntaxError{Msg: fmt.Sprintf("%s:%d: %s near '%s'", name, line, perr.Message, perr.Token)}
	}
	if aerr != nil && aerr.Cause != nil {
		return nil, &SyntaxError{Msg: fmt.Sprintf("%s: %s", name, strings.TrimSpace(aerr.Cause.Error()))}
	}
	return nil, &SyntaxError{Msg: fmt.Sprintf("%s: %s", name, strings.TrimSpace(err.Error()))}
}

// load is L.Load, with multiple assignments fixed (fixAssignments)
// between parsing and compiling; its errors are L.Load's.
func load(L *lua.LState, name string, content []byte) (*lua.LFunction, error) {
	chunk, err := parse.Parse(bytes.NewReader(content), name)
	if err != nil {
		return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(err.Error()), Cause: err}
	}
	concats := fixAssignments(chunk)
	if concats {
		chunk = wrapChunk(chunk)
	}
	proto, err := lua.Compile(chunk, name)
	if err != nil {
		// The rewrite's locals, registers or upvalue took a function near
		// one of Lua's limits past it (200 locals, 255 registers): compile
		// it as written (with gopher-lua's bugs), and report its own error
		// if it has one.
		if chunk, perr := parse.Parse(bytes.NewReader(content), name); perr == nil {
			concats = false
			proto, err = lua.Compile(chunk, name)
		}
	}
	if err != nil {
		return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(err.Error()), Cause: err}
	}
	fn := L.NewFunctionFromProto(proto)
	if !concats {
		return fn, nil
	}
	// The wrapper returns the chunk, a closure over numtext.
	compact(proto, MaxNesting+2)
	L.Push(fn)
	L.Push(numtextFunction(L))
	L.Call(1, 1)
	inner, _ := L.Get(-1).(*lua.LFunction)
	L.Pop(1)
	return inner, nil
}

// compact gives the slices of p and of the functions it defines, down to
// depth levels, their exact size: gopher-lua's compiler leaves every
// function's code and line table in buffers of 1,024 entries (12 KiB),
// which a loaded script would keep for its lifetime. Nothing writes to a
// prototype after compilation, so the copies are all that is kept.
func compact(p *lua.FunctionProto, depth int) {
	if p == nil || depth == 0 {
		return
	}
	p.Code = slices.Clone(p.Code)
	p.Constants = slices.Clone(p.Constants)
	p.FunctionPrototypes = slices.Clone(p.FunctionPrototypes)
	p.DbgSourcePositions = slices.Clone(p.DbgSourcePositions)
	p.DbgLocals = slices.Clone(p.DbgLocals)
	p.DbgCalls = slices.Clone(p.DbgCalls)
	p.DbgUpvalues = slices.Clone(p.DbgUpvalues)
	for _, child := range p.FunctionPrototypes {
		compact(child, depth-1)
	}
}
