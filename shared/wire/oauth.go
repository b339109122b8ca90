package wire

import (
	"errors"
	"strconv"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/valyala/fastjson"
)

// PathOAuth is POST: a request to one of an OAuth API's endpoints under its
// listen path (/oauth/token, /oauth/authorize, /oauth/revoke,
// /oauth/revoke_all), which the filter answers itself with what the sidecar
// says. Body OAuthRequest, answer OAuthResponse.
const PathOAuth = PathPrefix + "oauth"

// MaxOAuthBody bounds the request body the filter reads and forwards for an
// OAuth endpoint; a token request is a few hundred bytes.
const MaxOAuthBody = 16 << 10

// OAuthRequest is the body of POST PathOAuth: the request as the client
// sent it, after the filter's checks (shared/oauth). The sidecar parses it
// with the same code and checks it again.
type OAuthRequest struct {
	APIID         string
	Endpoint      string // shared/oauth.EndpointToken, ...
	Method        string
	Authorization string // the Authorization header (client credentials)
	ContentType   string
	Query         string // the raw query string, without '?'
	Body          string
}

// AppendOAuthRequest appends r as
// {"api_id":…,"endpoint":…,"method":…,"authorization":…,"content_type":…,"query":…,"body":…}.
func AppendOAuthRequest(dst []byte, r OAuthRequest) []byte {
	for i, f := range r.fields() {
		if i == 0 {
			dst = append(dst, '{')
		} else {
			dst = append(dst, ',')
		}
		dst = model.AppendString(dst, f.name)
		dst = append(dst, ':')
		dst = model.AppendString(dst, *f.v)
	}
	return append(dst, '}')
}

func (r *OAuthRequest) fields() [7]struct {
	name string
	v    *string
} {
	return [7]struct {
		name string
		v    *string
	}{
		{"api_id", &r.APIID}, {"endpoint", &r.Endpoint}, {"method", &r.Method},
		{"authorization", &r.Authorization}, {"content_type", &r.ContentType},
		{"query", &r.Query}, {"body", &r.Body},
	}
}

// DecodeOAuthRequest decodes an OAuth request: a JSON object whose known
// fields are strings (or null); unknown fields are ignored (a newer filter
// may send more). api_id and endpoint are required.
func DecodeOAuthRequest(body []byte) (OAuthRequest, error) {
	var r OAuthRequest
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "oauth request")
	if err != nil {
		return r, err
	}
	for _, f := range r.fields() {
		if fv := v.Get(f.name); fv != nil {
			if *f.v, err = stringValue(fv, f.name); err != nil {
				return OAuthRequest{}, errors.New("oauth request: " + err.Error())
			}
		}
	}
	if r.APIID == "" || r.Endpoint == "" {
		return OAuthRequest{}, errors.New("oauth request: api_id and endpoint are required")
	}
	return r, nil
}

// OAuthResponse is the answer to an OAuth request: the response the filter
// sends the client, a JSON body with Status, and a Location header when
// set (the authorize redirect).
type OAuthResponse struct {
	Status   int
	Location string
	Body     string
}

// AppendOAuthResponse appends {"status":…,"location":…,"body":…}.
func AppendOAuthResponse(dst []byte, r OAuthResponse) []byte {
	dst = append(dst, `{"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"location":`...)
	dst = model.AppendString(dst, r.Location)
	dst = append(dst, `,"body":`...)
	dst = model.AppendString(dst, r.Body)
	return append(dst, '}')
}

// DecodeOAuthResponse decodes an OAuth answer; "status" (100..599) is
// required, unknown fields are ignored.
func DecodeOAuthResponse(body []byte) (OAuthResponse, error) {
	var r OAuthResponse
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body, "oauth answer")
	if err != nil {
		return r, err
	}
	sv := v.Get("status")
	if sv == nil {
		return r, errors.New("oauth answer: no \"status\"")
	}
	status, err := intValue(sv, "status")
	if err != nil || status < 100 || status > 599 {
		return r, errors.New("oauth answer: \"status\" must be an HTTP status")
	}
	r.Status = int(status)
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"location", &r.Location}, {"body", &r.Body}} {
		if fv := v.Get(f.name); fv != nil {
			if fv.Type() != fastjson.TypeString && fv.Type() != fastjson.TypeNull {
				return OAuthResponse{}, errors.New("oauth answer: " + strconv.Quote(f.name) + " must be a string")
			}
			*f.dst = string(fv.GetStringBytes())
		}
	}
	return r, nil
}
