package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// inner stands for the Gateway API: it echoes the secret header it got.
func newTestConsole(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("X-Tyk-Authorization")+" cookie="+r.Header.Get("Cookie"))
		w.WriteHeader(http.StatusTeapot)
	})
	mux := http.NewServeMux()
	New(Deps{Secret: "s3cret", API: inner, Status: func(context.Context) any { return map[string]bool{"ready": true} },
		Now: time.Now}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &seen
}

func do(t *testing.T, srv *httptest.Server, method, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestConsoleSessionAndCSRF(t *testing.T) {
	srv, seen := newTestConsole(t)

	resp, body := do(t, srv, "GET", "/console/", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "assets/app.js") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("index: %d %q", resp.StatusCode, resp.Header)
	}
	if resp, _ := do(t, srv, "GET", "/console/assets/app.js", "", nil); resp.StatusCode != 200 {
		t.Fatalf("asset: %d", resp.StatusCode)
	}
	if resp, _ := do(t, srv, "GET", "/console/api/tyk/keys", "", nil); resp.StatusCode != 401 {
		t.Fatalf("API without a session: %d", resp.StatusCode)
	}
	if resp, _ := do(t, srv, "POST", "/console/login", `{"secret":"wrong"}`, nil); resp.StatusCode != 403 || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong secret: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp, body = do(t, srv, "POST", "/console/login", `{"secret":"s3cret"}`, nil)
	if resp.StatusCode != 200 || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/console/" || strings.Contains(ck.Value, "s3cret") {
		t.Fatalf("cookie %+v", ck)
	}
	if strings.Contains(body, "s3cret") {
		t.Fatal("login answer contains the secret")
	}
	csrf := body[strings.Index(body, `"csrf":"`)+8 : strings.LastIndex(body, `"`)]
	cookie := map[string]string{"Cookie": ck.Name + "=" + ck.Value}
	if _, b := do(t, srv, "GET", "/console/session", "", cookie); !strings.Contains(b, csrf) {
		t.Fatalf("session: %s", b)
	}

	// Reads go through with the secret added server side; the cookie is not
	// passed on.
	if resp, _ := do(t, srv, "GET", "/console/api/tyk/keys", "", cookie); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("read: %d", resp.StatusCode)
	}
	// Writes need the CSRF token.
	if resp, _ := do(t, srv, "POST", "/console/api/tyk/keys", `{}`, cookie); resp.StatusCode != 403 {
		t.Fatalf("write without CSRF token: %d", resp.StatusCode)
	}
	withCSRF := map[string]string{"Cookie": cookie["Cookie"], "X-CSRF-Token": csrf}
	if resp, _ := do(t, srv, "DELETE", "/console/api/tyk/keys/abc", "", withCSRF); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("write with CSRF token: %d", resp.StatusCode)
	}
	// Only the Gateway API and the usage API are reachable.
	if resp, _ := do(t, srv, "GET", "/console/api/turnpike/v1/sync", "", cookie); resp.StatusCode != 404 {
		t.Fatalf("filter API through the console: %d", resp.StatusCode)
	}
	if resp, b := do(t, srv, "GET", "/console/api/status", "", cookie); resp.StatusCode != 200 || !strings.Contains(b, "ready") {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	want := []string{"GET /tyk/keys auth=s3cret cookie=", "DELETE /tyk/keys/abc auth=s3cret cookie="}
	if strings.Join(*seen, "|") != strings.Join(want, "|") {
		t.Fatalf("Gateway API saw %q, want %q", *seen, want)
	}

	// Logging out ends the session.
	do(t, srv, "POST", "/console/logout", "", withCSRF)
	if resp, _ := do(t, srv, "GET", "/console/api/tyk/keys", "", cookie); resp.StatusCode != 401 {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

func TestConsoleSessionExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New(Deps{Secret: "s", API: http.NotFoundHandler(), Now: func() time.Time { return now }, SessionTTL: time.Minute})
	rr := httptest.NewRecorder()
	c.ServeHTTP(rr, httptest.NewRequest("POST", "/console/login", strings.NewReader(`{"secret":"s"}`)))
	ck := rr.Result().Cookies()[0]
	req := httptest.NewRequest("GET", "/console/session", nil)
	req.AddCookie(ck)
	if c.session(req) == nil {
		t.Fatal("no session right after login")
	}
	now = now.Add(2 * time.Minute)
	if c.session(req) != nil {
		t.Fatal("session outlived its TTL")
	}
}
