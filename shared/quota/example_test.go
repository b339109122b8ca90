package quota_test

import (
	"fmt"

	"github.com/turnpike-dev/turnpike/shared/quota"
)

func ExampleReserve() {
	const quotaMax, renewalRate = 2, 3600 // 2 requests per hour
	now := int64(1_700_000_000)

	var s quota.State
	for i := 1; i <= 3; i++ {
		var res quota.Result
		res, s = quota.Reserve(s, quotaMax, renewalRate, now, 1)
		if res.Granted == 0 {
			fmt.Printf("request %d: 403 Quota exceeded, renews at %d\n", i, res.ResetAt)
			continue
		}
		fmt.Printf("request %d: ok, X-RateLimit-Remaining: %d\n", i, res.Remaining)
	}
	res, _ := quota.Reserve(s, quotaMax, renewalRate, now+renewalRate, 1)
	fmt.Printf("an hour later: granted %d, remaining %d\n", res.Granted, res.Remaining)
	// Output:
	// request 1: ok, X-RateLimit-Remaining: 1
	// request 2: ok, X-RateLimit-Remaining: 0
	// request 3: 403 Quota exceeded, renews at 1700003600
	// an hour later: granted 1, remaining 1
}
