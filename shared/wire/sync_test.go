package wire

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
)

func mustPolicy(t *testing.T, doc string) *model.Policy {
	t.Helper()
	p, err := model.DecodePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAPI(t *testing.T, doc string) *model.APIDefinition {
	t.Helper()
	a, err := model.DecodeAPIDefinition([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustSession(t *testing.T, doc string) *model.Session {
	t.Helper()
	s, err := model.DecodeSession([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSyncResponseRoundTrip(t *testing.T) {
	gold := mustPolicy(t, `{"id":"gold","rate":100,"per":1,"quota_max":1000,"tags":["a<b"],
		"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}}`)
	api := mustAPI(t, `{"api_id":"api1","name":"One","org_id":"o1","proxy":{"listen_path":"/one/"}}`)
	api2 := mustAPI(t, `{"api_id":"api2","use_keyless":true}`)
	org := mustSession(t, `{"org_id":"o1","quota_max":9,"is_inactive":true}`)
	// The decoded normal form: policies never nil, apis nil when there are
	// none, orgs present (the encoder always writes them), keys nil when
	// empty.
	tests := []struct {
		name string
		resp SyncResponse
	}{
		{"no snapshot", SyncResponse{SyncPage: SyncPage{Version: "abc", Cursor: "1764000000000-0"}}},
		{"page", SyncResponse{SyncPage: SyncPage{Version: "v", Cursor: "2-1", Reset: true, More: true,
			Keys: []string{hash, strings.Repeat("0", 64)}}}},
		{"empty snapshot", SyncResponse{SyncPage: SyncPage{Version: "v"},
			Snapshot: &Snapshot{Policies: map[string]*model.Policy{}, Orgs: map[string]*model.OrgSession{}}}},
		{"snapshot", SyncResponse{SyncPage: SyncPage{Version: "v", Cursor: "3-0", Keys: []string{hash}},
			Snapshot: &Snapshot{
				Policies: map[string]*model.Policy{"gold": gold},
				APIs:     []*model.APIDefinition{api, api2},
				Orgs:     map[string]*model.OrgSession{"o1": org},
			}}},
		{"cache generations", SyncResponse{SyncPage: SyncPage{Version: "v"},
			Snapshot: &Snapshot{Policies: map[string]*model.Policy{}, Orgs: map[string]*model.OrgSession{},
				CacheGenerations: map[string]int64{"api1": 3, "api2": 1}}}},
		{"odd strings", SyncResponse{SyncPage: SyncPage{Version: "\"é\"", Cursor: "<&>\u2028"}}},
	}
	for _, tt := range tests {
		var snap []byte
		if tt.resp.Snapshot != nil {
			snap = AppendSnapshot(nil, tt.resp.Snapshot)
		}
		body := AppendSyncResponse(nil, tt.resp.SyncPage, snap)
		got, err := DecodeSyncResponse(body)
		if err != nil {
			t.Errorf("%s: %v\n%s", tt.name, err, body)
			continue
		}
		if !reflect.DeepEqual(*got, tt.resp) {
			t.Errorf("%s: decode(encode(x)) != x\n%s\ngot  %+v\nwant %+v", tt.name, body, *got, tt.resp)
		}
	}
}

// TestDecodeSyncGolden decodes answers as today's sidecar writes them
// (encoding/json of its old syncResponse struct), byte for byte.
func TestDecodeSyncGolden(t *testing.T) {
	const noSnapshot = `{"version":"0f1e","cursor":"1764000000000-3","reset":false,"more":true,"keys":["` + hash + `"]}`
	r, err := DecodeSyncResponse([]byte(noSnapshot))
	want := SyncResponse{SyncPage: SyncPage{Version: "0f1e", Cursor: "1764000000000-3", More: true, Keys: []string{hash}}}
	if err != nil || !reflect.DeepEqual(*r, want) {
		t.Errorf("no snapshot: %+v, %v", r, err)
	}
	if got := AppendSyncResponse(nil, want.SyncPage, nil); string(got) != noSnapshot {
		t.Errorf("encoded\n%s\nwant\n%s", got, noSnapshot)
	}

	const withSnapshot = `{"version":"0f1e","cursor":"","reset":true,"more":false,"keys":[],"snapshot":` +
		`{"policies":{"gold":{"rate":100,"per":1},"p2":{"id":"silver"}},"apis":[{"api_id":"api1","name":"One"}],"orgs":{"o1":{"quota_max":9}}}}`
	r, err = DecodeSyncResponse([]byte(withSnapshot))
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != "0f1e" || r.Cursor != "" || !r.Reset || r.More || r.Keys != nil || r.Snapshot == nil {
		t.Fatalf("page: %+v", r.SyncPage)
	}
	s := r.Snapshot
	// A policy without an id takes its key; one with an id keeps it.
	if len(s.Policies) != 2 || s.Policies["gold"].ID != "gold" || s.Policies["gold"].Rate != 100 || s.Policies["p2"].ID != "silver" {
		t.Errorf("policies: %+v", s.Policies)
	}
	if len(s.APIs) != 1 || s.APIs[0].APIID != "api1" || s.APIs[0].Name != "One" {
		t.Errorf("apis: %+v", s.APIs)
	}
	if len(s.Orgs) != 1 || s.Orgs["o1"].QuotaMax != 9 {
		t.Errorf("orgs: %+v", s.Orgs)
	}
	if got := AppendSyncResponse(nil, r.SyncPage, []byte(withSnapshot[strings.Index(withSnapshot, `{"policies"`):len(withSnapshot)-1])); string(got) != withSnapshot {
		t.Errorf("encoded\n%s\nwant\n%s", got, withSnapshot)
	}
}

func TestDecodeSyncResponse(t *testing.T) {
	tests := []struct {
		name, body string
		err        string // the exact message the filter logs; "" = decodes
		check      func(*SyncResponse) bool
	}{
		{"not JSON", `{"version":`, "sync: invalid JSON: ", nil},
		{"not an object", `[]`, "sync: answer is not an object", nil},
		{"key not a string", `{"keys":["a",1]}`, "sync: keys[1] is not a string", nil},
		{"bad policy", `{"snapshot":{"policies":{"p":{"rate":"10"}}}}`,
			`sync: policy "p": field "rate": expected a number, got string`, nil},
		{"bad api", `{"snapshot":{"apis":[{"api_id":"a"},{"api_id":7}]}}`,
			`sync: apis[1]: field "api_id": expected a string, got number`, nil},
		{"bad org", `{"snapshot":{"policies":{},"orgs":{"o":{"quota_max":1.5}}}}`,
			`sync: org "o": field "quota_max": expected an integer, got 1.5`, nil},
		// Lenient outside the snapshot: a newer sidecar may add fields.
		{"unknown fields", `{"version":"v","lease":{"x":1},"snapshot":{"policies":{},"future":[1]}}`, "",
			func(r *SyncResponse) bool {
				return r.Version == "v" && r.Snapshot != nil && len(r.Snapshot.Policies) == 0
			}},
		{"null snapshot", `{"version":"v","snapshot":null}`, "",
			func(r *SyncResponse) bool { return r.Snapshot == nil }},
		{"snapshot without parts", `{"snapshot":{}}`, "",
			func(r *SyncResponse) bool {
				return r.Snapshot.Policies != nil && r.Snapshot.APIs == nil && r.Snapshot.Orgs == nil
			}},
		{"wrong types read as empty", `{"version":1,"cursor":null,"reset":"yes","keys":{}}`, "",
			func(r *SyncResponse) bool { return r.Version == "" && !r.Reset && r.Keys == nil }},
	}
	for _, tt := range tests {
		r, err := DecodeSyncResponse([]byte(tt.body))
		switch {
		case tt.err != "":
			if err == nil || !strings.HasPrefix(err.Error(), tt.err) || r != nil {
				t.Errorf("%s: %+v, %v; want error %q", tt.name, r, err, tt.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.check(r):
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

func TestSnapshotJWKSRoundTrip(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Policies: map[string]*model.Policy{}, Orgs: map[string]*model.OrgSession{},
		JWKS: map[string]jwt.KeySet{"api-b": {{Kid: "k1", Key: &rk.PublicKey}}, "api-a": {{Key: []byte("s")}}}}
	doc := AppendSnapshot(nil, s)
	if !strings.HasSuffix(string(doc), `"orgs":{},"jwks":{"api-a":{"keys":[{"kid":"","kty":"oct","k":"cw"}]},"api-b":{"keys":[{"kid":"k1","kty":"RSA","n":"`+
		base64.RawURLEncoding.EncodeToString(rk.N.Bytes())+`","e":"AQAB"}]}}}`) {
		t.Fatalf("encoded %s", doc)
	}
	r, err := DecodeSyncResponse(AppendSyncResponse(nil, SyncPage{}, doc))
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Snapshot.JWKS["api-b"].Find("k1", true); !ok || !k.(*rsa.PublicKey).Equal(&rk.PublicKey) {
		t.Errorf("decoded %+v", r.Snapshot.JWKS)
	}
	// Without key sets the document is what it was before they existed.
	s.JWKS = nil
	if doc := AppendSnapshot(nil, s); string(doc) != `{"policies":{},"apis":[],"orgs":{}}` {
		t.Errorf("encoded %s", doc)
	}
	// A bad key set rejects the snapshot, like a bad policy.
	if _, err := DecodeSyncResponse([]byte(`{"snapshot":{"jwks":{"a":{"keys":[{"kty":"RSA"}]}}}}`)); err == nil {
		t.Error("bad key set accepted")
	}
}

func TestSyncOrgsAndEnforce(t *testing.T) {
	page := SyncPage{Version: "v", Cursor: "1-0", Keys: []string{"k"}}
	if got := string(AppendSyncResponse(nil, page, nil)); got != `{"version":"v","cursor":"1-0","reset":false,"more":false,"keys":["k"]}` {
		t.Errorf("a page without orgs changed: %s", got)
	}
	page.Orgs, page.EnforceOrgQuotas = []string{"o1", "o2"}, true
	body := AppendSyncResponse(nil, page, nil)
	r, err := DecodeSyncResponse(body)
	if err != nil || len(r.Orgs) != 2 || r.Orgs[1] != "o2" || !r.EnforceOrgQuotas {
		t.Fatalf("%s decoded as %+v, %v", body, r, err)
	}
}
