package wire

import (
	"net/url"
	"testing"
)

func TestPaths(t *testing.T) {
	// The filter and every deployed sidecar know these literally: they are
	// the protocol, not a detail.
	for got, want := range map[string]string{
		PathSessions: "/turnpike/v1/sessions/", PathSync: "/turnpike/v1/sync", PathQuota: "/turnpike/v1/quota",
		SessionPath("ab12"):           "/turnpike/v1/sessions/ab12",
		JWTSessionPath("ab12", false): "/turnpike/v1/jwt-sessions/ab12",
		JWTSessionPath("ab12", true):  "/turnpike/v1/jwt-sessions/ab12?replace=1",
		HeaderToken:                   "x-turnpike-filter-token", HeaderCursor: "x-turnpike-cursor",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestSyncQuery(t *testing.T) {
	tests := []struct {
		q    SyncQuery
		path string
	}{
		// What today's filter sends: cursor always, version once it has a
		// snapshot.
		{SyncQuery{}, "/turnpike/v1/sync?cursor="},
		{SyncQuery{Cursor: "1700000000000-5"}, "/turnpike/v1/sync?cursor=1700000000000-5"},
		{SyncQuery{Cursor: "1-0", Version: "9f86d0"}, "/turnpike/v1/sync?cursor=1-0&version=9f86d0"},
		{SyncQuery{Cursor: "a b&c", Version: "é", VM: "vm=7/x"},
			"/turnpike/v1/sync?cursor=a%20b%26c&version=%C3%A9&vm=vm%3D7%2Fx"},
		{SyncQuery{VM: "3"}, "/turnpike/v1/sync?cursor=&vm=3"},
		{SyncQuery{Cursor: "1-0", Version: "v", VM: "3", Fresh: true}, "/turnpike/v1/sync?cursor=1-0&version=v&vm=3&fresh=1"},
		{SyncQuery{Cursor: "1-0", JWKSRefresh: "api1,api 2"}, "/turnpike/v1/sync?cursor=1-0&jwks_refresh=api1%2Capi%202"},
	}
	for _, tt := range tests {
		path := string(tt.q.AppendPath(nil))
		if path != tt.path {
			t.Errorf("%+v: path %q, want %q", tt.q, path, tt.path)
		}
		// Round trip through the parser the sidecar uses.
		u, err := url.ParseRequestURI(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := SyncQueryFrom(u.Query().Get); got != tt.q {
			t.Errorf("%q parsed as %+v, want %+v", path, got, tt.q)
		}
	}
	// A sidecar ignores parameters it does not know, so adding one is safe.
	u, _ := url.ParseRequestURI("/turnpike/v1/sync?cursor=1-0&future=x")
	if got := SyncQueryFrom(u.Query().Get); got != (SyncQuery{Cursor: "1-0"}) {
		t.Errorf("unknown parameter: %+v", got)
	}
}

func TestErrorResponse(t *testing.T) {
	tests := []struct{ msg, body string }{
		// Today's sidecar answers, byte for byte.
		{"invalid filter token", `{"error":"invalid filter token"}`},
		{"key not found", `{"error":"key not found"}`},
		{"storage unavailable", `{"error":"storage unavailable"}`},
		{`malformed quota request: unknown field "a<b>"`, `{"error":"malformed quota request: unknown field \"a\u003cb\u003e\""}`},
		{"", `{"error":""}`},
	}
	for _, tt := range tests {
		if got := string(AppendErrorResponse(nil, tt.msg)); got != tt.body {
			t.Errorf("AppendErrorResponse(%q) = %s, want %s", tt.msg, got, tt.body)
		}
		got, err := DecodeErrorResponse([]byte(tt.body))
		if err != nil || got.Error != tt.msg {
			t.Errorf("DecodeErrorResponse(%s) = %+v, %v", tt.body, got, err)
		}
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"error":1}`, `{"error":null}`, `{"error":"x"`} {
		if got, err := DecodeErrorResponse([]byte(bad)); err == nil {
			t.Errorf("DecodeErrorResponse(%s) = %+v, want an error", bad, got)
		}
	}
}

func TestValidUTF8(t *testing.T) {
	for in, want := range map[string]string{"": "", "é": "é", "a\xffb": "a\uFFFDb", "\xc3": "\uFFFD", "\xc3\xc3": "\uFFFD\uFFFD"} {
		if got := validUTF8([]byte(in)); got != want {
			t.Errorf("validUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}
