package wire

import (
	"strings"
	"testing"
)

func TestOAuthRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		req  OAuthRequest
		body string
	}{
		{OAuthRequest{APIID: "api1", Endpoint: "token", Method: "POST", Authorization: "Basic Y2lkOnNlYw==",
			ContentType: "application/x-www-form-urlencoded", Body: "grant_type=client_credentials"},
			`{"api_id":"api1","endpoint":"token","method":"POST","authorization":"Basic Y2lkOnNlYw==",` +
				`"content_type":"application/x-www-form-urlencoded","query":"","body":"grant_type=client_credentials"}`},
		{OAuthRequest{APIID: "a", Endpoint: "authorize", Method: "GET", Query: "state=<x>&a=\"1\""},
			`{"api_id":"a","endpoint":"authorize","method":"GET","authorization":"","content_type":"",` +
				`"query":"state=\u003cx\u003e\u0026a=\"1\"","body":""}`},
	} {
		b := AppendOAuthRequest(nil, tc.req)
		if string(b) != tc.body {
			t.Errorf("encoded %s\nwant    %s", b, tc.body)
		}
		got, err := DecodeOAuthRequest(b)
		if err != nil || got != tc.req {
			t.Errorf("decoded %+v %v, want %+v", got, err, tc.req)
		}
	}
}

func TestDecodeOAuthRequestErrors(t *testing.T) {
	for body, want := range map[string]string{
		`{"api_id":"a"}`:                         "required",
		`{"api_id":"a","endpoint":1}`:            `field "endpoint": expected a string`,
		`[]`:                                     "not an object",
		`{"api_id":"a","endpoint":"t","new":1}x`: "invalid JSON",
	} {
		if _, err := DecodeOAuthRequest([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", body, err, want)
		}
	}
	// Unknown fields are a newer filter's: ignored.
	if r, err := DecodeOAuthRequest([]byte(`{"api_id":"a","endpoint":"t","new":1,"query":null}`)); err != nil || r.APIID != "a" {
		t.Errorf("unknown field: %+v %v", r, err)
	}
}

func TestOAuthResponseRoundTrip(t *testing.T) {
	for _, r := range []OAuthResponse{
		{Status: 200, Body: "{\"access_token\":\"tp_x\",\"expires_in\":3600,\"token_type\":\"bearer\"}\n"},
		{Status: 307, Location: "http://login/?client_id=c&state=s"},
		{Status: 403, Body: `{"error":"invalid_grant"}`},
	} {
		got, err := DecodeOAuthResponse(AppendOAuthResponse(nil, r))
		if err != nil || got != r {
			t.Errorf("%+v: decoded %+v %v", r, got, err)
		}
	}
	for _, body := range []string{`{}`, `{"status":"200"}`, `{"status":42}`, `{"status":200,"body":1}`, `x`} {
		if _, err := DecodeOAuthResponse([]byte(body)); err == nil {
			t.Errorf("%s decoded", body)
		}
	}
	if r, err := DecodeOAuthResponse([]byte(`{"status":200,"more":[1]}`)); err != nil || r.Status != 200 {
		t.Errorf("unknown field: %+v %v", r, err)
	}
}
