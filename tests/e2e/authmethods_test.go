package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

func basicAuth(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// Basic auth through the gateway: users created through the Gateway API,
// passwords checked in the VMs, and 1,000 wrong passwords in a row neither
// succeed nor take the VMs' CPU from other users.
func TestBasicAuthEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	e.addAPI(apiDef("basic1", `,"use_basic_auth":true`))
	for _, u := range []string{"alice", "bob"} {
		v := e.mustAPI(http.MethodPost, "/tyk/keys/"+u, unlimited(rights("basic1"),
			`,"basic_auth_data":{"password":"`+u+`-pw"}`))
		if v["key"] != "org1"+u {
			t.Fatalf("create %s: %v", u, v)
		}
	}
	if v := e.getKey("alice?username=true&org_id=org1"); v["basic_auth_data"].(map[string]any)["password"] != "" {
		t.Fatalf("GET shows the password: %v", v)
	}

	// Every VM checks the password once (bcrypt), then remembers it.
	e.within(30*time.Second, "/basic1/x", basicAuth("alice", "alice-pw"), 200, "")
	r := e.expect("/basic1/x", basicAuth("alice", "wrong"), 401, "User not authorised")
	if r.header.Get("WWW-Authenticate") != `Basic realm="basic1"` {
		t.Errorf("challenge %q", r.header.Get("WWW-Authenticate"))
	}

	start := time.Now()
	for i := range 1000 {
		if r := e.get("/basic1/x", basicAuth("alice", "guess-"+strconv.Itoa(i))); r.status != 401 {
			t.Fatalf("guess %d: %s", i, r)
		}
	}
	took := time.Since(start)
	// Without the limits, each of the 1,000 would run bcrypt (0.15 s to
	// over a second in a VM); with them, at most 5 per VM and 10 s, within 10% of
	// the VMs' time.
	t.Logf("1000 wrong passwords through the gateway: %v", took)
	if took > 100*time.Second {
		t.Errorf("1000 wrong passwords took %v: bcrypt is not bounded", took)
	}
	// No success was cached for a wrong password; the right ones work again
	// once alice's failure window is over (or at once where remembered).
	e.expect("/basic1/x", basicAuth("alice", "guess-1"), 401, "User not authorised")
	e.within(60*time.Second, "/basic1/x", basicAuth("alice", "alice-pw"), 200, "")
	e.within(60*time.Second, "/basic1/x", basicAuth("bob", "bob-pw"), 200, "")

	// A deleted user is refused within the propagation bound.
	e.mustAPI(http.MethodDelete, "/tyk/keys/org1bob", "")
	e.within(propagation+time.Second, "/basic1/x", basicAuth("bob", "bob-pw"), 401, "User not authorised")
}

func TestHMACEndToEnd(t *testing.T) {
	e := newEnv(t, options{})
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("hmac1", `,"enable_signature_checking":true,"hmac_allowed_clock_skew":30000`))
	e.within(5*time.Second, "/hmac1/x", "", 400, "Authorization field missing, malformed or invalid")
	v := e.mustAPI(http.MethodPost, "/tyk/keys/create", unlimited(rights("hmac1"), `,"hmac_enabled":true`))
	key := v["key"].(string)
	secret, _ := e.getKey(key)["hmac_string"].(string)
	if secret == "" {
		t.Fatal("no hmac_string")
	}
	sign := func(secret string) http.Header {
		date := time.Now().UTC().Format(http.TimeFormat)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("(request-target): get /hmac1/x\ndate: " + date))
		sig := url.QueryEscape(base64.StdEncoding.EncodeToString(m.Sum(nil)))
		return http.Header{"Date": {date}, "Authorization": {`Signature keyId="` + key +
			`",algorithm="hmac-sha256",headers="(request-target) date",signature="` + sig + `"`}}
	}
	e.eventually(5*time.Second, "signed request", func() error {
		for range 4 {
			r, err := e.try(http.MethodGet, "/hmac1/x", sign(secret), "")
			if err != nil {
				return err
			}
			if err := r.is(200, ""); err != nil {
				return err
			}
		}
		return nil
	})
	r, err := e.try(http.MethodGet, "/hmac1/x", sign("not-the-secret"), "")
	if err != nil || r.is(400, "Authorization field missing, malformed or invalid") != nil {
		t.Fatalf("wrong secret: %v %v", r, err)
	}
}
