package scripttest

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives its tests: each
// world's server, store and the script's memory watchdog must end with
// the test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
