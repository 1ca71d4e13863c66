package sandbox

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Bounds of the tracebacks Call takes.
const (
	// TracebackFrames is the most frames a traceback lists; deeper stacks
	// keep their innermost frames and their outermost one.
	TracebackFrames = 20
	// TracebackBytes caps a traceback's length.
	TracebackBytes = 4 << 10
)

// Failure is a Lua error caught by Call.
type Failure struct {
	// Value is the error value as raised (a string, a table, nil...).
	Value lua.LValue
	// Where is the position of the innermost Lua frame when the error
	// was raised ("name:line:"), or "" when no Lua frame was running.
	Where string
	// Traceback is the Lua stack at the error, at most TracebackFrames
	// frames and TracebackBytes bytes.
	Traceback string
}

// Call calls the function below the nargs arguments on L's stack in
// protected mode, leaving nret results, like L.PCall(nargs, nret, nil), but
// with a bounded traceback: gopher-lua's own traceback has one line per
// tail call, so an endless tail call stopped by its deadline built one of
// gigabytes. A Go panic in a function the call reaches is caught too; its
// text becomes the error value.
func Call(L *lua.LState, nargs, nret int) *Failure {
	c := callsOf(L)
	err := c.pcall(L, nargs, nret, c.failureHandler(L))
	if err == nil {
		return nil
	}
	if aerr, ok := err.(*lua.ApiError); ok {
		if ud, ok := aerr.Object.(*lua.LUserData); ok {
			if f, ok := ud.Value.(*Failure); ok {
				return f
			}
		}
	}
	// The handler itself failed: cannot happen, but say what did.
	return &Failure{Value: lua.LString(err.Error())}
}

// failureHandler is L's error handler for Call, made once per state (Call
// is on every handler's path): it describes the failure while the stack
// is still there and returns it, as a userdata, for the error value.
func (c *calls) failureHandler(L *lua.LState) *lua.LFunction {
	if c.handler != nil {
		return c.handler
	}
	c.handler = L.NewFunction(func(L *lua.LState) int {
		c.unwind(L)
		f := &Failure{Value: L.Get(1)}
		f.Where, f.Traceback = traceback(L)
		ud := L.NewUserData()
		ud.Value = f
		L.SetTop(0)
		L.Push(ud)
		return 1
	})
	return c.handler
}

// traceback describes L's stack from the innermost frame: the position of
// the innermost Lua frame and a bounded "stack traceback:" text. A frame
// entered by tail calls is followed by "(tail calls)": gopher-lua counts
// them but keeps no frames for them.
func traceback(L *lua.LState) (where, tb string) {
	bottom, ok := L.GetStack(-1)
	if !ok {
		return "", ""
	}
	var lines []string
	skipped := false
	// Level 0 is the handler running this.
	for level := 1; ; level++ {
		d, ok := L.GetStack(level)
		if !ok {
			break
		}
		last := *d == *bottom
		if _, err := L.GetInfo("Sln", d, lua.LNil); err != nil {
			break
		}
		if where == "" && d.What != "G" && d.CurrentLine > 0 {
			where = fmt.Sprintf("%s:%d:", d.Source, d.CurrentLine)
		}
		if len(lines) < TracebackFrames-1 || last {
			lines = append(lines, frameLine(d))
		} else if !skipped {
			lines = append(lines, "\t...")
			skipped = true
		}
		if last || level > CallStackSize+TracebackFrames {
			break
		}
	}
	var b strings.Builder
	b.WriteString("stack traceback:")
	for _, line := range lines {
		if b.Len()+1+len(line) > TracebackBytes {
			b.WriteString("\n\t...")
			break
		}
		b.WriteString("\n")
		b.WriteString(line)
	}
	return where, b.String()
}

// frameLine is one traceback line, as Lua 5.1 writes them.
//
// gopher-lua calls the outermost frame "main" whatever runs there: a
// chunk (defined at line 0), a handler the host calls (a function defined
// at its line), or a Go function (no source), and names each "main
// chunk"; a chunk that load made and a function called (What "Lua") is
// a main chunk too. Here a chunk is the main chunk wherever it runs.
func frameLine(d *lua.Debug) string {
	goFn := d.What == "G" || d.What == "main" && d.Source == ""
	pos := "[Go]"
	if !goFn {
		pos = d.Source
		if d.CurrentLine > 0 {
			pos = fmt.Sprintf("%s:%d", d.Source, d.CurrentLine)
		}
	}
	var in string
	switch {
	case !goFn && d.LineDefined == 0: // a chunk, wherever it runs (load's too)
		in = "main chunk"
	case d.What == "main" && goFn: // gopher-lua names every outermost frame "main chunk"
		in = "?"
	case d.What == "main":
		in = fmt.Sprintf("function <%s:%d>", d.Source, d.LineDefined)
	case d.Name != "" && (d.Name[0] == '<' || d.Name[0] == '('):
		in = "function " + d.Name
	case d.Name != "" && d.Name != "?":
		in = fmt.Sprintf("function '%s'", d.Name)
	case goFn:
		in = "?"
	default:
		in = fmt.Sprintf("function <%s:%d>", d.Source, d.LineDefined)
	}
	line := fmt.Sprintf("\t%s: in %s", pos, in)
	if d.What == "tail" {
		line += "\n\t(tail calls)"
	}
	return line
}

// protectCalls replaces pcall and xpcall with versions whose failures
// take no traceback: gopher-lua's take the whole (unbounded) one and drop
// it, so a script catching an endless tail call stopped at its deadline
// spent gigabytes on text nobody reads. Their error handler, which keeps
// the error value alone, is their upvalue: a function of the state, made
// with them (and copied with them from New's template).
func protectCalls(L *lua.LState) {
	L.SetGlobal("pcall", L.NewClosure(protectedCall, L.NewFunction(keepError)))
	L.SetGlobal("xpcall", L.NewClosure(protectedXCall, L.NewFunction(keepError)))
}

// keepError is the error handler of pcall and xpcall: the error value,
// without a traceback, once the failed frames' upvalues are closed.
func keepError(L *lua.LState) int {
	callsOf(L).unwind(L)
	L.SetTop(1)
	return 1
}

// errorHandler is the error handler of the running pcall or xpcall: its
// upvalue, or a new keepError should it have none (a nil handler would
// take gopher-lua's unbounded traceback).
func errorHandler(L *lua.LState) *lua.LFunction {
	if fn, ok := L.Get(lua.UpvalueIndex(1)).(*lua.LFunction); ok {
		return fn
	}
	return L.NewFunction(keepError)
}

// protectedCall is pcall(f, ...).
func protectedCall(L *lua.LState) int {
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	err := callsOf(L).pcall(L, L.GetTop()-1, lua.MultRet, errorHandler(L))
	if err != nil {
		L.Push(lua.LFalse)
		L.Push(errorValue(err))
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// protectedXCall is xpcall(f, handler).
func protectedXCall(L *lua.LState) int {
	fn := L.CheckFunction(1)
	user := L.CheckFunction(2)
	keep := errorHandler(L)
	// The script's handler runs protected itself: an error in it (or
	// the deadline passing while it runs) gives its error, not a
	// traceback.
	c := callsOf(L)
	handler := L.NewFunction(func(L *lua.LState) int {
		c.unwind(L) // before the script's handler runs on those registers
		v := L.Get(1)
		L.SetTop(0)
		L.Push(user)
		L.Push(v)
		if err := c.pcall(L, 1, 1, keep); err != nil {
			L.SetTop(0)
			L.Push(errorValue(err))
		}
		return 1
	})
	top := L.GetTop()
	L.Push(fn)
	if err := c.pcall(L, 0, lua.MultRet, handler); err != nil {
		L.Push(lua.LFalse)
		L.Push(errorValue(err))
		return 2
	}
	L.Insert(lua.LTrue, top+1)
	return L.GetTop() - top
}

// PCall is L.PCall(nargs, nret, h) for Go code that calls a script's
// function and handles its error itself (rc.store.update's fn): h keeps
// the error value, without a traceback, and the call unwinds as Call's
// do (unwind.go). The error is a *lua.ApiError whose Object is the value
// raised.
func PCall(L *lua.LState, nargs, nret int) error {
	c := callsOf(L)
	if c.keep == nil {
		c.keep = L.NewFunction(keepError)
	}
	return c.pcall(L, nargs, nret, c.keep)
}

// errorValue is the Lua value of a PCall error.
func errorValue(err error) lua.LValue {
	if aerr, ok := err.(*lua.ApiError); ok {
		return aerr.Object
	}
	return lua.LString(err.Error())
}
