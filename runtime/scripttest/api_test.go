package scripttest

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	lua "github.com/yuin/gopher-lua"

	"github.com/rclua/rclua/runtime/sandbox"
)

// TestAPIMatchesTheTTable: every function of the t table is described in
// API (what rclua types writes), and nothing described is not bound.
func TestAPIMatchesTheTTable(t *testing.T) {
	t.Parallel()
	r := &runner{}
	r.L = sandbox.New(sandbox.Options{})
	defer r.L.Close()
	var bound, described []string
	r.table().ForEach(func(k, v lua.LValue) {
		if v.Type() == lua.LTFunction {
			bound = append(bound, "t."+k.String())
		}
	})
	for _, e := range API() {
		if !e.Class {
			described = append(described, e.Name)
			assert.NotEmpty(t, e.Doc, e.Name)
		} else {
			assert.True(t, strings.HasPrefix(e.Name, "t."), e.Name)
		}
	}
	sort.Strings(bound)
	sort.Strings(described)
	assert.Equal(t, bound, described)
}
