package gatewayapi

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// Refusals of issue 16's features that a field path alone cannot express:
// the filter applies the response cache, header_injector and the header
// transforms, but not every form Tyk accepts of them.

// bodyTransforms is why Go-template body transforms are refused: the VM
// would need text/template, measured at +2.4 MB of filter.wasm (4.86 MB
// before), and JSON/XML decoding on top; see filter/README.md.
const bodyTransforms = "body transforms (Go templates) are not supported yet: text/template would add 2.4 MB to " +
	"filter.wasm; header transforms and header_injector are supported"

// featureRefusals names the parts of the cache and header settings the
// filter does not apply, as "field": why.
func featureRefusals(v *fastjson.Value) []string {
	var msgs []string
	refuse := func(field, why string) { msgs = append(msgs, `"`+field+`": `+why) }
	for i, p := range v.GetArray("response_processors") {
		if name := string(p.GetStringBytes("name")); name != "header_injector" {
			refuse("response_processors["+strconv.Itoa(i)+"].name", processorRefusal(name))
		}
		checkHeaderValues(p.Get("options", "add_headers"), "response_processors["+strconv.Itoa(i)+"].options.add_headers", refuse)
	}
	if isSet(v.Get("cache_options", "enable_cache")) && isSet(v.Get("use_keyless")) {
		refuse("cache_options.enable_cache", "the response cache of keyless APIs is not supported yet "+
			"(Tyk keys their entries by client IP); it is supported on APIs with authentication")
	}
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
	return msgs
}

func processorRefusal(name string) string {
	if name == "response_body_transform" {
		return bodyTransforms
	}
	return "response processor " + strconv.Quote(name) + " is not supported yet (header_injector is)"
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
