package analytics

import (
	"testing"

	"github.com/turnpike-dev/turnpike/shared/wire"
)

// BenchmarkIngest is the sidecar's CPU per analytics record before Redis:
// a batch of 1000 warm-key records (100 keys, one policy) decoded and
// aggregated, as POST /turnpike/v1/analytics does. Per record:
//
//	go test -run '^$' -bench Ingest ./sidecar/internal/analytics/
func BenchmarkIngest(b *testing.B) {
	const n = 1000
	var recs []byte
	for i := range n {
		if i > 0 {
			recs = append(recs, ',')
		}
		recs = wire.AppendAnalyticsRecord(recs, &wire.AnalyticsRecord{
			Time: 1764633600123456789 + int64(i)*1e6, APIID: "bench", APIName: "Bench API", OrgID: "org1",
			ListenPath: "/bench/", Method: "GET", Host: "127.0.0.1:8080", Path: "/bench/items",
			KeyHash:  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab" + string(rune('a'+i%26)) + string(rune('a'+i/26%4)),
			Policies: []string{"pol1"}, UserAgent: "turnpike-bench", ClientIP: "127.0.0.1",
			Status: 200, Outcome: "allowed", TotalUS: 900, UpstreamUS: 700, ResponseBytes: 42,
		})
	}
	body := wire.AppendAnalyticsBatch(nil, "vm1", 0, recs)
	b.SetBytes(int64(len(body)) / n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N / n {
		batch, err := wire.DecodeAnalyticsBatch(body)
		if err != nil {
			b.Fatal(err)
		}
		aggregate(map[aggKey]*agg{}, batch.Records)
	}
}
