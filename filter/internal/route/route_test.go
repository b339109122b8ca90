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
		StripParam(j, "a")
		StripCookie(j, "a")
		New([]*model.APIDefinition{api("a", j, j)}).Match(j, j)
	}
}

func FuzzStripParam(f *testing.F) {
	f.Add("/a?key=%41", "key")
	f.Fuzz(func(t *testing.T, path, name string) {
		if QueryParam(StripParam(path, name), name) != "" {
			t.Fatalf("StripParam(%q, %q) left the parameter", path, name)
		}
		New(nil).Match(name, path)
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
