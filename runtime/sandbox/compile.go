package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
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
		compact(fn.Proto, MaxNesting+1)
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

// load is L.Load, with the rewrites of rewrite.go between parsing and
// compiling; its errors are L.Load's. Should the rewritten chunk not
// compile (its calls and locals took a function near one of Lua's limits
// past it: 200 locals, 255 registers), it is compiled without the ..
// rewrite, then as written, and reports that one's error if it has one.
func load(L *lua.LState, name string, content []byte) (*lua.LFunction, error) {
	var proto *lua.FunctionProto
	var err error
	concats := false
	for _, step := range []struct{ fix, concat bool }{{true, true}, {true, false}, {false, false}} {
		chunk, perr := parse.Parse(bytes.NewReader(content), name)
		if perr != nil {
			return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(perr.Error()), Cause: perr}
		}
		concats = false
		if step.fix {
			concats = rewriteChunk(chunk, step.concat)
		}
		if concats {
			chunk = wrapChunk(chunk)
		}
		if proto, err = compileChunk(chunk, name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, &lua.ApiError{Type: lua.ApiErrorSyntax, Object: lua.LString(err.Error()), Cause: err}
	}
	fn := L.NewFunctionFromProto(proto)
	if !concats {
		return fn, nil
	}
	// The wrapper returns the chunk, a closure over concat.
	L.Push(fn)
	L.Push(concatFunction(L))
	L.Call(1, 1)
	inner, _ := L.Get(-1).(*lua.LFunction)
	L.Pop(1)
	return inner, nil
}

// compileChunk is lua.Compile, with a panic of the compiler (it re-raises
// what is no compile error of its own) returned as an error.
func compileChunk(chunk []ast.Stmt, name string) (proto *lua.FunctionProto, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: the compiler failed: %v", name, r)
		}
	}()
	return lua.Compile(chunk, name)
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
