package oauth

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ listen, path, want string }{
		{"/api/", "/api/oauth/token", EndpointToken},
		{"/api/", "/api/oauth/token/", EndpointToken},
		{"/api", "/api/oauth/token", EndpointToken},
		{"/api/", "/api/oauth/authorize/", EndpointAuthorize},
		{"/api/", "/api/oauth/revoke", EndpointRevoke},
		{"/api/", "/api/oauth/revoke_all", EndpointRevokeAll},
		{"/api/", "/api/oauth/revoke/", ""},
		{"/api/", "/api/oauth/tokens", ""},
		{"/api/", "/other/oauth/token", ""},
		{"/", "/oauth/token", EndpointToken},
	} {
		if got := Endpoint(tc.listen, tc.path); got != tc.want {
			t.Errorf("Endpoint(%q, %q) = %q, want %q", tc.listen, tc.path, got, tc.want)
		}
	}
}

// ParseForm agrees with url.ParseQuery, including on its errors.
func TestParseFormMatchesNetURL(t *testing.T) {
	for _, s := range []string{
		"", "a=1&b=2", "a=1&a=2", "grant_type=client_credentials&scope=read+write",
		"redirect_uri=http%3A%2F%2Fx%2Fcb%3Fa%3D1", "=x&b", "a=%zz&b=2", "a=1;b=2&c=3", "a=%4", "&&a=&",
	} {
		f, err := ParseForm(s)
		want, werr := url.ParseQuery(s)
		if (err != nil) != (werr != nil) {
			t.Errorf("%q: error %v, net/url %v", s, err, werr)
		}
		got := url.Values{}
		for _, p := range f {
			got[p.Name] = append(got[p.Name], p.Value)
		}
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, net/url %v", s, got, want)
		}
	}
}

func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, method, ct, query, body string
		want                          map[string]string
		err                           bool
	}{
		{"form body", "POST", "application/x-www-form-urlencoded", "", "grant_type=client_credentials",
			map[string]string{"grant_type": "client_credentials"}, false},
		{"body before query", "POST", "application/x-www-form-urlencoded; charset=utf-8", "grant_type=q", "grant_type=b",
			map[string]string{"grant_type": "b"}, false},
		{"query only", "POST", "", "grant_type=q", "grant_type=b", map[string]string{"grant_type": "q"}, false},
		{"GET ignores the body", "GET", "application/x-www-form-urlencoded", "", "grant_type=b",
			map[string]string{"grant_type": ""}, false},
		{"json replaces", "POST", "application/json", "grant_type=q", `{"grant_type":"j","code":"c"}`,
			map[string]string{"grant_type": "j", "code": "c"}, false},
		{"json not strings is ignored", "POST", "application/json", "", `{"grant_type":1}`,
			map[string]string{"grant_type": ""}, false},
		{"bad escape", "POST", "application/x-www-form-urlencoded", "", "code=%zz", nil, true},
	} {
		r, err := ParseRequest(tc.method, "", tc.ct, tc.query, []byte(tc.body))
		if (err != nil) != tc.err {
			t.Errorf("%s: error %v", tc.name, err)
			continue
		}
		for k, v := range tc.want {
			if got := r.Params.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", tc.name, k, got, v)
			}
		}
	}
}

func TestParseBasic(t *testing.T) {
	for _, tc := range []struct {
		h, id, secret string
		present, err  bool
	}{
		{"", "", "", false, false},
		{string(AppendBasic(nil, "client", "s:e:c")), "client", "s:e:c", true, false},
		{"basic Y2xpZW50OnNlYw==", "", "", true, true}, // osin wants "Basic" exactly
		{"Basic !!!", "", "", true, true},
		{"Basic Y2xpZW50", "", "", true, true}, // no colon
		{"Bearer abc", "", "", true, true},
	} {
		id, secret, present, err := ParseBasic(tc.h)
		if id != tc.id || secret != tc.secret || present != tc.present || (err != nil) != tc.err {
			t.Errorf("%q: %q %q %v %v", tc.h, id, secret, present, err)
		}
	}
}

func TestCheckToken(t *testing.T) {
	basic := string(AppendBasic(nil, "cid", "sec"))
	all := []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantPassword}
	form := func(s string) Form { f, _ := ParseForm(s); return f }
	for _, tc := range []struct {
		name    string
		r       Request
		allowed []string
		want    TokenRequest
		err     string
	}{
		{"client credentials", Request{"POST", basic, form("grant_type=client_credentials&scope=a")}, all,
			TokenRequest{GrantType: GrantClientCredentials, ClientID: "cid", ClientSecret: "sec", Scope: "a"}, ""},
		{"code", Request{"POST", basic, form("grant_type=authorization_code&code=c1&redirect_uri=http://x/cb")}, all,
			TokenRequest{GrantType: GrantAuthorizationCode, ClientID: "cid", ClientSecret: "sec", Code: "c1", RedirectURI: "http://x/cb"}, ""},
		{"refresh", Request{"POST", basic, form("grant_type=refresh_token&refresh_token=r1")}, all,
			TokenRequest{GrantType: GrantRefreshToken, ClientID: "cid", ClientSecret: "sec", RefreshToken: "r1"}, ""},
		{"GET", Request{"GET", basic, form("grant_type=client_credentials")}, all, TokenRequest{}, ErrInvalidRequest},
		{"grant not allowed", Request{"POST", basic, form("grant_type=client_credentials")},
			[]string{GrantAuthorizationCode}, TokenRequest{}, ErrUnsupportedGrantType},
		{"password not implemented", Request{"POST", basic, form("grant_type=password&username=u&password=p")}, all,
			TokenRequest{}, ErrUnsupportedGrantType},
		{"no grant", Request{"POST", basic, nil}, all, TokenRequest{}, ErrUnsupportedGrantType},
		{"no client auth", Request{"POST", "", form("grant_type=client_credentials&client_id=cid&client_secret=sec")}, all,
			TokenRequest{}, ErrInvalidRequest},
		{"malformed client auth", Request{"POST", "Basic x", form("grant_type=client_credentials")}, all,
			TokenRequest{}, ErrInvalidRequest},
		{"code missing", Request{"POST", basic, form("grant_type=authorization_code")}, all, TokenRequest{}, ErrInvalidGrant},
		{"refresh missing", Request{"POST", basic, form("grant_type=refresh_token")}, all, TokenRequest{}, ErrInvalidGrant},
	} {
		got, e := CheckToken(tc.r, tc.allowed)
		code := ""
		if e != nil {
			code = e.Code
		}
		if got != tc.want || code != tc.err {
			t.Errorf("%s: %+v %q, want %+v %q", tc.name, got, code, tc.want, tc.err)
		}
	}
}

func TestCheckAuthorize(t *testing.T) {
	f, _ := ParseForm("response_type=code&client_id=c&redirect_uri=http%253A%252F%252Fx%252Fcb&state=s")
	a, e := CheckAuthorize(f, []string{"code"})
	if e != nil || a != (AuthorizeRequest{ResponseType: "code", ClientID: "c", RedirectURI: "http://x/cb", State: "s"}) {
		t.Errorf("got %+v %v", a, e)
	}
	if _, e := CheckAuthorize(f, []string{"token"}); e == nil || e.Code != ErrUnsupportedResponseType {
		t.Errorf("code not allowed: %v", e)
	}
	f, _ = ParseForm("response_type=token&client_id=c")
	if _, e := CheckAuthorize(f, []string{"code", "token"}); e == nil || e.Code != ErrUnsupportedResponseType {
		t.Errorf("implicit: %v", e)
	}
}

// The bodies are osin's output as Tyk encodes it: encoding/json of a map
// (sorted keys) plus a newline.
func TestBodies(t *testing.T) {
	encode := func(m map[string]any) string {
		b, _ := json.Marshal(m)
		return string(b) + "\n"
	}
	for _, tc := range []struct{ got, want string }{
		{string(AppendError(nil, Err(ErrInvalidGrant))),
			encode(map[string]any{"error": ErrInvalidGrant, "error_description": Description(ErrInvalidGrant)})},
		{string(AppendError(nil, &Error{Code: ErrAccessDenied, State: "xyz"})),
			encode(map[string]any{"error": ErrAccessDenied, "error_description": Description(ErrAccessDenied), "state": "xyz"})},
		{string(AppendToken(nil, Token{AccessToken: "a", ExpiresIn: 3600})),
			encode(map[string]any{"access_token": "a", "expires_in": 3600, "token_type": "bearer"})},
		{string(AppendToken(nil, Token{AccessToken: "a", ExpiresIn: 60, RefreshToken: "r", Scope: "s"})),
			encode(map[string]any{"access_token": "a", "expires_in": 60, "refresh_token": "r", "scope": "s", "token_type": "bearer"})},
		{string(AppendStatus(nil, "ok", MsgTokenRevoked)), `{"status":"ok","message":"token revoked successfully"}` + "\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got  %s\nwant %s", tc.got, tc.want)
		}
	}
}

func TestEndpointDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { Endpoint("/api/", "/api/items/1") }); n != 0 {
		t.Errorf("%v allocations per call", n)
	}
}
