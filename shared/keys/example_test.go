package keys_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/turnpike-dev/turnpike/shared/keys"
)

func Example() {
	key, err := keys.Generate(rand.Reader)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(key), keys.Check(key), keys.IsHash(keys.Hash(key)))

	// A presented key is triaged before any storage lookup.
	for _, presented := range []string{"tp_0123456789ABCDEFGHIJKL0IlaFP", "tp_0123456789ABCDEFGHIJKL0IlaFQ", "my-custom-key"} {
		switch err := keys.Check(presented); {
		case err == nil:
			fmt.Println("generated, look up", keys.Hash(presented)[:8])
		case errors.Is(err, keys.ErrMalformed):
			fmt.Println("malformed, reject without lookup")
		default:
			fmt.Println("custom, look up", keys.Hash(presented)[:8])
		}
	}
	// Output:
	// 31 <nil> true
	// generated, look up bb77fda6
	// malformed, reject without lookup
	// custom, look up 8a448fff
}
