package app

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/tests/testenv"
)

const goldPolicy = `{"id":"gold","name":"Gold","org_id":"org1","rate":100,"per":60,"quota_max":5,
 "quota_renewal_rate":3600,"key_expires_in":3600,
 "access_rights":{"api1":{"api_id":"api1","api_name":"API 1","versions":["Default"],
   "allowed_urls":[{"url":"^/items/[0-9]+$","methods":["GET"]}]}}}`

func TestGatewayAuthAndRouting(t *testing.T) {
	s := start(t, "")
	tests := []struct {
		name         string
		method, path string
		header       []string
		code         int
		want         string
	}{
		{"missing secret", "GET", "/tyk/keys", nil, 403, `{"status":"error","message":"Attempted administrative access with invalid or missing key!"}`},
		{"wrong secret", "GET", "/tyk/apis", []string{"X-Tyk-Authorization", "nope"}, 403, "invalid or missing key"},
		{"unknown route", "GET", "/tyk/nothing", []string{"X-Tyk-Authorization", secret}, 404, `"status":"error"`},
		{"wrong method", "PATCH", "/tyk/keys/abc", []string{"X-Tyk-Authorization", secret}, 405, "Method not supported"},
		{"trailing slash", "GET", "/tyk/apis/", []string{"X-Tyk-Authorization", secret}, 200, "[]"},
		{"hello needs no secret", "GET", "/hello", nil, 200, `"redis":{"status":"pass","componentType":"datastore"`},
		{"ready", "GET", "/ready", nil, 200, `"status":"ok"`},
		{"metrics", "GET", "/metrics", nil, 200, "turnpike_sidecar_ready 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, tt.name, s.do(tt.method, tt.path, "", tt.header...), tt.code, tt.want)
		})
	}
	big := `{"meta_data":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`
	expect(t, "oversized body", s.tyk("POST", "/tyk/keys", big), 413, "limit is 1048576 bytes")
}

func TestKeyLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		expect(t, "create policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, `{"key":"gold","status":"ok","action":"added"}`)

		created := s.tyk("POST", "/tyk/keys", `{"apply_policies":["gold"],"org_id":"org1"}`)
		expect(t, "create key", created, 200, `"action":"added"`)
		m := created.json(t)
		key, hash := m["key"].(string), m["key_hash"].(string)
		if keys.Check(key) != nil || hash != keys.Hash(key) {
			t.Fatalf("create returned key %q hash %q", key, hash)
		}

		got := s.tyk("GET", "/tyk/keys/"+key, "")
		expect(t, "get key", got, 200, `"quota_remaining":5`)
		sess := got.json(t)
		if sess["rate"].(float64) != 100 || sess["quota_max"].(float64) != 5 {
			t.Errorf("policy not applied: %s", got.body)
		}
		if exp := int64(sess["expires"].(float64)); exp < time.Now().Unix()+3590 || exp > time.Now().Unix()+3610 {
			t.Errorf("key_expires_in not applied: expires %d", exp)
		}

		// Spend 2 units through the Filter API: the Gateway API shows it live.
		q := fmt.Sprintf(`{"key_hash":%q,"quota_max":5,"quota_renewal_rate":3600,"units":2}`, hash)
		expect(t, "reserve", s.filter("POST", "/turnpike/v1/quota", q), 200, `"granted":2,"remaining":3`)
		expect(t, "get by hash", s.tyk("GET", "/tyk/keys/"+hash+"?hashed=true", ""), 200, `"quota_remaining":3`)

		update := `{"apply_policies":["gold"],"org_id":"org1","alias":"renamed"}`
		expect(t, "update suppress_reset", s.tyk("PUT", "/tyk/keys/"+key+"?suppress_reset=1", update), 200, `"action":"modified"`)
		expect(t, "counter kept", s.tyk("GET", "/tyk/keys/"+key, ""), 200, `"quota_remaining":3`)
		expect(t, "update", s.tyk("PUT", "/tyk/keys/"+hash+"?hashed=1", update), 200, `"action":"modified"`)
		after := s.tyk("GET", "/tyk/keys/"+key, "")
		expect(t, "counter reset", after, 200, `"quota_remaining":5`)
		if a := after.json(t); a["alias"] != "renamed" || a["date_created"] != sess["date_created"] {
			t.Errorf("update lost alias or date_created: %s", after.body)
		}

		expect(t, "list", s.tyk("GET", "/tyk/keys", ""), 200, `{"keys":["`+hash+`"]}`)
		expect(t, "custom key", s.tyk("POST", "/tyk/keys/my-custom-key-1", `{"apply_policies":["gold"]}`), 200,
			`{"key":"my-custom-key-1","status":"ok","action":"added","key_hash":"`+keys.Hash("my-custom-key-1")+`"}`)

		expect(t, "delete", s.tyk("DELETE", "/tyk/keys/"+key, ""), 200, `{"key":"`+key+`","status":"ok","action":"deleted"}`)
		expect(t, "get deleted", s.tyk("GET", "/tyk/keys/"+key, ""), 404, `"message":"Key not found"`)
		expect(t, "delete again", s.tyk("DELETE", "/tyk/keys/"+key, ""), 404, "There is no such key found")
		expect(t, "delete custom by hash", s.tyk("DELETE", "/tyk/keys/"+keys.Hash("my-custom-key-1")+"?hashed=1", ""), 200, "deleted")
		// Deleting removed the counter: a fresh window for the same hash.
		expect(t, "counter deleted", s.filter("POST", "/turnpike/v1/quota", q), 200, `"granted":2,"remaining":3`)
		expect(t, "list empty", s.tyk("GET", "/tyk/keys", ""), 200, `{"keys":[]}`)
	})
}

func TestKeyValidation(t *testing.T) {
	s := start(t, "")
	expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "")
	rights := `"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}`
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"malformed JSON", "POST", "/tyk/keys", `{"rate":`, 400, "Request malformed"},
		{"empty body", "POST", "/tyk/keys", ``, 400, "Request malformed: empty body"},
		{"invalid UTF-8", "POST", "/tyk/keys", "{\"alias\":\"\xff\"}", 400, "Request malformed: body is not valid UTF-8"},
		{"wrong type", "POST", "/tyk/keys", `{"rate":"fast",` + rights + `}`, 400, `field \"rate\"`},
		{"unknown policy", "POST", "/tyk/keys", `{"apply_policies":["gold","nope"]}`, 400, `Policy not found: \"nope\"`},
		{"bad regex", "POST", "/tyk/keys/create", `{"access_rights":{"api1":{"allowed_urls":[{"url":"(","methods":["GET"]}]}}}`, 400, `invalid pattern \"(\"`},
		{"negative per", "POST", "/tyk/keys", `{"rate":1,"per":-5,` + rights + `}`, 400, `\"per\" must not be negative`},
		{"negative per-API per", "POST", "/tyk/keys", `{"access_rights":{"a":{"limit":{"rate":1,"per":-1}}}}`, 400, `access_rights[\"a\"].limit.per`},
		{"no access rights", "POST", "/tyk/keys", `{"rate":1,"per":1}`, 400, "keys must have at least one Access Rights record set"},
		{"bad custom key", "POST", "/tyk/keys/a%20b", `{` + rights + `}`, 400, "Invalid custom key"},
		{"update missing key", "PUT", "/tyk/keys/missing-key-1", `{` + rights + `}`, 404, "Key is not found"},
		{"get with bad hash", "GET", "/tyk/keys/xyz?hashed=1", "", 404, "Key not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, tt.name, s.tyk(tt.method, tt.path, tt.body), tt.code, tt.want)
		})
	}
}

func TestPoliciesAPI(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		tests := []struct {
			name, method, path, body string
			code                     int
			want                     string
		}{
			{"create", "POST", "/tyk/policies", goldPolicy, 200, `{"key":"gold","status":"ok","action":"added"}`},
			{"create with path id", "POST", "/tyk/policies/silver", `{"rate":1,"per":1,"access_rights":{"a":{}}}`, 200, `"key":"silver"`},
			{"get", "GET", "/tyk/policies/gold", "", 200, `"id":"gold"`},
			{"list", "GET", "/tyk/policies", "", 200, `"id":"silver"`},
			{"get missing", "GET", "/tyk/policies/none", "", 404, `{"status":"error","message":"Policy not found"}`},
			{"no id", "POST", "/tyk/policies", `{"rate":1}`, 400, "Unable to create policy without id."},
			{"bad id", "POST", "/tyk/policies", `{"id":"a b"}`, 400, "Invalid Policy ID"},
			{"malformed", "POST", "/tyk/policies", `{"id":"x","quota_max":"many"}`, 400, `Request malformed: field \"quota_max\"`},
			{"bad regex", "POST", "/tyk/policies", `{"id":"x","access_rights":{"a":{"allowed_urls":[{"url":"[","methods":["GET"]}]}}}`, 400, `invalid pattern \"[\"`},
			{"negative per", "POST", "/tyk/policies", `{"id":"x","rate":1,"per":-1}`, 400, `policy \"x\": \"per\" must not be negative`},
			{"per_api with partitions", "POST", "/tyk/policies", `{"id":"x","partitions":{"per_api":true,"acl":true}}`, 400, "per_api and any of partitions"},
			{"update mismatch", "PUT", "/tyk/policies/gold", `{"id":"silver"}`, 400, "Request ID does not match that in policy!"},
			{"update", "PUT", "/tyk/policies/gold", strings.Replace(goldPolicy, `"rate":100`, `"rate":7`, 1), 200, `"action":"modified"`},
			{"updated", "GET", "/tyk/policies/gold", "", 200, `"rate":7,`},
			{"delete", "DELETE", "/tyk/policies/silver", "", 200, `{"key":"silver","status":"ok","action":"deleted"}`},
			{"delete missing", "DELETE", "/tyk/policies/silver", "", 500, "Delete failed"},
		}
		for _, tt := range tests {
			expect(t, tt.name, s.tyk(tt.method, tt.path, tt.body), tt.code, tt.want)
		}
	})
}

func TestAPIsAPI(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		def := `{"api_id":"api1","name":"One","org_id":"org1","proxy":{"listen_path":"/one/","target_url":"http://up"}}`
		tests := []struct {
			name, method, path, body string
			code                     int
			want                     string
		}{
			{"create", "POST", "/tyk/apis", def, 200, `{"key":"api1","status":"ok","action":"added"}`},
			{"get", "GET", "/tyk/apis/api1", "", 200, `"listen_path":"/one/"`},
			{"list", "GET", "/tyk/apis", "", 200, `"api_id":"api1"`},
			{"get missing", "GET", "/tyk/apis/none", "", 404, "API not found"},
			{"malformed", "POST", "/tyk/apis", `{"api_id":5}`, 400, "Request malformed"},
			{"update mismatch", "PUT", "/tyk/apis/api1", `{"api_id":"api2"}`, 400, "Request APIID does not match that in Definition!"},
			{"update missing", "PUT", "/tyk/apis/none", `{"name":"x"}`, 404, "API not found"},
			{"update", "PUT", "/tyk/apis/api1", strings.Replace(def, "One", "Uno", 1), 200, `"action":"modified"`},
			{"updated", "GET", "/tyk/apis/api1", "", 200, `"name":"Uno"`},
			{"delete", "DELETE", "/tyk/apis/api1", "", 200, `"action":"deleted"`},
			{"delete missing", "DELETE", "/tyk/apis/api1", "", 404, "API not found"},
		}
		for _, tt := range tests {
			expect(t, tt.name, s.tyk(tt.method, tt.path, tt.body), tt.code, tt.want)
		}
		gen := s.tyk("POST", "/tyk/apis", `{"name":"generated id"}`)
		expect(t, "generated id", gen, 200, "added")
		if id := gen.json(t)["key"].(string); len(id) != 32 {
			t.Errorf("generated api_id %q", id)
		}
	})
}

func TestOrgKeysAPI(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		reserve := `{"org_id":"org1","quota_max":10,"quota_renewal_rate":60,"units":4}`
		tests := []struct {
			name, method, path, body string
			code                     int
			want                     string
		}{
			{"get missing", "GET", "/tyk/org/keys/org1", "", 404, "Org not found"},
			{"create", "POST", "/tyk/org/keys/org1", `{"quota_max":10,"quota_renewal_rate":60}`, 200, `{"key":"org1","status":"ok","action":"added"}`},
			{"list", "GET", "/tyk/org/keys", "", 200, `{"keys":["org1"]}`},
			{"get", "GET", "/tyk/org/keys/org1", "", 200, `"quota_remaining":10`},
			{"malformed", "PUT", "/tyk/org/keys/org1", `{"quota_max":[]}`, 400, "Request malformed"},
			{"update keeps counter", "PUT", "/tyk/org/keys/org1", `{"quota_max":10,"quota_renewal_rate":60,"rate":5,"per":1}`, 200, `"action":"modified"`},
			{"delete", "DELETE", "/tyk/org/keys/org1", "", 200, `"action":"deleted"`},
			{"delete missing", "DELETE", "/tyk/org/keys/org1", "", 404, "Org not found"},
		}
		for i, tt := range tests {
			if i == 4 {
				expect(t, "org reserve", s.filter("POST", "/turnpike/v1/quota", reserve), 200, `"remaining":6`)
				expect(t, "org live quota", s.tyk("GET", "/tyk/org/keys/org1", ""), 200, `"quota_remaining":6`)
			}
			if i == 6 {
				expect(t, "counter kept", s.tyk("GET", "/tyk/org/keys/org1", ""), 200, `"quota_remaining":6`)
				expect(t, "reset_quota", s.tyk("PUT", "/tyk/org/keys/org1?reset_quota=1", `{"quota_max":10,"quota_renewal_rate":60}`), 200, "modified")
				expect(t, "counter reset", s.tyk("GET", "/tyk/org/keys/org1", ""), 200, `"quota_remaining":10`)
			}
			expect(t, tt.name, s.tyk(tt.method, tt.path, tt.body), tt.code, tt.want)
		}
		expect(t, "reload", s.tyk("GET", "/tyk/reload", ""), 200, `{"status":"ok","message":""}`)
		expect(t, "reload group", s.tyk("GET", "/tyk/reload/group", ""), 200, `{"status":"ok","message":""}`)
	})
}

// Fields Turnpike does not model are stored and returned as sent, and reach
// the filters in the sync snapshot.
func TestAPIKeepsUnmodelledFields(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		s := start(t, url)
		extra := `"tags":["edge","eu"],"enable_context_vars":true,"config_data":{"nested":[1,2.50,{"x":null}]}`
		def := `{"name":"Kept",` + extra + `,"proxy":{"listen_path":"/kept/","target_url":"http://up","preserve_host_header":true}}`
		created := s.tyk("POST", "/tyk/apis", def)
		expect(t, "create", created, 200, "added")
		id := created.json(t)["key"].(string)
		want := `{"name":"Kept",` + extra + `,"proxy":{"listen_path":"/kept/","target_url":"http://up","preserve_host_header":true},"api_id":"` + id + `"}`
		expect(t, "get", s.tyk("GET", "/tyk/apis/"+id, ""), 200, want)
		expect(t, "list", s.tyk("GET", "/tyk/apis", ""), 200, want)
		expect(t, "sync snapshot", s.filter("GET", "/turnpike/v1/sync", ""), 200, `"apis":[`+want+`]`)

		// PUT replaces the document; api_id given in the body is kept in place.
		upd := `{"api_id":"` + id + `", "name" : "Kept 2", "x-custom":{"a":"\u00e9"}}`
		expect(t, "update", s.tyk("PUT", "/tyk/apis/"+id, upd), 200, "modified")
		expect(t, "get updated", s.tyk("GET", "/tyk/apis/"+id, ""), 200,
			`{"api_id":"`+id+`","name":"Kept 2","x-custom":{"a":"\u00e9"}}`)
		expect(t, "repeated api_id", s.tyk("PUT", "/tyk/apis/"+id, `{"api_id":"`+id+`","api_id":"other"}`), 400, "")
	})
}

// An API enabling an auth method Turnpike does not run is refused, and
// neither stored nor left half-changed.
func TestAPIRefusesUnenforcedAuth(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"Go plugin", "POST", "/tyk/apis", `{"api_id":"b","use_go_plugin_auth":true}`, 400,
			`{"status":"error","message":"API definition refused: \"use_go_plugin_auth\": Turnpike does not run Go plugins`},
		{"not stored", "GET", "/tyk/apis/b", "", 404, "API not found"},
		{"coprocess", "POST", "/tyk/apis/", `{"api_id":"c","enable_coprocess_auth":true}`, 400, `\"enable_coprocess_auth\": Turnpike does not run coprocess`},
		{"bundle", "POST", "/tyk/apis", `{"api_id":"c","custom_middleware_bundle":"b.zip"}`, 400, `never will`},
		{"auth token API", "POST", "/tyk/apis", `{"api_id":"a","name":"A","custom_middleware_bundle":"b.zip","custom_middleware_bundle_disabled":true}`, 200, "added"},
		{"update to a JWT API with a bad key", "PUT", "/tyk/apis/a", `{"api_id":"a","name":"JWT","enable_jwt":true,
			"jwt_signing_method":"rsa","jwt_source":"bm90IGEgUEVN"}`, 400, `\"jwt_source\": unparsable PEM`},
		{"unchanged", "GET", "/tyk/apis/a", "", 200, `"name":"A"`},
		{"keyless wins", "PUT", "/tyk/apis/a", `{"api_id":"a","use_keyless":true,"use_basic_auth":true}`, 200, "modified"},
		{"body template from a file", "PUT", "/tyk/apis/a", `{"api_id":"a","version_data":{"versions":{"v1":{"extended_paths":{
			"transform_response":[{"path":"/x","method":"GET","template_data":{"template_mode":"file","template_source":"/t.tmpl"}}]}}}}}`, 400,
			`{"status":"error","message":"API definition refused: \"version_data.versions.v1.extended_paths.transform_response[0].template_data.template_mode\": \"file\" is not supported: the filter runs in a VM without a file system`},
		{"body template with a sprig function", "PUT", "/tyk/apis/a", `{"api_id":"a","version_data":{"versions":{"v1":{"extended_paths":{
			"transform":[{"path":"/x","method":"POST","template_data":{"input_type":"json","template_mode":"blob","template_source":"e3sgLmEgfCB1cHBlciB9fQ=="}}]}}}}}`, 400,
			`template_source\": the template cannot run in the filter: the function \"upper\" (sprig's functions) is not supported`},
		{"body template", "PUT", "/tyk/apis/a", `{"api_id":"a","version_data":{"versions":{"v1":{"extended_paths":{
			"transform":[{"path":"/x","method":"POST","template_data":{"input_type":"json","template_mode":"blob","template_source":"e3sgLmEgfX0="}}]}}}}}`, 200, "modified"},
	}
	for _, tt := range tests {
		expect(t, tt.name, s.tyk(tt.method, tt.path, tt.body), tt.code, tt.want)
	}
	if list := s.tyk("GET", "/tyk/apis", ""); strings.Count(string(list.body), `"api_id"`) != 1 {
		t.Errorf("refused definitions were stored: %s", list.body)
	}
}

// POST /tyk/keys/preview returns the session as it would be created and
// stores nothing (it used to create a key named "preview").
func TestKeyPreview(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	expect(t, "policy", s.tyk("POST", "/tyk/policies", goldPolicy), 200, "added")
	r := s.tyk("POST", "/tyk/keys/preview", `{"apply_policies":["gold"],"org_id":"org1","alias":"p"}`)
	expect(t, "preview", r, 200, `"allowed_urls":[{"url":"^/items/[0-9]+$","methods":["GET"]}]`)
	m := r.json(t)
	if m["rate"] != 100.0 || m["quota_max"] != 5.0 || m["alias"] != "p" || m["date_created"] == "" || m["key"] != nil {
		t.Errorf("preview is not the session with policies applied: %s", r.body)
	}
	if exp := int64(m["expires"].(float64)); exp < time.Now().Unix()+3590 {
		t.Errorf("key_expires_in not applied: expires %d", exp)
	}
	expect(t, "nothing stored", s.tyk("GET", "/tyk/keys", ""), 200, `{"keys":[]}`)
	expect(t, "no key named preview", s.tyk("GET", "/tyk/keys/preview", ""), 404, "Key not found")
	expect(t, "unknown policy", s.tyk("POST", "/tyk/keys/preview", `{"apply_policies":["nope"]}`), 400, `Policy not found: \"nope\"`)
	expect(t, "no access rights", s.tyk("POST", "/tyk/keys/preview", `{"rate":1}`), 400, "at least one Access Rights")
}

// A policy with "active": false is stored and shown but not loaded: keys
// using it behave as with a missing policy, and the filters do not get it.
// A policy without the field is active.
func TestInactivePolicy(t *testing.T) {
	s := start(t, testenv.StartBackend(t, testenv.RedisOptions{}).URL())
	rights := `"access_rights":{"api1":{"api_id":"api1","versions":["Default"]}}`
	expect(t, "no active field", s.tyk("POST", "/tyk/policies", `{"id":"on","rate":7,"per":1,`+rights+`}`), 200, "added")
	expect(t, "stored active", s.tyk("GET", "/tyk/policies/on", ""), 200, `"active":true`)
	expect(t, "inactive", s.tyk("POST", "/tyk/policies", `{"id":"off","rate":9,"per":1,"active":false,`+rights+`}`), 200, "added")
	expect(t, "inactive shown", s.tyk("GET", "/tyk/policies/off", ""), 200, `"active":false`)
	if list := s.tyk("GET", "/tyk/policies", ""); !strings.Contains(string(list.body), `"id":"off"`) || !strings.Contains(string(list.body), `"id":"on"`) {
		t.Errorf("list: %s", list.body)
	}
	expect(t, "key on inactive policy", s.tyk("POST", "/tyk/keys/k-off", `{"apply_policies":["off"]}`), 400, `Policy not found: \"off\"`)
	expect(t, "key on active policy", s.tyk("POST", "/tyk/keys/k-on", `{"apply_policies":["on"]}`), 200, "added")
	sync := s.filter("GET", "/turnpike/v1/sync", "")
	if !strings.Contains(string(sync.body), `"on":{`) || strings.Contains(string(sync.body), `"off":{`) {
		t.Errorf("filters must get the active policy only: %s", sync.body)
	}

	// Deactivating a policy in use: as with a deleted policy, the filters
	// lose it and the key can no longer be written with it.
	expect(t, "deactivate", s.tyk("PUT", "/tyk/policies/on", `{"id":"on","rate":7,"per":1,"active":false,`+rights+`}`), 200, "modified")
	expect(t, "update key on deactivated policy", s.tyk("PUT", "/tyk/keys/k-on", `{"apply_policies":["on"]}`), 400, `Policy not found: \"on\"`)
	if sync := s.filter("GET", "/turnpike/v1/sync", ""); strings.Contains(string(sync.body), `"on":{`) {
		t.Errorf("deactivated policy still sent to the filters: %s", sync.body)
	}
}
