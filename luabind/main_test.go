package luabind

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// end-to-end tests start servers and clients.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
