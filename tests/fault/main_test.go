package fault

import (
	"os"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/internal/bins"
)

// Paths of the binaries and filter.wasm, built once in TestMain.
var built bins.Suite

func TestMain(m *testing.M) { os.Exit(bins.RunSuite(m, "fault", &built)) }
