package pathnorm_test

import (
	"errors"
	"fmt"

	"github.com/turnpike-dev/turnpike/shared/pathnorm"
)

func ExampleNormalize() {
	for _, p := range []string{"/demo/api", "/demo/../api3/x?q=/../", "//a/%7euser/caf%c3%a9", "/demo/%2e%2e/%2e%2e/x", "/a%2Fb"} {
		n, changed, err := pathnorm.Normalize(p)
		switch {
		case errors.Is(err, pathnorm.ErrAboveRoot), errors.Is(err, pathnorm.ErrEncodedSlash):
			fmt.Printf("%s -> 400 {\"error\": %q}\n", p, err)
		case changed:
			fmt.Printf("%s -> %s (rewrite :path)\n", p, n)
		default:
			fmt.Printf("%s unchanged\n", p)
		}
	}
	// Output:
	// /demo/api unchanged
	// /demo/../api3/x?q=/../ -> /api3/x?q=/../ (rewrite :path)
	// //a/%7euser/caf%c3%a9 -> /a/~user/caf%C3%A9 (rewrite :path)
	// /demo/%2e%2e/%2e%2e/x -> 400 {"error": "path climbs above the root with .."}
	// /a%2Fb -> 400 {"error": "path contains an encoded slash (%2F)"}
}
