package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// Console sessions live in Redis: two replicas behind a load balancer (one
// redis-server) accept a session made on either, a replica started later
// (a restart) accepts it too, and a logout on one ends it on all.
func TestConsoleSessionsAcrossReplicas(t *testing.T) {
	url := testenv.StartRedis(t, testenv.RedisOptions{}).URL()
	a, b := start(t, url), start(t, url)

	login := a.do("POST", "/console/login", `{"secret":"`+secret+`"}`)
	expect(t, "login on replica A", login, 200, `"csrf"`)
	var cookie string
	for _, c := range (&http.Response{Header: login.header}).Cookies() {
		if c.Name == "turnpike_console" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("no session cookie: %v", login.header)
	}
	var got struct{ CSRF string }
	if err := json.Unmarshal(login.body, &got); err != nil || got.CSRF == "" {
		t.Fatalf("login answer %s", login.body)
	}
	withSession := []string{"Cookie", cookie}
	withCSRF := []string{"Cookie", cookie, "X-CSRF-Token", got.CSRF}

	// Replica B: reads, the page's reload (the CSRF token), and a write
	// with the token replica A gave.
	expect(t, "read on replica B", b.do("GET", "/console/api/tyk/policies", "", withSession...), 200, "[")
	expect(t, "session on replica B", b.do("GET", "/console/session", "", withSession...), 200, got.CSRF)
	expect(t, "write on replica B", b.do("POST", "/console/api/tyk/policies",
		`{"id":"p1","rate":10,"per":60,"access_rights":{}}`, withCSRF...), 200, `"added"`)
	expect(t, "write with another token", b.do("DELETE", "/console/api/tyk/policies/p1", "",
		"Cookie", cookie, "X-CSRF-Token", strings.Repeat("0", 64)), 403, "CSRF")

	// A replica started after the login (a restart, or a new replica).
	c := start(t, url)
	expect(t, "read on a new replica", c.do("GET", "/console/api/tyk/policies", "", withSession...), 200, `"p1"`)

	// Logging out on replica B ends the session on A and C too.
	expect(t, "logout on replica B", b.do("POST", "/console/logout", "", withCSRF...), 200, "logged out")
	for name, s := range map[string]*sidecar{"A": a, "B": b, "C": c} {
		expect(t, "read on replica "+name+" after logout", s.do("GET", "/console/api/tyk/policies", "", withSession...),
			401, "not logged in")
	}
}
