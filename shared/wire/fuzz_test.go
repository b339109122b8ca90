package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The fuzz targets run their seeds as ordinary unit tests (go test -fuzz
// explores further). Each asserts that a decoder never panics, returns no
// value with an error, and that what it decodes encodes to valid JSON that
// decodes to the same value.

var seeds = []string{
	``, `null`, `[]`, `{}`, `"x"`, `1`, `{"a":`, `{"a":1}}`, `{"a":NaN}`, `{"a":01}`, `{"a":"\x"}`,
	`{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `{"a":1e999}`, `{"a":-0}`,
	strings.Repeat("[", 400) + strings.Repeat("]", 400),
	`{"key_hash":"` + hash + `","scope":"","quota_max":100,"quota_renewal_rate":3600,"units":1}`,
	`{"org_id":"o","quota_max":-1,"units":10000,"units":2}`, `{"units":1.0}`, `{"scope":null,"bogus":1}`,
	`{"granted":1,"remaining":99,"reset":1764000000,"quota_max":100}`, `{"granted":-9223372036854775808}`,
	`{"error":"storage unavailable"}`, `{"error":"\u003c\u2028"}`,
	`{"version":"v","cursor":"1-0","reset":true,"more":false,"keys":["a","b"]}`,
	`{"keys":[null]}`, `{"version":"\ud83c\udf89","snapshot":null}`,
	`{"snapshot":{"policies":{"gold":{"rate":100,"per":1},"x":{"id":"y"}},"apis":[{"api_id":"a"}],"orgs":{"o":{"quota_max":9}}}}`,
	`{"snapshot":{"policies":{"p":{"rate":"1"}}}}`, `{"snapshot":{"apis":[null]}}`, `{"snapshot":{"orgs":{"o":[]}}}`,
	`{"snapshot":{"policies":{"p":null,"p":{}}}}`, `{"snapshot":[]}`,
}

func addSeeds(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

func FuzzDecodeQuotaRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeQuotaRequest(data)
		if err != nil {
			if r != (QuotaRequest{}) {
				t.Fatalf("error %v came with %+v", err, r)
			}
			return
		}
		checkValue(t, r, AppendQuotaRequest(nil, r), DecodeQuotaRequest)
	})
}

func FuzzDecodeQuotaResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeQuotaResponse(data)
		if err != nil {
			if r != (QuotaResponse{}) {
				t.Fatalf("error %v came with %+v", err, r)
			}
			return
		}
		checkValue(t, r, AppendQuotaResponse(nil, r), DecodeQuotaResponse)
	})
}

func FuzzDecodeErrorResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeErrorResponse(data)
		if err != nil {
			if r != (ErrorResponse{}) {
				t.Fatalf("error %v came with %+v", err, r)
			}
			return
		}
		checkValue(t, r, AppendErrorResponse(nil, r.Error), DecodeErrorResponse)
	})
}

// The sync decoder copies version, cursor and keys as they come (as the
// filter always has), so a string with invalid UTF-8 changes once on
// encoding; the property is therefore checked from the first encoding on:
// it decodes, and encodes again to the same bytes.
func FuzzDecodeSyncResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeSyncResponse(data)
		if err != nil {
			if r != nil {
				t.Fatalf("error %v came with %+v", err, r)
			}
			return
		}
		e1 := encodeSync(r)
		r2, err := DecodeSyncResponse(e1)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", e1, err)
		}
		checkValue(t, r2, encodeSync(r2), DecodeSyncResponse)
	})
}

func encodeSync(r *SyncResponse) []byte {
	var snap []byte
	if r.Snapshot != nil {
		snap = AppendSnapshot(nil, r.Snapshot)
	}
	return AppendSyncResponse(nil, r.SyncPage, snap)
}

// checkValue asserts that encoded, v's encoding, is valid JSON that decodes
// to v.
func checkValue[T any](t *testing.T, v T, encoded []byte, decode func([]byte) (T, error)) {
	t.Helper()
	if !json.Valid(encoded) {
		t.Fatalf("encoding is not valid JSON: %s", encoded)
	}
	v2, err := decode(bytes.Clone(encoded))
	if err != nil {
		t.Fatalf("re-decoding %s: %v", encoded, err)
	}
	if !reflect.DeepEqual(v, v2) {
		t.Fatalf("decode(encode(x)) != x\nencoded: %s\nfirst: %+v\nagain: %+v", encoded, v, v2)
	}
}
