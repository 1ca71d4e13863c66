//go:build !purego

package ltable

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLayout: the mirror matches gopher-lua's table, so that Of and
// Reserve work (they fall back to nothing otherwise).
func TestLayout(t *testing.T) {
	t.Parallel()
	assert.True(t, OK, "ltable.Layout no longer matches lua.LTable")
}
