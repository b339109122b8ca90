package gatewayapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Every member the model writes (and so reads) is in the schema, with its
// JSON type: a definition with every list, map and pointer populated is
// encoded by the model and checked against the schema.
func TestSchemaCoversTheModel(t *testing.T) {
	def, err := model.DecodeAPIDefinition([]byte(`{"api_id":"a","name":"A","org_id":"o","active":true,
		"auth_configs":{"authToken":{"auth_header_name":"X-Key"},"jwt":{"use_param":true}},
		"hmac_allowed_algorithms":["hmac-sha256"],"client_certificates":["c"],"jwt_default_policies":["p"],
		"jwt_scope_to_policy_mapping":{"read":"p"},"oauth_meta":{"allowed_access_types":["client_credentials"],"allowed_authorize_types":["code"]},
		"cache_options":{"cache_response_codes":[200],"cache_by_headers":["accept"]},
		"response_processors":[{"name":"header_injector","options":{"add_headers":{"x":"1"},"remove_headers":["y"]}}],
		"version_data":{"versions":{"v1":{"name":"v1","extended_paths":{"cache":["/a"],
			"advance_cache_config":[{"path":"/b","cache_response_codes":[200]}],
			"transform_headers":[{"path":"/c","delete_headers":["d"],"add_headers":{"e":"f"}}],
			"transform_response_headers":[{"path":"/c","delete_headers":["d"],"add_headers":{"e":"f"}}],
			"transform":[{"path":"/t","template_data":{"template_mode":"blob"}}],
			"transform_response":[{"path":"/t","template_data":{"template_mode":"blob"}}]},
			"global_headers":{"g":"h"},"global_headers_remove":["i"],"global_response_headers":{"j":"k"},"global_response_headers_remove":["l"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(def.AppendJSON(nil), &doc); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(apiDefinitionSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	for _, e := range conform(schema, doc, "") {
		t.Error(e)
	}
	// And the check checks: a member the model does not have is reported
	// below the top level, where the schema is closed.
	if errs := conform(schema, map[string]any{"proxy": map[string]any{"listen_pathx": "/"}}, ""); len(errs) != 1 {
		t.Errorf("unknown nested member: %v", errs)
	}
}

// conform is the part of JSON Schema validation the schema uses: type,
// properties, additionalProperties, items, anyOf.
func conform(s map[string]any, v any, at string) []string {
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			if len(conform(a.(map[string]any), v, at)) == 0 {
				return nil
			}
		}
		return []string{at + ": matches no alternative"}
	}
	if typ, ok := s["type"]; ok {
		var types []string
		switch tv := typ.(type) {
		case string:
			types = []string{tv}
		case []any:
			for _, x := range tv {
				types = append(types, x.(string))
			}
		}
		if jt := jsonType(v); !slices.Contains(types, jt) && (jt != "integer" || !slices.Contains(types, "number")) {
			return []string{fmt.Sprintf("%s: %s, want %v", at, jsonType(v), types)}
		}
	}
	var errs []string
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for k, c := range v {
			switch p, ok := props[k]; {
			case ok:
				errs = append(errs, conform(p.(map[string]any), c, at+"."+k)...)
			case s["additionalProperties"] == false:
				errs = append(errs, at+"."+k+": not in the schema")
			default:
				if ap, ok := s["additionalProperties"].(map[string]any); ok {
					errs = append(errs, conform(ap, c, at+"."+k)...)
				}
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, c := range v {
				errs = append(errs, conform(items, c, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

func TestSchemaRoute(t *testing.T) {
	a := &API{}
	for _, c := range []struct {
		query, want string
		code        int
	}{
		{"", `{"status":"Success","message":"","schema":{"$schema":`, 200},
		{"?oasVersion=3.0.3", `{"status":"Failed","message":"Schema not found for version \"3.0.3\": Turnpike takes classic API definitions only`, 404},
	} {
		w := httptest.NewRecorder()
		a.schema(w, httptest.NewRequest(http.MethodGet, "/tyk/schema"+c.query, nil))
		if w.Code != c.code || !strings.HasPrefix(w.Body.String(), c.want) {
			t.Errorf("GET /tyk/schema%s: %d %.200s", c.query, w.Code, w.Body)
		}
	}
}
