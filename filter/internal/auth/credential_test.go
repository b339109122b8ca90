package auth

import (
	"testing"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/model"
)

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

func TestExtractJunkNeverPanics(t *testing.T) {
	junk := []string{"", "%", "%%%", "%zz", "?", "?&&==&", "?=%", ";;;", "=;=", "\x00\xff", "?a=%4", "?%4=%"}
	for _, j := range junk {
		auth := &model.AuthConfig{UseParam: true, UseCookie: true}
		Extract(auth, func(string) string { return j }, j)
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
		if c.From == Param && route.QueryParam(route.StripParam(path, "key"), "key") != "" {
			t.Fatalf("StripParam(%q) left the key", path)
		}
	})
}
