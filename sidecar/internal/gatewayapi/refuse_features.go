package gatewayapi

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/bodytmpl"

	"github.com/valyala/fastjson"
)

// Refusals of issue 16's features that a field path alone cannot express:
// the filter applies the response cache, header_injector and the header
// transforms, but not every form Tyk accepts of them.

// jqTransforms is why jq body transforms are refused (Tyk runs them only
// in builds with jq support).
const jqTransforms = "jq body transforms are not supported yet (Go template transforms, extended_paths.transform " +
	"and transform_response, are)"

// featureRefusals names the parts of the cache and header settings the
// filter does not apply, as "field": why.
func featureRefusals(v *fastjson.Value) []string {
	var msgs []string
	refuse := func(field, why string) { msgs = append(msgs, `"`+field+`": `+why) }
	for i, p := range v.GetArray("response_processors") {
		// response_body_transform needs nothing: transform_response
		// entries apply whenever they exist, as in Tyk's gateway today.
		if name := string(p.GetStringBytes("name")); name != "header_injector" && name != "response_body_transform" {
			refuse("response_processors["+strconv.Itoa(i)+"].name", processorRefusal(name))
		}
		checkHeaderValues(p.Get("options", "add_headers"), "response_processors["+strconv.Itoa(i)+"].options.add_headers", refuse)
	}
	if isSet(v.Get("cache_options", "enable_cache")) && isSet(v.Get("use_keyless")) {
		refuse("cache_options.enable_cache", "the response cache of keyless APIs is not supported yet "+
			"(Tyk keys their entries by client IP); it is supported on APIs with authentication")
	}
	bodyTransforms := false
	if o := v.GetObject("version_data", "versions"); o != nil {
		o.Visit(func(name []byte, ver *fastjson.Value) {
			at := "version_data.versions." + string(name) + "."
			checkHeaderValues(ver.Get("global_headers"), at+"global_headers", refuse)
			checkHeaderValues(ver.Get("global_response_headers"), at+"global_response_headers", refuse)
			for _, list := range []string{"transform_headers", "transform_response_headers"} {
				for i, m := range ver.GetArray("extended_paths", list) {
					checkHeaderValues(m.Get("add_headers"), at+"extended_paths."+list+"["+strconv.Itoa(i)+"].add_headers", refuse)
				}
			}
			for _, list := range []string{"transform", "transform_response"} {
				for i, m := range ver.GetArray("extended_paths", list) {
					if !isSet(m.Get("disabled")) {
						bodyTransforms = true
					}
					bodyTransformRefusals(m, list == "transform", at+"extended_paths."+list+"["+strconv.Itoa(i)+"]", refuse)
				}
			}
			for i, c := range ver.GetArray("extended_paths", "advance_cache_config") {
				if isSet(c.Get("disabled")) {
					continue
				}
				f := at + "extended_paths.advance_cache_config[" + strconv.Itoa(i) + "]"
				if m := strings.ToUpper(string(c.GetStringBytes("method"))); m != "GET" && m != "HEAD" && m != "OPTIONS" {
					refuse(f+".method", "caching "+strconv.Quote(m)+" requests is not supported yet: the cache key "+
						"would need the request body; GET, HEAD and OPTIONS are cached")
				}
				if isSet(c.Get("cache_key_regex")) {
					refuse(f+".cache_key_regex", "cache keys from the request body are not supported yet")
				}
			}
		})
	}
	if bodyTransforms && isSet(v.Get("enable_context_vars")) {
		refuse("enable_context_vars", "body transforms with enable_context_vars are not supported yet (their "+
			"template data would need _tyk_context, which the filter does not build)")
	}
	return msgs
}

func processorRefusal(name string) string {
	return "response processor " + strconv.Quote(name) + " is not supported yet (header_injector and " +
		"response_body_transform are)"
}

// bodyTransformRefusals names what a transform or transform_response entry
// (at field) asks that the filter cannot run exactly as Tyk
// (shared/bodytmpl says which templates it runs). Disabled entries never
// run, in Tyk or in the filter.
func bodyTransformRefusals(m *fastjson.Value, request bool, field string, refuse func(field, why string)) {
	if isSet(m.Get("disabled")) {
		return
	}
	td := m.Get("template_data")
	if td == nil {
		td = &fastjson.Value{}
	}
	switch mode := string(td.GetStringBytes("template_mode")); mode {
	case "blob":
	case "file":
		refuse(field+".template_data.template_mode", `"file" is not supported: the filter runs in a VM without `+
			`a file system; put the template in template_source, base64-encoded, with template_mode "blob"`)
		return
	default:
		refuse(field+".template_data.template_mode", strconv.Quote(mode)+` is not a template mode: "blob" `+
			`(template_source holds the base64-encoded template) is supported`)
		return
	}
	switch in := string(td.GetStringBytes("input_type")); {
	case in == "json", in == "" && !request:
	case in == "xml":
		refuse(field+".template_data.input_type", `XML bodies are not supported yet (the filter decodes JSON `+
			`bodies); input_type "json" is supported`)
	default:
		// Tyk's request transform fails on any other input type; its
		// response transform reads JSON.
		refuse(field+".template_data.input_type", strconv.Quote(in)+` is not an input type: "json" is supported`)
	}
	src, err := base64.StdEncoding.DecodeString(string(td.GetStringBytes("template_source")))
	if err != nil {
		refuse(field+".template_data.template_source", "not valid base64: "+err.Error())
		return
	}
	if _, err := bodytmpl.Parse(string(src)); err != nil {
		why := "the template does not parse: " + err.Error()
		if errors.Is(err, bodytmpl.ErrUnsupported) {
			why = "the template cannot run in the filter: " + strings.TrimPrefix(err.Error(), bodytmpl.ErrUnsupported.Error()+": ") +
				" (filter/README.md lists what body templates may use)"
		}
		refuse(field+".template_data.template_source", why)
		return
	}
	if request && (strings.Contains(string(src), "$tyk_") || strings.Contains(string(src), "$secret_")) {
		refuse(field+".template_data.template_source", "Tyk variables ($tyk_context, $tyk_meta, $secret_) in request "+
			"body templates are not supported yet (Tyk replaces them in the output; the filter does not)")
	}
}

// checkHeaderValues refuses header values with Tyk's request variables
// ($tyk_context.*, $tyk_meta.*, $secret_*): the filter adds values as they
// are written, and a literal "$tyk_meta.x" reaching a client or upstream is
// the silent difference this table exists to prevent.
func checkHeaderValues(headers *fastjson.Value, field string, refuse func(field, why string)) {
	if headers == nil || headers.Type() != fastjson.TypeObject {
		return
	}
	o := headers.GetObject()
	o.Visit(func(k []byte, val *fastjson.Value) {
		s := string(val.GetStringBytes())
		if strings.Contains(s, "$tyk_") || strings.Contains(s, "$secret_") {
			refuse(field+"."+string(k), "header values with Tyk variables ($tyk_context, $tyk_meta, $secret_) "+
				"are not supported yet")
		}
	})
}
