package route

import (
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

func api(id, listen, domain string) *model.APIDefinition {
	return &model.APIDefinition{APIID: id, Active: true, Domain: domain, Proxy: model.Proxy{ListenPath: listen}}
}

func TestMatch(t *testing.T) {
	inactive := api("off", "/off/", "")
	inactive.Active = false
	tab := New([]*model.APIDefinition{
		api("root", "/", ""),
		api("api", "/api/", ""),
		api("api-v2", "/api/v2", ""),
		api("api-host", "/api/", "example.com"),
		inactive,
	})
	if tab.Len() != 4 {
		t.Fatalf("Len = %d, want 4 (inactive left out)", tab.Len())
	}
	for _, tc := range []struct{ host, path, want string }{
		{"x", "/api/users", "api"},
		{"x", "/api", "api"},
		{"x", "/api?k=v", "api"},
		{"x", "/apix", "root"},
		{"x", "/api/v2/x", "api-v2"},
		{"x", "/api/v2", "api-v2"},
		{"x", "/api/v20", "api"},
		{"example.com", "/api/users", "api-host"},
		{"EXAMPLE.com:8080", "/api/users", "api-host"},
		{"example.com", "/api/v2/a", "api-v2"},
		{"x", "/off/a", "root"},
		{"x", "", "root"},
	} {
		got := tab.Match(tc.host, tc.path)
		if got == nil || got.APIID != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %s", tc.host, tc.path, got, tc.want)
		}
	}
	if got := New([]*model.APIDefinition{api("a", "/a/", "")}).Match("h", "/b"); got != nil {
		t.Errorf("unmatched path returned %s", got.APIID)
	}
}

func TestExtract(t *testing.T) {
	headers := map[string]string{
		"authorization": "Bearer abc123",
		"x-api-key":     "hdr-key",
		"cookie":        `a=1; session="cookie-key"; b=2`,
	}
	get := func(n string) string { return headers[n] }
	for _, tc := range []struct {
		name string
		auth *model.AuthConfig
		path string
		want Credential
	}{
		{"default header, bearer stripped", nil, "/", Credential{"abc123", Header, "authorization"}},
		{"custom header", &model.AuthConfig{AuthHeaderName: "X-API-Key"}, "/", Credential{"hdr-key", Header, "x-api-key"}},
		{"param overrides header", &model.AuthConfig{AuthHeaderName: "x-api-key", UseParam: true, ParamName: "key"},
			"/p?a=b&key=q%2Bk+1", Credential{"q+k 1", Param, "key"}},
		{"empty param keeps header", &model.AuthConfig{UseParam: true, ParamName: "key"}, "/p?key=",
			Credential{"abc123", Header, "authorization"}},
		{"param name defaults to header name", &model.AuthConfig{UseParam: true, DisableHeader: true},
			"/p?Authorization=pk", Credential{"pk", Param, "Authorization"}},
		{"cookie overrides", &model.AuthConfig{UseParam: true, ParamName: "key", UseCookie: true, CookieName: "session"},
			"/p?key=q", Credential{"cookie-key", Cookie, "session"}},
		{"disabled header", &model.AuthConfig{DisableHeader: true}, "/", Credential{}},
		{"missing", &model.AuthConfig{AuthHeaderName: "x-none"}, "/", Credential{}},
	} {
		if got := Extract(tc.auth, get, tc.path); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestBearerCaseInsensitive(t *testing.T) {
	for in, want := range map[string]string{
		"bearer k1": "k1", "BEARER k1": "k1", "Bearer  k1": " k1", "Bearerk1": "Bearerk1", "Bearer ": "",
	} {
		got := Extract(nil, func(string) string { return in }, "/").Key
		if got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestStrip(t *testing.T) {
	for _, tc := range []struct{ in, name, want string }{
		{"/a?key=1&b=2", "key", "/a?b=2"},
		{"/a?b=2&key=1&key=3", "key", "/a?b=2"},
		{"/a?key=1", "key", "/a"},
		{"/a?key=1#f", "key", "/a#f"},
		{"/a", "key", "/a"},
		{"/a?k%65y=1&c", "key", "/a?c"},
	} {
		if got := StripParam(tc.in, tc.name); got != tc.want {
			t.Errorf("StripParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := StripCookie("a=1; s=k;b=2", "s"); got != "a=1; b=2" {
		t.Errorf("StripCookie = %q", got)
	}
	if got := StripCookie("s=k", "s"); got != "" {
		t.Errorf("StripCookie = %q", got)
	}
}

func TestJunkNeverPanics(t *testing.T) {
	junk := []string{"", "%", "%%%", "%zz", "?", "?&&==&", "?=%", ";;;", "=;=", "\x00\xff", "?a=%4", "?%4=%"}
	for _, j := range junk {
		auth := &model.AuthConfig{UseParam: true, UseCookie: true}
		Extract(auth, func(string) string { return j }, j)
		StripParam(j, "a")
		StripCookie(j, "a")
		New([]*model.APIDefinition{api("a", j, j)}).Match(j, j)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("Bearer x", "/a?key=%41", "k=v; a=b")
	f.Fuzz(func(t *testing.T, hdr, path, cookie string) {
		auth := &model.AuthConfig{UseParam: true, ParamName: "key", UseCookie: true}
		c := Extract(auth, func(n string) string {
			if n == "cookie" {
				return cookie
			}
			return hdr
		}, path)
		if c.From == None && c.Key != "" {
			t.Fatalf("key %q without location", c.Key)
		}
		if c.From == Param && QueryParam(StripParam(path, "key"), "key") != "" {
			t.Fatalf("StripParam(%q) left the key", path)
		}
		New(nil).Match(hdr, path)
	})
}

func TestVersion(t *testing.T) {
	hdr := func(n string) string {
		if n == "x-api-version" || n == "x-ver" {
			return "h1"
		}
		return ""
	}
	versioned := func(loc, key string) *model.APIDefinition {
		a := api("v", "/v/", "")
		a.VersionDefinition = model.VersionDefinition{Location: loc, Key: key}
		return a
	}
	unversioned := api("u", "/u/", "")
	unversioned.VersionData.NotVersioned = true
	for _, tc := range []struct {
		api  *model.APIDefinition
		path string
		want string
	}{
		{versioned("", ""), "/v/x", "h1"},
		{versioned("header", "X-Ver"), "/v/x", "h1"},
		{versioned("url-param", ""), "/v/x?version=p2", "p2"},
		{versioned("url-param", "ver"), "/v/x?ver=p3", "p3"},
		{versioned("url", ""), "/v/u4/rest?x", "u4"},
		{versioned("url", ""), "/v", ""},
		{unversioned, "/u/x", ""},
		{nil, "/", ""},
	} {
		if got := Version(tc.api, hdr, tc.path); got != tc.want {
			t.Errorf("Version(%v, %q) = %q, want %q", tc.api, tc.path, got, tc.want)
		}
	}
}
