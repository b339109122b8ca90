package gatewayapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// GET /tyk/schema. Tyk answers it with the JSON Schema of its OAS API
// definitions ({"status":"Success","message":"","schema":{...}}; an
// unknown oasVersion is 404 {"status":"Failed","message":"Schema not
// found for version \"4\""}). Turnpike takes classic API definitions only,
// so it answers, in the same envelope, the JSON Schema of the classic
// definition as Turnpike reads it: every member of shared/model's
// APIDefinition (generated from the model's types, so it cannot miss one),
// with any other member allowed at the top level (stored as sent; the
// members that concern access and that Turnpike does not enforce are
// refused, refuse.go). An oasVersion asks for an OAS schema, which there
// is none of: 404 in Tyk's envelope, saying so.

type schemaResponse struct {
	Status  string          `json:"status"`
	Message string          `json:"message"`
	Schema  json.RawMessage `json:"schema,omitempty"`
}

func (a *API) schema(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("oasVersion"); v != "" {
		writeValue(w, http.StatusNotFound, schemaResponse{Status: "Failed", Message: "Schema not found for version " +
			strconv.Quote(v) + ": Turnpike takes classic API definitions only; GET /tyk/schema without oasVersion " +
			"returns their schema"})
		return
	}
	writeValue(w, http.StatusOK, schemaResponse{Status: "Success", Schema: apiDefinitionSchema()})
}

// apiDefinitionSchema is built once from the model's types.
var apiDefinitionSchema = sync.OnceValue(func() json.RawMessage {
	s := schemaOf(reflect.TypeFor[model.APIDefinition](), "")
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["title"] = "Tyk classic API definition, as Turnpike reads it"
	s["additionalProperties"] = true
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // maps of strings and bools only
	}
	return b
})

// writtenExtra are members the model's hand-written writers add to an
// object beyond its Go fields (model:"custom"), by the object's path.
var writtenExtra = map[string]map[string]any{
	"definition": {"fallback_to_default": map[string]any{"type": "boolean"}},
}

// schemaOf is the JSON Schema of a model type as the model's codec writes
// it: nil slices and maps are written as null. path is the member path
// ("" for the document, "a.b" below it).
func schemaOf(t reflect.Type, path string) map[string]any {
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t == reflect.TypeFor[model.RawValue]() {
			return map[string]any{} // any JSON value
		}
		return map[string]any{"type": []string{"array", "null"}, "items": schemaOf(t.Elem(), path+"[]")}
	case reflect.Map:
		return map[string]any{"type": []string{"object", "null"}, "additionalProperties": schemaOf(t.Elem(), path+".*")}
	case reflect.Pointer:
		return map[string]any{"anyOf": []any{map[string]any{"type": "null"}, schemaOf(t.Elem(), path)}}
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				// A blank field carrying a member always written as null.
				if n, ok := strings.CutPrefix(f.Tag.Get("model"), "null="); ok {
					props[n] = map[string]any{"type": "null"}
				}
				continue
			}
			if name == "-" {
				continue
			}
			props[name] = schemaOf(f.Type, strings.TrimPrefix(path+"."+name, "."))
		}
		for name, s := range writtenExtra[path] {
			props[name] = s
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	panic("gatewayapi: no JSON Schema for " + t.String())
}
