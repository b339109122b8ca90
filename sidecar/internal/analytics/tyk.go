package analytics

import (
	"time"

	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// TykListKey is the Redis list Tyk's gateway appends its analytics
// records to and Tyk Pump drains: the gateway's analytics store prefixes
// "analytics-" to "tyk-system-analytics" (Tyk: gateway/analytics.go and
// gateway/server.go; the msgpack serializer adds no suffix).
const TykListKey = "analytics-tyk-system-analytics"

// tykRecord is Tyk's analytics record (tyk-pump's
// analytics.AnalyticsRecord) in the shape Tyk Pump decodes: Pump reads the
// list with gopkg.in/vmihailenco/msgpack.v2, which maps a msgpack map onto
// the struct by Go field name (Pump's struct has no msgpack tags), and
// times as a two-element array [unix seconds, nanoseconds]. Every field of
// Tyk's record is written, zero where Turnpike has nothing to say (raw
// request and response bodies, geo data, GraphQL and MCP details), so any
// Pump sink finds what it expects.
type tykRecord struct {
	Method         string
	Host           string
	Path           string
	RawPath        string
	ContentLength  int64
	UserAgent      string
	Day            int
	Month          int // time.Month
	Year           int
	Hour           int
	ResponseCode   int
	APIKey         string
	TimeStamp      pumpTime
	APIVersion     string
	APIName        string
	APIID          string
	OrgID          string
	OauthID        string
	RequestTime    int64 // ms, as Latency.Total
	RawRequest     string
	RawResponse    string
	IPAddress      string
	Geo            tykGeo
	Network        tykNetwork
	Latency        tykLatency
	Tags           []string
	Alias          string
	TrackPath      bool
	ExpireAt       pumpTime
	ApiSchema      string //nolint:revive // Tyk's field name
	OriginalPath   string
	ListenPath     string
	GraphQLStats   tykGraphQLStats
	MCPStats       tykMCPStats
	CollectionName string
}

type tykGeo struct {
	Country struct{ ISOCode string }
	City    struct {
		GeoNameID uint
		Names     map[string]string
	}
	Location struct {
		Latitude  float64
		Longitude float64
		TimeZone  string
	}
}

type tykNetwork struct {
	OpenConnections  int64
	ClosedConnection int64
	BytesIn          int64
	BytesOut         int64
}

type tykLatency struct {
	Total    int64 // ms
	Upstream int64 // ms
	Gateway  int64 // ms
}

type tykGraphQLStats struct {
	Variables  string
	RootFields []string
	Types      map[string][]string
	Errors     []struct {
		Message string
		Path    []any
	}
	OperationType int
	HasErrors     bool
	IsGraphQL     bool
}

type tykMCPStats struct {
	IsMCP         bool
	JSONRPCMethod string
	PrimitiveType string
	PrimitiveName string
}

// pumpTime is a time as msgpack.v2 encodes it: [unix seconds, nanoseconds].
// Newer msgpack libraries use the timestamp extension, which Pump's decoder
// rejects.
type pumpTime time.Time

func (t pumpTime) EncodeMsgpack(e *msgpack.Encoder) error {
	tm := time.Time(t)
	if err := e.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := e.EncodeInt(tm.Unix()); err != nil {
		return err
	}
	return e.EncodeInt(int64(tm.Nanosecond()))
}

// hundredYears is Tyk's expiry when expire_analytics_after is 0
// (AnalyticsRecord.SetExpiry).
const hundredYears = 100 * 365 * 24 * time.Hour

// tykRecordFrom builds Tyk's record of r. expireAfter is the API's
// expire_analytics_after in seconds (0: a hundred years, as Tyk).
func tykRecordFrom(r *wire.AnalyticsRecord, expireAfter int64) tykRecord {
	t := time.Unix(0, r.Time).UTC()
	expiry := time.Duration(expireAfter) * time.Second
	if expireAfter <= 0 {
		expiry = hundredYears
	}
	version := r.APIVersion
	if version == "" {
		version = "Non Versioned" // Tyk's value for an unversioned request
	}
	total, upstream := ms(r.TotalUS), ms(r.UpstreamUS)
	// Tyk adds these tags to every record (gateway/analytics.go): the
	// session's policies and tags come first (gateway/handler_success.go).
	tags := make([]string, 0, len(r.Policies)+len(r.Tags)+3)
	for _, p := range r.Policies {
		tags = append(tags, "pol-"+p)
	}
	tags = append(tags, r.Tags...)
	if r.KeyHash != "" {
		tags = append(tags, "key-"+r.KeyHash)
	}
	if r.OrgID != "" {
		tags = append(tags, "org-"+r.OrgID)
	}
	tags = append(tags, "api-"+r.APIID)
	path := r.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return tykRecord{
		Method: r.Method, Host: r.Host, Path: path, RawPath: path, ContentLength: r.RequestBytes,
		UserAgent: r.UserAgent, Day: t.Day(), Month: int(t.Month()), Year: t.Year(), Hour: t.Hour(),
		ResponseCode: r.Status, APIKey: r.KeyHash, TimeStamp: pumpTime(t), APIVersion: version,
		APIName: r.APIName, APIID: r.APIID, OrgID: r.OrgID, OauthID: r.OAuthID, RequestTime: total,
		IPAddress: r.ClientIP, Network: tykNetwork{BytesIn: r.RequestBytes, BytesOut: r.ResponseBytes},
		Latency: tykLatency{Total: total, Upstream: upstream, Gateway: max(total-upstream, 0)},
		Tags:    tags, Alias: r.Alias, ExpireAt: pumpTime(t.Add(expiry)), ListenPath: r.ListenPath,
	}
}

// ms converts microseconds to whole milliseconds, as Tyk reports them.
func ms(us int64) int64 { return us / 1000 }

// encodeTyk encodes rec with msgpack, as Pump expects it.
func encodeTyk(rec *tykRecord) ([]byte, error) { return msgpack.Marshal(rec) }
