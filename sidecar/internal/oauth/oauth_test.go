package oauth

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
)

// osin's ValidateUri: same scheme and host, the path under the registered
// one, no fragment.
func TestValidRedirect(t *testing.T) {
	for _, tc := range []struct {
		base, redirect string
		ok             bool
	}{
		{"http://c.example.com/cb", "http://c.example.com/cb", true},
		{"http://c.example.com/cb", "http://c.example.com/cb/more?x=1", true},
		{"http://c.example.com/cb", "https://c.example.com/cb", false},
		{"http://c.example.com/cb", "http://evil.example.com/cb", false},
		{"http://c.example.com/cb", "http://c.example.com/other", false},
		{"http://c.example.com/cb", "http://c.example.com/cb#frag", false},
		{"http://c.example.com/cb", "", false},
		{"", "http://c.example.com/cb", false},
	} {
		if got := validRedirect(tc.base, tc.redirect); got != tc.ok {
			t.Errorf("validRedirect(%q, %q) = %v", tc.base, tc.redirect, got)
		}
	}
	if got := withQuery("http://c/cb?a=1", map[string]string{"code": "x y", "state": "s"}); got != "http://c/cb?a=1&code=x+y&state=s" {
		t.Errorf("withQuery = %q", got)
	}
}

func TestSessionFor(t *testing.T) {
	snap := snapshot.Build(map[string]*model.Policy{
		"pol": {ID: "pol", OrgID: "org1", Active: true, Rate: 5, Per: 1, QuotaMax: -1,
			MetaData:     map[string]model.RawValue{"tier": model.RawValue(`"gold"`)},
			AccessRights: map[string]model.AccessDefinition{"api": {APIID: "api", Versions: []string{"Default"}}}},
		"none": {ID: "none", Active: true},
	}, nil, nil)
	now := time.Unix(1_700_000_000, 0)
	c := &Client{ID: "c1", PolicyID: "pol", MetaData: json.RawMessage(`{"tier":"client","app":"a"}`)}
	s, err := sessionFor(snap, c, "", 3600, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.OauthClientID != "c1" || s.Expires != now.Unix()+3600 || s.Rate != 5 ||
		string(s.MetaData["tier"]) != `"gold"` || string(s.MetaData["app"]) != `"a"` {
		t.Errorf("session %s", s.AppendJSON(nil))
	}
	// key_rules (a session) replace the policy's.
	s, err = sessionFor(snap, c, `{"org_id":"org1","rate":9,"per":1,"access_rights":{"api":{"api_id":"api","versions":["Default"]}}}`, 60, now)
	if err != nil || s.Rate != 9 || s.Expires != now.Unix()+60 {
		t.Errorf("key_rules: %v %+v", err, s)
	}
	for _, bad := range []*Client{{ID: "c", PolicyID: ""}, {ID: "c", PolicyID: "gone"}, {ID: "c", PolicyID: "none"}} {
		if _, err := sessionFor(snap, bad, "", 60, now); err == nil {
			t.Errorf("client %+v: a session", bad)
		}
	}
}
