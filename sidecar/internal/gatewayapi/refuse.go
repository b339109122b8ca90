package gatewayapi

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/basicauth"
	"github.com/turnpike-dev/turnpike/shared/oauth"
	"github.com/valyala/fastjson"
)

// What an API definition may not enable: settings that concern access and
// that Turnpike does not enforce. Stored, they would be ignored and the API
// enforced differently from Tyk (an API with use_basic_auth would take auth
// tokens), so the Gateway API refuses them with 400 naming the field. A row
// goes when its method lands in the filter.
//
// field is a path into the document ("*" matches any key of an object); a
// field counts as set when it is true, a non-empty string, array or object,
// or a non-zero number. authMethod rows are moot on a keyless API: Tyk runs
// no auth at all when use_keyless is true, and neither does Turnpike.
var refusedFields = []struct {
	field      string
	authMethod bool
	unless     string // a field that, when set, disables this one
	message    string
}{
	{"use_go_plugin_auth", true, "", never("Go plugins")},
	{"enable_coprocess_auth", true, "", never("coprocess (gRPC, Python) authentication plugins")},
	{"custom_middleware_bundle", false, "custom_middleware_bundle_disabled", never("custom middleware bundles")},
	{"custom_middleware.pre", false, "", never("custom middleware")},
	{"custom_middleware.post_key_auth", false, "", never("custom middleware")},
	{"custom_middleware.post", false, "", never("custom middleware")},
	{"custom_middleware.auth_check.name", false, "", never("custom middleware")},
	{"enable_ip_whitelisting", false, "", notYet("IP allow lists")},
	{"enable_ip_blacklisting", false, "", notYet("IP block lists")},
	{"internal", false, "", notYet("internal APIs (reachable only from other APIs)")},
	{"version_data.versions.*.extended_paths.white_list", false, "", notYet("endpoint allow lists")},
	{"version_data.versions.*.extended_paths.black_list", false, "", notYet("endpoint block lists")},
	{"version_data.versions.*.extended_paths.ignored", false, "", notYet("endpoints without authentication")},
	{"version_data.versions.*.paths.white_list", false, "", notYet("endpoint allow lists")},
	{"version_data.versions.*.paths.black_list", false, "", notYet("endpoint block lists")},
	{"version_data.versions.*.paths.ignored", false, "", notYet("endpoints without authentication")},
	// Issue 16: what the filter does not apply of the body transforms
	// (refuse_features.go checks the Go template ones it applies).
	{"version_data.versions.*.extended_paths.transform_jq", false, "", jqTransforms},
	{"version_data.versions.*.extended_paths.transform_jq_response", false, "", jqTransforms},
	// The other per-path middleware of extended_paths: stored, they would
	// be ignored (a mock answered by the upstream, a size limit not held).
	{"version_data.versions.*.extended_paths.mock_response", false, "", notYet("mock responses")},
	{"version_data.versions.*.extended_paths.virtual", false, "", never("virtual endpoints (JavaScript)")},
	{"version_data.versions.*.extended_paths.url_rewrites", false, "", notYet("URL rewrites")},
	{"version_data.versions.*.extended_paths.method_transforms", false, "", notYet("method transforms")},
	{"version_data.versions.*.extended_paths.hard_timeouts", false, "", notYet("per-endpoint timeouts")},
	{"version_data.versions.*.extended_paths.circuit_breakers", false, "", notYet("circuit breakers")},
	{"version_data.versions.*.extended_paths.size_limits", false, "", notYet("request size limits")},
	{"version_data.versions.*.global_size_limit", false, "version_data.versions.*.global_size_limit_disabled", notYet("request size limits")},
	{"version_data.versions.*.extended_paths.validate_json", false, "", notYet("JSON schema validation")},
	{"version_data.versions.*.extended_paths.validate_request", false, "", notYet("request validation")},
	{"version_data.versions.*.extended_paths.internal", false, "", notYet("internal endpoints")},
	{"version_data.versions.*.extended_paths.go_plugin", false, "", never("Go plugins")},
	{"version_data.versions.*.extended_paths.persist_graphql", false, "", notYet("persisted GraphQL queries")},
	{"version_data.versions.*.extended_paths.rate_limit", false, "", notYet("per-endpoint API rate limits")},
}

func notYet(what string) string {
	return what + " is not supported yet (Turnpike enforces auth-token, JWT, OpenID Connect, OAuth 2.0, basic-auth, HMAC-signed, client-certificate and keyless APIs)"
}

func never(what string) string {
	return "Turnpike does not run " + what + " and never will: access is decided in a WebAssembly filter"
}

// refusal names every refused setting the document enables; "" if none.
func refusal(v *fastjson.Value) string {
	keyless := isSet(v.Get("use_keyless"))
	var msgs []string
	for _, r := range refusedFields {
		if (r.authMethod && keyless) || (r.unless != "" && anySet(v, r.unless)) || !anySet(v, r.field) {
			continue
		}
		msgs = append(msgs, `"`+r.field+`": `+r.message)
	}
	if !keyless && isSet(v.Get("use_oauth2")) {
		msgs = append(msgs, oauthRefusals(v)...)
	}
	if !keyless && isSet(v.Get("use_openid")) {
		msgs = append(msgs, oidcRefusals(v)...)
	}
	if !keyless && isSet(v.Get("use_basic_auth")) {
		msgs = append(msgs, basicBodyRefusals(v)...)
	}
	msgs = append(msgs, featureRefusals(v)...)
	if len(msgs) == 0 {
		return ""
	}
	return "API definition refused: " + strings.Join(msgs, "; ")
}

// anySet reports whether the field at path is set, for any key "*" matches.
func anySet(v *fastjson.Value, path string) bool {
	name, rest, more := strings.Cut(path, ".")
	var next []*fastjson.Value
	if name == "*" {
		if o, err := v.Object(); err == nil {
			o.Visit(func(_ []byte, c *fastjson.Value) { next = append(next, c) })
		}
	} else if c := v.Get(name); c != nil {
		next = append(next, c)
	}
	for _, c := range next {
		if (more && anySet(c, rest)) || (!more && isSet(c)) {
			return true
		}
	}
	return false
}

func isSet(v *fastjson.Value) bool {
	if v == nil {
		return false
	}
	switch v.Type() {
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeString:
		return len(v.GetStringBytes()) > 0
	case fastjson.TypeNumber:
		return v.GetFloat64() != 0
	case fastjson.TypeArray:
		return len(v.GetArray()) > 0
	case fastjson.TypeObject:
		return v.GetObject().Len() > 0
	}
	return false
}

// oauthRefusals names the grant and response types an OAuth API allows
// that Turnpike does not implement: the token endpoint issues tokens for
// client_credentials, authorization_code and refresh_token, and
// /oauth/authorize serves the code flow.
func oauthRefusals(v *fastjson.Value) []string {
	var msgs []string
	for _, c := range []struct {
		field string
		ok    func(string) bool
		what  string
	}{
		{"allowed_access_types", oauth.Supported, "client_credentials, authorization_code and refresh_token"},
		{"allowed_authorize_types", func(s string) bool { return s == oauth.ResponseCode }, "the code response type"},
	} {
		for _, t := range v.GetArray("oauth_meta", c.field) {
			if s := string(t.GetStringBytes()); !c.ok(s) {
				msgs = append(msgs, `"oauth_meta.`+c.field+`": `+string(t.MarshalTo(nil))+
					" is not supported yet (Turnpike's OAuth 2.0 server implements "+c.what+")")
			}
		}
	}
	return msgs
}

// oidcRefusals names what an OpenID Connect API sets that Turnpike does not
// enforce: client ids that are not base64 (Tyk would use what it could
// decode). Scope-to-policy mapping is enforced (shared/oidc), and so are
// other auth methods with it (a chain member, as in Tyk).
func oidcRefusals(v *fastjson.Value) []string {
	var msgs []string
	for i, p := range v.GetArray("openid_options", "providers") {
		if o := p.GetObject("client_ids"); o != nil {
			o.Visit(func(k []byte, _ *fastjson.Value) {
				if _, err := base64.StdEncoding.DecodeString(string(k)); err != nil {
					msgs = append(msgs, `"openid_options.providers[`+strconv.Itoa(i)+`].client_ids": `+
						strconv.Quote(string(k))+" is not a base64-encoded client id")
				}
			})
		}
	}
	return msgs
}

// basicBodyRefusals names what a basic-auth API reading credentials from
// the body sets that Turnpike does not enforce: regexps missing or invalid
// (Tyk would then run no basic auth at all, letting every request through).
// With other auth methods it is enforced, as in Tyk.
func basicBodyRefusals(v *fastjson.Value) []string {
	if !isSet(v.Get("basic_auth", "extract_from_body")) {
		return nil
	}
	var msgs []string
	if _, err := basicauth.CompileBody(string(v.GetStringBytes("basic_auth", "body_user_regexp")),
		string(v.GetStringBytes("basic_auth", "body_password_regexp"))); err != nil {
		msgs = append(msgs, `"basic_auth.extract_from_body": `+err.Error())
	}
	return msgs
}
