//go:build !purego

package luajson

import (
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
)

// tableMirrorVersion is the gopher-lua version whose lua.LTable the
// mirror in luabind/luajson/ltable (Layout) was reviewed against.
const tableMirrorVersion = "v1.1.2"

func TestTableLayout(t *testing.T) {
	t.Parallel()
	assert.Equal(t, tableMirrorVersion, gopherLuaVersion(t), "gopher-lua is no longer %s: re-review table_unsafe.go's mirror of "+
		"lua.LTable (luabind/luajson/ltable's Layout, luajson's newObjectTable, newArrayTable) against the new version's internals, "+
		"then update tableMirrorVersion", tableMirrorVersion)
	assert.True(t, tableLayoutOK, "ltable.Layout no longer matches lua.LTable: the decoder fell back to the slow path")
	assert.True(t, boxLayoutOK, "boxAt no longer makes Go's string boxes: short strings are boxed one by one")
}

// gopherLuaVersion is the version of gopher-lua built into the test binary:
// from debug.ReadBuildInfo when it lists dependencies (test binaries
// usually do not), else from the module cache path gopher-lua's code was
// compiled from ("gopher-lua@v1.1.2/state.go", with or without -trimpath).
func gopherLuaVersion(t *testing.T) string {
	bi, ok := debug.ReadBuildInfo()
	require.True(t, ok, "no build info in the test binary")
	for _, dep := range bi.Deps {
		if dep.Path == "github.com/yuin/gopher-lua" {
			if dep.Replace != nil {
				return dep.Replace.Path + "@" + dep.Replace.Version
			}
			return dep.Version
		}
	}
	fn := runtime.FuncForPC(reflect.ValueOf(lua.NewState).Pointer())
	require.NotNil(t, fn)
	file, _ := fn.FileLine(fn.Entry())
	_, rest, ok := strings.Cut(filepath.ToSlash(file), "github.com/yuin/gopher-lua@")
	if !ok {
		return "unknown (compiled from " + file + ")"
	}
	version, _, _ := strings.Cut(rest, "/")
	return version
}
