package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// newRedis is an in-process Redis for the sessions (the app's tests run the
// console on a real redis-server, two replicas sharing it).
func newRedis(t *testing.T) (*miniredis.Miniredis, redis.UniversalClient) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	return m, c
}

// inner stands for the Gateway API: it echoes the secret header it got.
func newTestConsole(t *testing.T) (*httptest.Server, *[]string) {
	var seen []string
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("X-Tyk-Authorization")+" cookie="+r.Header.Get("Cookie"))
		w.WriteHeader(http.StatusTeapot)
	})
	mux := http.NewServeMux()
	_, rc := newRedis(t)
	New(Deps{Secret: "s3cret", API: inner, Status: func(context.Context) any { return map[string]bool{"ready": true} },
		Redis: rc}).Register(mux)
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
	m, rc := newRedis(t)
	c := New(Deps{Secret: "s", API: http.NotFoundHandler(), Redis: rc, SessionTTL: time.Minute})
	rr := httptest.NewRecorder()
	c.ServeHTTP(rr, httptest.NewRequest("POST", "/console/login", strings.NewReader(`{"secret":"s"}`)))
	ck := rr.Result().Cookies()[0]
	sessionCode := func() int {
		req := httptest.NewRequest("GET", "/console/session", nil)
		req.AddCookie(ck)
		rr := httptest.NewRecorder()
		c.ServeHTTP(rr, req)
		return rr.Code
	}
	if code := sessionCode(); code != 200 {
		t.Fatalf("right after login: %d", code)
	}
	// Each use extends the session: 40 s + 40 s is still within a minute
	// of the last use.
	m.FastForward(40 * time.Second)
	if code := sessionCode(); code != 200 {
		t.Fatalf("40 s after login: %d", code)
	}
	m.FastForward(40 * time.Second)
	if code := sessionCode(); code != 200 {
		t.Fatalf("40 s after the last use: %d", code)
	}
	m.FastForward(2 * time.Minute)
	if code := sessionCode(); code != 401 {
		t.Fatalf("session outlived its TTL: %d", code)
	}
}

// Redis holds the session id's hash, never the id (the cookie's value).
func TestConsoleSessionStoredHashed(t *testing.T) {
	m, rc := newRedis(t)
	c := New(Deps{Secret: "s", API: http.NotFoundHandler(), Redis: rc})
	rr := httptest.NewRecorder()
	c.ServeHTTP(rr, httptest.NewRequest("POST", "/console/login", strings.NewReader(`{"secret":"s"}`)))
	id := rr.Result().Cookies()[0].Value
	keys := m.Keys()
	if len(keys) != 1 || keys[0] != sessionKey(id) || strings.Contains(keys[0], id) {
		t.Fatalf("Redis keys %q for session %s", keys, id)
	}
	if ttl := m.TTL(keys[0]); ttl != 8*time.Hour {
		t.Fatalf("TTL %v, want the default 8 h", ttl)
	}
}

// With Redis down the console answers 503 (the page stays, showing the
// message), never 401 (which would send the operator to the login form)
// and never lets a request through.
func TestConsoleRedisDown(t *testing.T) {
	m, rc := newRedis(t)
	called := false
	c := New(Deps{Secret: "s", Redis: rc, RedisTimeout: 200 * time.Millisecond,
		API: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })})
	rr := httptest.NewRecorder()
	c.ServeHTTP(rr, httptest.NewRequest("POST", "/console/login", strings.NewReader(`{"secret":"s"}`)))
	ck := rr.Result().Cookies()[0]
	m.Close()
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/console/session", ""},
		{"GET", "/console/api/tyk/keys", ""},
		{"POST", "/console/login", `{"secret":"s"}`},
		{"POST", "/console/logout", ""},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		req.AddCookie(ck)
		rr := httptest.NewRecorder()
		c.ServeHTTP(rr, req)
		if rr.Code != http.StatusServiceUnavailable || !strings.Contains(rr.Body.String(), "session store unavailable") {
			t.Errorf("%s %s with Redis down: %d %s", tc.method, tc.path, rr.Code, rr.Body)
		}
	}
	if called {
		t.Fatal("a request reached the Gateway API without a checked session")
	}
}
