package wire

import (
	"errors"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// PathAnalytics receives the request records of one VM: POST, body an
// AnalyticsBatch, answer {} with StatusOK. The filter sends at most one
// batch per tick and VM and never retries one (a record is cheaper lost
// than counted twice).
const PathAnalytics = PathPrefix + "analytics"

// MaxAnalyticsRecords bounds the records of one batch; the sidecar refuses
// a larger batch with StatusBadRequest.
const MaxAnalyticsRecords = 10000

// AnalyticsRecord is one decided request as the filter saw it. The sidecar
// turns it into Tyk's analytics record (for Tyk Pump) and into usage
// aggregates. The raw key is never part of it: KeyHash is the key's hash.
type AnalyticsRecord struct {
	Time       int64  // unix ns, when the request arrived
	APIID      string // the API matched
	APIName    string
	APIVersion string // the version the request asked for ("" when not versioned)
	OrgID      string // the API's organisation
	ListenPath string
	Method     string
	Host       string // :authority
	Path       string // the normalized path, without the query
	Status     int    // response code sent to the client
	// Outcome is the filter's decision, the suffix of its
	// turnpike.decision.<outcome> counter: "allowed", "keyless",
	// "rate_limited", "quota_exceeded", "key_not_found", ...
	Outcome  string
	KeyHash  string // "" for keyless APIs and requests refused before the key was read
	Alias    string
	OAuthID  string   // the session's OAuth client
	Policies []string // the session's policy ids
	Tags     []string // the session's tags
	// TotalUS is from the request's arrival to its response headers;
	// UpstreamUS the part of it spent upstream (0 for a local reply).
	// Microseconds.
	TotalUS       int64
	UpstreamUS    int64
	RequestBytes  int64 // request content-length (0 when unknown)
	ResponseBytes int64 // response content-length (0 when unknown)
	UserAgent     string
	ClientIP      string // the peer address, without the port
}

// AnalyticsBatch is the body of POST PathAnalytics.
type AnalyticsBatch struct {
	// VM names the sending VM (as in SyncQuery.VM).
	VM string
	// Dropped counts the records this VM dropped since its last batch
	// because its buffer was full.
	Dropped int64
	Records []AnalyticsRecord
}

// AppendAnalyticsRecord appends r as one JSON object. Strings, lists and
// numbers that are empty or zero are left out; t, status and outcome are
// always written. The filter appends records to its buffer one by one, as
// requests end, and wraps them with AppendAnalyticsBatch on the next tick.
func AppendAnalyticsRecord(dst []byte, r *AnalyticsRecord) []byte {
	return AppendAnalyticsResponse(AppendAnalyticsRequest(dst, r), r)
}

// AppendAnalyticsRequest appends the first part of r's object: what is
// known when the request is decided (all but Status, Outcome, the
// latencies and ResponseBytes). AppendAnalyticsResponse completes it, so
// the filter can write a forwarded request's part while the request's
// headers are at hand and finish it when the response arrives.
func AppendAnalyticsRequest(dst []byte, r *AnalyticsRecord) []byte {
	// Each member's name comes with its punctuation in one literal: in
	// the filter's VM every append is a memmove call, and this runs for
	// every request.
	dst = append(dst, `{"t":`...)
	dst = strconv.AppendInt(dst, r.Time, 10)
	dst = appendString(dst, `,"api_id":`, r.APIID)
	dst = appendString(dst, `,"api_name":`, r.APIName)
	dst = appendString(dst, `,"api_version":`, r.APIVersion)
	dst = appendString(dst, `,"org_id":`, r.OrgID)
	dst = appendString(dst, `,"listen_path":`, r.ListenPath)
	dst = appendString(dst, `,"method":`, r.Method)
	dst = appendString(dst, `,"host":`, r.Host)
	dst = appendString(dst, `,"path":`, r.Path)
	dst = appendString(dst, `,"key_hash":`, r.KeyHash)
	dst = appendString(dst, `,"alias":`, r.Alias)
	dst = appendString(dst, `,"oauth_id":`, r.OAuthID)
	dst = appendString(dst, `,"user_agent":`, r.UserAgent)
	dst = appendString(dst, `,"ip":`, r.ClientIP)
	dst = appendStrings(dst, `,"policies":[`, r.Policies)
	dst = appendStrings(dst, `,"tags":[`, r.Tags)
	return appendInt(dst, `,"request_bytes":`, r.RequestBytes)
}

// AppendAnalyticsResponse appends the rest of r's object after
// AppendAnalyticsRequest: status, outcome, latencies, response bytes and
// the closing brace.
func AppendAnalyticsResponse(dst []byte, r *AnalyticsRecord) []byte {
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"outcome":`...)
	dst = model.AppendString(dst, r.Outcome)
	dst = appendInt(dst, `,"total_us":`, r.TotalUS)
	dst = appendInt(dst, `,"upstream_us":`, r.UpstreamUS)
	dst = appendInt(dst, `,"response_bytes":`, r.ResponseBytes)
	return append(dst, '}')
}

// appendString appends key (the member's name with its punctuation) and v
// unless v is "".
func appendString(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return model.AppendString(append(dst, key...), v)
}

// appendInt appends key and v unless v is 0.
func appendInt(dst []byte, key string, v int64) []byte {
	if v == 0 {
		return dst
	}
	return strconv.AppendInt(append(dst, key...), v, 10)
}

// appendStrings appends key (ending with the list's '[') and list unless
// it is empty.
func appendStrings(dst []byte, key string, list []string) []byte {
	if len(list) == 0 {
		return dst
	}
	dst = append(dst, key...)
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, s)
	}
	return append(dst, ']')
}

// AppendAnalyticsBatch appends {"vm":…,"dropped":…,"records":[records]}.
// records is the records already encoded by AppendAnalyticsRecord and
// separated by commas (empty for none).
func AppendAnalyticsBatch(dst []byte, vm string, dropped int64, records []byte) []byte {
	dst = AppendAnalyticsBatchHead(dst, vm, dropped)
	dst = append(dst, records...)
	return append(dst, AnalyticsBatchTail...)
}

// AppendAnalyticsBatchHead appends what precedes a batch's records,
// {"vm":…,"dropped":…,"records":[ ; the records and AnalyticsBatchTail
// complete it. The filter writes the head in front of the records it has
// buffered instead of copying them into a batch.
func AppendAnalyticsBatchHead(dst []byte, vm string, dropped int64) []byte {
	dst = append(dst, `{"vm":`...)
	dst = model.AppendString(dst, vm)
	dst = append(dst, `,"dropped":`...)
	dst = strconv.AppendInt(dst, dropped, 10)
	return append(dst, `,"records":[`...)
}

// AnalyticsBatchTail ends a batch after its records.
const AnalyticsBatchTail = "]}"

// DecodeAnalyticsBatch decodes a batch. Unknown fields are ignored, so a
// newer filter may add some; a known field of the wrong type, or more than
// MaxAnalyticsRecords records, rejects the batch.
func DecodeAnalyticsBatch(body []byte) (AnalyticsBatch, error) {
	var b AnalyticsBatch
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "analytics batch")
	if err != nil {
		return b, err
	}
	if fv := v.Get("vm"); fv != nil {
		if b.VM, err = stringValue(fv, "vm"); err != nil {
			return AnalyticsBatch{}, err
		}
	}
	if fv := v.Get("dropped"); fv != nil {
		if b.Dropped, err = intValue(fv, "dropped"); err != nil {
			return AnalyticsBatch{}, err
		}
	}
	recs := v.Get("records")
	if recs == nil || recs.Type() == fastjson.TypeNull {
		return b, nil
	}
	arr, err := recs.Array()
	if err != nil {
		return AnalyticsBatch{}, errors.New(`field "records": expected an array`)
	}
	if len(arr) > MaxAnalyticsRecords {
		return AnalyticsBatch{}, errors.New("more than " + strconv.Itoa(MaxAnalyticsRecords) + " records")
	}
	b.Records = make([]AnalyticsRecord, len(arr))
	in := interned{}
	for i, rv := range arr {
		if err := decodeAnalyticsRecord(rv, &b.Records[i], in); err != nil {
			return AnalyticsBatch{}, errors.New("record " + strconv.Itoa(i) + ": " + err.Error())
		}
	}
	return b, nil
}

// interned holds one string per distinct value of the members a batch's
// records repeat (API, org, key, method, host, user agent, client,
// outcome, policies, tags): the sidecar then copies each once per batch
// instead of once per record, which saves most of a batch's allocations.
type interned map[string]string

// value reads a string member as stringValue does, interned.
func (in interned) value(v *fastjson.Value, name string) (string, error) {
	if v.Type() != fastjson.TypeString {
		return stringValue(v, name)
	}
	b, _ := v.StringBytes()
	if s, ok := in[string(b)]; ok {
		return s, nil
	}
	s, err := stringValue(v, name)
	if err == nil {
		in[string(b)] = s
	}
	return s, err
}

func decodeAnalyticsRecord(v *fastjson.Value, r *AnalyticsRecord, in interned) error {
	o, err := v.Object()
	if err != nil {
		return errors.New("not an object")
	}
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		var status int64
		switch name := string(k); name {
		case "t":
			r.Time, err = intValue(fv, name)
		case "status":
			status, err = intValue(fv, name)
			r.Status = int(status)
		case "outcome":
			r.Outcome, err = in.value(fv, name)
		case "api_id":
			r.APIID, err = in.value(fv, name)
		case "api_name":
			r.APIName, err = in.value(fv, name)
		case "api_version":
			r.APIVersion, err = in.value(fv, name)
		case "org_id":
			r.OrgID, err = in.value(fv, name)
		case "listen_path":
			r.ListenPath, err = in.value(fv, name)
		case "method":
			r.Method, err = in.value(fv, name)
		case "host":
			r.Host, err = in.value(fv, name)
		case "path":
			r.Path, err = stringValue(fv, name)
		case "key_hash":
			r.KeyHash, err = in.value(fv, name)
		case "alias":
			r.Alias, err = in.value(fv, name)
		case "oauth_id":
			r.OAuthID, err = in.value(fv, name)
		case "user_agent":
			r.UserAgent, err = in.value(fv, name)
		case "ip":
			r.ClientIP, err = in.value(fv, name)
		case "policies":
			r.Policies, err = in.values(fv, name)
		case "tags":
			r.Tags, err = in.values(fv, name)
		case "total_us":
			r.TotalUS, err = intValue(fv, name)
		case "upstream_us":
			r.UpstreamUS, err = intValue(fv, name)
		case "request_bytes":
			r.RequestBytes, err = intValue(fv, name)
		case "response_bytes":
			r.ResponseBytes, err = intValue(fv, name)
		}
	})
	return err
}

// values reads an array of strings, or null (nil), interned.
func (in interned) values(v *fastjson.Value, name string) ([]string, error) {
	if v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("field " + strconv.Quote(name) + ": expected an array of strings")
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if out[i], err = in.value(e, name); err != nil || e.Type() != fastjson.TypeString {
			return nil, errors.New("field " + strconv.Quote(name) + ": expected an array of strings")
		}
	}
	return out, nil
}
