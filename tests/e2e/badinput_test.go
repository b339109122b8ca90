package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBadInput(t *testing.T) {
	e := newEnv(t, options{plugin: `,"identity_headers":true`})
	policy := `{"id":"p1","org_id":"org1","active":true,"quota_max":-1,` + rights("api1") + `}`
	e.mustAPI(http.MethodPost, "/tyk/policies", policy)
	e.mustAPI(http.MethodPost, "/tyk/org/keys/org1", `{"org_id":"org1"}`)
	e.addAPI(apiDef("api1", ""))
	e.mustAPI(http.MethodPost, "/tyk/keys/existing-key", unlimited(rights("api1"), ""))
	e.within(propagation, "/api1/x", "existing-key", 200, "")

	// Every write endpoint, on existing objects for updates.
	writes := []struct{ method, path string }{
		{"POST", "/tyk/keys"},
		{"POST", "/tyk/keys/create"},
		{"POST", "/tyk/keys/new-custom-key"},
		{"PUT", "/tyk/keys/existing-key"},
		{"POST", "/tyk/policies"},
		{"POST", "/tyk/policies/p1"},
		{"PUT", "/tyk/policies/p1"},
		{"POST", "/tyk/apis"},
		{"PUT", "/tyk/apis/api1"},
		{"POST", "/tyk/org/keys/org1"},
		{"PUT", "/tyk/org/keys/org1"},
	}

	t.Run("malformed JSON", func(t *testing.T) {
		for _, w := range writes {
			for _, body := range []string{`{"org_id":`, `not json`, `[1,2,3]`, `"text"`, `{"org_id":7}`, `{"org_id":["org1"]}`, ` `, "{\"alias\":\"\xff\"}"} {
				r := e.api(w.method, w.path, body)
				var env struct{ Status, Message string }
				if err := json.Unmarshal([]byte(r.body), &env); err != nil || r.status != 400 ||
					env.Status != "error" || !strings.HasPrefix(env.Message, "Request malformed") {
					t.Errorf("%s %s %q: %s; want 400 Request malformed…", w.method, w.path, body, r)
				}
			}
		}
	})

	t.Run("oversized bodies", func(t *testing.T) {
		big := `{"org_id":"org1","meta_data":{"pad":"` + strings.Repeat("x", maxBody) + `"}}`
		for _, w := range writes {
			r := e.api(w.method, w.path, big)
			if err := apiError(r, 413, fmt.Sprintf("Request body too large: the limit is %d bytes", maxBody)); err != nil {
				t.Errorf("%s %s: %v", w.method, w.path, err)
			}
		}
	})

	t.Run("nothing was changed by the rejected writes", func(t *testing.T) {
		e.within(propagation, "/api1/x", "existing-key", 200, "")
		if err := apiError(e.api("GET", "/tyk/keys/new-custom-key", ""), 404, "Key not found"); err != nil {
			t.Error(err)
		}
		var list []map[string]any
		r := e.api("GET", "/tyk/policies", "")
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 1 || list[0]["id"] != "p1" {
			t.Errorf("policies after the rejected writes: %s", r)
		}
		r = e.api("GET", "/tyk/apis", "")
		if err := json.Unmarshal([]byte(r.body), &list); err != nil || len(list) != 1 || list[0]["api_id"] != "api1" {
			t.Errorf("APIs after the rejected writes: %s", r)
		}
	})

	t.Run("wrong or missing secret", func(t *testing.T) {
		for _, secret := range []string{"", "wrong", strings.ToUpper(secret), secret + "x", " " + secret + "x"} {
			req, _ := http.NewRequest("GET", e.sidecarURLs[1]+"/tyk/keys", nil)
			if secret != "" {
				req.Header.Set("X-Tyk-Authorization", secret)
			}
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b := make([]byte, 512)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			r := reply{status: resp.StatusCode, body: string(b[:n])}
			if err := apiError(r, 403, "Attempted administrative access with invalid or missing key!"); err != nil {
				t.Errorf("secret %q: %v", secret, err)
			}
		}
	})

	t.Run("garbage keys", func(t *testing.T) {
		const denied = "Access to this API has been disallowed"
		for _, key := range []string{
			"ab",                                 // too short
			strings.Repeat("k", 257),             // too long
			"tp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  // generated-key shape, bad checksum
			"EXISTING-KEY",                       // keys are case sensitive
			"ключ-🔑-key",                         // non-ASCII
			"' OR 1=1 --",                        // injection-shaped
			"../../../../etc/passwd",             // path-shaped
			`{"key":"x"}`,                        // JSON-shaped
			"existing-key\xff",                   // not UTF-8
			"existing-key\tx",                    // tab inside
			"Basic ZXhpc3Rpbmcta2V5OnBhc3N3b3Jk", // another scheme: the whole value is the key
		} {
			r, err := e.try("GET", "/api1/x", nil, key)
			if err != nil {
				t.Fatalf("key %q: %v", key, err)
			}
			if err := r.is(403, denied); err != nil {
				t.Errorf("key %q: %v", key, err)
			}
		}
		// A flood of random unknown keys: each is refused, none is a 5xx.
		got := map[int]int{}
		for i := range 200 {
			got[e.get("/api1/x", fmt.Sprintf("random-unknown-key-%d", i)).status]++
		}
		if got[403] != 200 {
			t.Errorf("200 unknown keys: %v, want all 403", got)
		}
		e.within(propagation, "/api1/x", "existing-key", 200, "")
	})

	t.Run("garbage headers", func(t *testing.T) {
		h := http.Header{}
		for i := range 100 {
			h.Set(fmt.Sprintf("X-Junk-%d", i), strings.Repeat("\xff\tz", 40))
		}
		h.Set("X-Turnpike-Key-Hash", "forged") // replaced by the filter (identity_headers is on)
		r, err := e.try("GET", "/api1/x", h, "existing-key")
		if err != nil {
			t.Fatal(err)
		}
		if err := r.is(200, ""); err != nil {
			t.Fatalf("valid key with 100 junk headers: %v", err)
		}
		var echo struct{ Headers http.Header }
		if err := json.Unmarshal([]byte(r.body), &echo); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte("existing-key"))
		if v := echo.Headers.Values("X-Turnpike-Key-Hash"); len(v) != 1 || v[0] != hex.EncodeToString(sum[:]) {
			t.Errorf("the upstream got X-Turnpike-Key-Hash %q, want only the key's hash", v)
		}
		// Bytes HTTP forbids in a header are refused by the gateway's HTTP
		// server (400) before the filter, and do not disturb it.
		for _, raw := range []string{"Authorization: existing\x00key", "X-Junk: a\rb", "Bad Header Name: x"} {
			if got := rawStatus(t, e.gatewayURL, "GET /api1/x HTTP/1.1\r\nHost: gw\r\n"+raw+"\r\n\r\n"); got != 400 {
				t.Errorf("raw header %q: status %d, want 400", raw, got)
			}
		}
		// Two Authorization headers: the first one is the key.
		h = http.Header{"Authorization": {"no-such-key-1", "existing-key"}}
		if r, err = e.try("GET", "/api1/x", h, ""); err != nil {
			t.Fatal(err)
		}
		if err := r.is(403, "Access to this API has been disallowed"); err != nil {
			t.Errorf("two Authorization headers: %v", err)
		}
	})
}

// rawStatus sends a hand-written HTTP/1.1 request, which net/http's client
// would refuse to send, and returns the response status.
func rawStatus(t *testing.T, baseURL, request string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(baseURL, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", request, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
