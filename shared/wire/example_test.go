package wire_test

import (
	"fmt"
	"os"

	"github.com/turnpike-dev/turnpike/shared/wire"
)

// The filter's side of a quota call: the body built into a buffer it
// reuses, the answer decoded.
func Example_quota() {
	var buf []byte
	buf = wire.AppendQuotaRequest(buf[:0], wire.QuotaRequest{
		KeyHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Scope:   "gold", QuotaMax: 100, QuotaRenewalRate: 3600, Units: 1,
	})
	fmt.Println("POST", wire.PathQuota)
	os.Stdout.Write(buf)
	fmt.Println()

	q, err := wire.DecodeQuotaResponse([]byte(`{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`))
	fmt.Println(q.Granted, q.Remaining, q.Reset, err)
	// Output:
	// POST /turnpike/v1/quota
	// {"key_hash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","scope":"gold","quota_max":100,"quota_renewal_rate":3600,"units":1}
	// 1 99 1764000000 <nil>
}

// The filter's sync poll: the path, then the answer.
func Example_sync() {
	q := wire.SyncQuery{Cursor: "1764000000000-0", Version: "0f1e", VM: "7"}
	fmt.Println(string(q.AppendPath(nil)))

	r, err := wire.DecodeSyncResponse([]byte(`{"version":"0f2a","cursor":"1764000000000-4","reset":false,"more":false,
		"keys":["aa"],"snapshot":{"policies":{"gold":{"rate":100,"per":1}},"apis":[],"orgs":{}}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Version, r.Cursor, r.Keys, r.Snapshot.Policies["gold"].ID, r.Snapshot.Policies["gold"].Rate)
	// Output:
	// /turnpike/v1/sync?cursor=1764000000000-0&version=0f1e&vm=7
	// 0f2a 1764000000000-4 [aa] gold 100
}
