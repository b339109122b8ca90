package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Revocations and edits must reach the gateway within this long.
const propagation = time.Second

// unlimited is a session body for org1 with the given access rights and
// no rate or quota, so probes never spend anything.
func unlimited(rightsJSON string, extra string) string {
	return `{"org_id":"org1","rate":0,"per":0,"quota_max":-1,` + rightsJSON + extra + `}`
}

func TestKeyLifecycle(t *testing.T) {
	e := newEnv(t, options{})
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"expiring","org_id":"org1","active":true,"key_expires_in":2,
		"quota_max":-1,`+rights("api1")+`}`)
	e.mustAPI(http.MethodPost, "/tyk/policies", `{"id":"switchable","org_id":"org1","active":true,
		"quota_max":-1,`+rights("api1")+`}`)
	e.addAPI(apiDef("api1", ""))
	e.addAPI(apiDef("api2", ""))

	t.Run("generated key", func(t *testing.T) {
		v := e.mustAPI(http.MethodPost, "/tyk/keys", unlimited(rights("api1"), ""))
		key, _ := v["key"].(string)
		sum := sha256.Sum256([]byte(key))
		if v["key_hash"] != hex.EncodeToString(sum[:]) || len(key) < 10 || key[:3] != "tp_" {
			t.Fatalf("create: %v; want a tp_ key and its SHA-256 as key_hash", v)
		}
		r := e.expect("/api1/items?x=1", key, 200, "")
		var echo struct{ Path, Query string }
		if err := json.Unmarshal([]byte(r.body), &echo); err != nil || echo.Path != "/api1/items" || echo.Query != "x=1" {
			t.Fatalf("upstream saw %+v (%v), want /api1/items?x=1", echo, err)
		}
		e.expect("/api2/items", key, 403, "Access to this API has been disallowed")
	})

	t.Run("custom key", func(t *testing.T) {
		v := e.mustAPI(http.MethodPost, "/tyk/keys/my-custom-key-1", unlimited(rights("api1"), ""))
		if v["key"] != "my-custom-key-1" || v["action"] != "added" {
			t.Fatalf("create: %v", v)
		}
		e.expect("/api1/x", "my-custom-key-1", 200, "")
		e.expect("/api1/x", "Bearer my-custom-key-1", 200, "")
		if got := e.getKey("my-custom-key-1")["org_id"]; got != "org1" {
			t.Fatalf("GET key: org_id %v", got)
		}
	})

	t.Run("update keeps or resets the quota", func(t *testing.T) {
		body := `{"org_id":"org1","quota_max":3,"quota_renewal_rate":3600,` + rights("api1") + `}`
		e.mustAPI(http.MethodPost, "/tyk/keys/quota-key-1", body)
		if got := e.statuses(4, "/api1/x", "quota-key-1"); !equal(got, 200, 200, 200, 403) {
			t.Fatalf("statuses %v, want 3 x 200 then 403", got)
		}
		e.expect("/api1/x", "quota-key-1", 403, "Quota exceeded")

		// suppress_reset=1 keeps the counter: still exhausted on every VM,
		// after the update reached them.
		e.mustAPI(http.MethodPut, "/tyk/keys/quota-key-1?suppress_reset=1", body)
		e.within(propagation, "/api1/x", "quota-key-1", 403, "Quota exceeded")
		if rem := num(t, e.getKey("quota-key-1"), "quota_remaining"); rem != 0 {
			t.Fatalf("quota_remaining %d after suppress_reset, want 0", rem)
		}

		// A plain update resets it: the first request after it passes and
		// then exactly quota_max - 1 more.
		e.mustAPI(http.MethodPut, "/tyk/keys/quota-key-1", body)
		if rem := num(t, e.getKey("quota-key-1"), "quota_remaining"); rem != 3 {
			t.Fatalf("quota_remaining %d after the update, want 3", rem)
		}
		e.eventually(propagation, "quota reset", func() error { return e.get("/api1/x", "quota-key-1").is(200, "") })
		if got := e.statuses(3, "/api1/x", "quota-key-1"); !equal(got, 200, 200, 403) {
			t.Fatalf("statuses after the reset %v, want 200 200 403", got)
		}
	})

	t.Run("update changes access", func(t *testing.T) {
		key := e.createKey(unlimited(rights("api1"), ""))
		e.within(propagation, "/api1/x", key, 200, "")
		e.mustAPI(http.MethodPut, "/tyk/keys/"+key, unlimited(rights("api2"), ""))
		d := e.within(propagation, "/api1/x", key, 403, "Access to this API has been disallowed")
		e.expect("/api2/x", key, 200, "")
		t.Logf("access change applied on every VM after %v", d)
	})

	t.Run("expiry", func(t *testing.T) {
		direct := e.createKey(unlimited(rights("api1"), `,"expires":`+strconv.FormatInt(time.Now().Unix()+2, 10)))
		viaPolicy := e.createKey(`{"org_id":"org1","apply_policies":["expiring"]}`)
		created := time.Now().Unix()
		exp := num(t, e.getKey(viaPolicy), "expires")
		if exp < created+1 || exp > created+3 {
			t.Fatalf("expires %d for a key_expires_in 2 policy created at %d", exp, created)
		}
		e.expect("/api1/x", direct, 200, "")
		e.expect("/api1/x", viaPolicy, 200, "")
		e.within(4*time.Second, "/api1/x", direct, 401, "Key has expired, please renew")
		e.within(4*time.Second, "/api1/x", viaPolicy, 401, "Key has expired, please renew")
		if now := time.Now().Unix(); now < exp {
			t.Fatalf("the key expired before its expires (%d < %d)", now, exp)
		}
	})

	t.Run("deactivate", func(t *testing.T) {
		key := e.createKey(unlimited(rights("api1"), ""))
		e.within(propagation, "/api1/x", key, 200, "")
		e.mustAPI(http.MethodPut, "/tyk/keys/"+key, unlimited(rights("api1"), `,"is_inactive":true`))
		e.within(propagation, "/api1/x", key, 403, "Key is inactive, please renew")

		polKey := e.createKey(`{"org_id":"org1","apply_policies":["switchable"]}`)
		e.within(propagation, "/api1/x", polKey, 200, "")
		e.mustAPI(http.MethodPut, "/tyk/policies/switchable", `{"id":"switchable","org_id":"org1","active":true,
			"is_inactive":true,"quota_max":-1,`+rights("api1")+`}`)
		e.within(propagation, "/api1/x", polKey, 403, "Key is inactive, please renew")
	})

	t.Run("delete", func(t *testing.T) {
		key := e.createKey(unlimited(rights("api1"), ""))
		e.within(propagation, "/api1/x", key, 200, "") // cached on every VM
		v := e.mustAPI(http.MethodDelete, "/tyk/keys/"+key, "")
		if v["action"] != "deleted" {
			t.Fatalf("delete: %v", v)
		}
		d := e.within(propagation, "/api1/x", key, 403, "Access to this API has been disallowed")
		t.Logf("deleted key refused on every VM after %v", d)
		if err := apiError(e.api(http.MethodGet, "/tyk/keys/"+key, ""), 404, "Key not found"); err != nil {
			t.Fatal(err)
		}
		if err := apiError(e.api(http.MethodDelete, "/tyk/keys/"+key, ""), 404, "There is no such key found"); err != nil {
			t.Fatal(err)
		}
	})
}

// equal reports whether got is exactly want.
func equal(got []int, want ...int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
