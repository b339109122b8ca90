package ratelimit_test

import (
	"fmt"
	"time"

	"github.com/turnpike-dev/turnpike/shared/ratelimit"
)

func Example() {
	limit := ratelimit.Limit{Rate: 3, Per: 1} // Tyk: "rate": 3, "per": 1
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

	var state ratelimit.State // zero value: a full bucket
	for i := 1; i <= 4; i++ {
		var res ratelimit.Result
		res, state = ratelimit.Take(state, limit, now, 1)
		if res.Allowed {
			fmt.Printf("request %d: allowed, %d left\n", i, res.Remaining)
		} else {
			fmt.Printf("request %d: 429, Retry-After: %d\n", i, ratelimit.RetryAfterSeconds(res.RetryAfter))
		}
	}

	// The filter keeps the state in proxy-wasm shared data as 16 bytes.
	buf, _ := state.AppendBinary(nil)
	restored, err := ratelimit.DecodeState(buf)
	fmt.Println(len(buf), restored == state, err)
	// Output:
	// request 1: allowed, 2 left
	// request 2: allowed, 1 left
	// request 3: allowed, 0 left
	// request 4: 429, Retry-After: 1
	// 16 true <nil>
}
