//go:build purego

package sandbox

import lua "github.com/yuin/gopher-lua"

// Built with the purego tag, the sandbox leaves gopher-lua's upvalues and
// error-handler flag alone (see unwind.go).
const unwindOK = false

func registryTop(*lua.LState) int        { return 0 }
func hasErrorFunc(*lua.LState) bool      { return false }
func setHasErrorFunc(*lua.LState, bool)  {}
func closeUpvaluesFrom(*lua.LState, int) {}
