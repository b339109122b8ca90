package plugin

import (
	"strings"
)

// Header transforms (Tyk's TransformHeaders request middleware and its
// HeaderInjector response processor):
//
//   - request, before the request goes upstream: the version's
//     global_headers_remove then global_headers (unless
//     global_headers_disabled), then the first transform_headers entry
//     whose method and path match (delete_headers, then add_headers);
//   - response, on every upstream response of the API and on cache hits:
//     the first matching transform_response_headers entry, then, unless
//     global_response_headers_disabled, the version's
//     global_response_headers_remove and global_response_headers, then
//     every header_injector processor's remove_headers and add_headers.
//
// Values are set as written: values with Tyk's $tyk_context / $tyk_meta /
// $secret_ variables are refused by the Gateway API. Pseudo-headers and
// the filter's own x-turnpike-* headers are never touched, so a transform
// cannot pick another upstream or forge an identity header.

// transformHeaders is the pipeline step applying the request-side
// transforms (and the hook keyless requests run before forwarding).
func (h *httpContext) transformHeaders() verdict {
	vr := h.rules()
	if vr == nil {
		return next
	}
	if !vr.info.GlobalHeadersDisabled {
		for _, n := range vr.info.GlobalHeadersRemove {
			if n = strings.ToLower(n); settable(n) {
				h.host.RemoveRequestHeader(n)
			}
		}
		for _, kv := range sortedHeaders(vr.info.GlobalHeaders) {
			if settable(kv[0]) {
				h.host.SetRequestHeader(kv[0], kv[1])
			}
		}
	}
	if r := matchHeaderRule(vr.reqHeaders, h); r != nil {
		for _, n := range r.del {
			if settable(n) {
				h.host.RemoveRequestHeader(n)
			}
		}
		for _, kv := range r.add {
			if settable(kv[0]) {
				h.host.SetRequestHeader(kv[0], kv[1])
			}
		}
	}
	return next
}

// matchHeaderRule is the first rule for the request's method and path.
func matchHeaderRule(rules []headerRule, h *httpContext) *headerRule {
	for i := range rules {
		if r := &rules[i]; r.method == h.method && matchPath(r.re, h.api, h.path) {
			return r
		}
	}
	return nil
}

// settable: not a pseudo-header, not one of the filter's own headers.
func settable(name string) bool {
	return name != "" && name[0] != ':' && !strings.HasPrefix(name, "x-turnpike-")
}

// headerOps is an ordered list of response header removals and additions.
type headerOp struct {
	name, value string
	remove      bool
}

// responseHeaderOps lists the response-side transforms of the request, in
// the order they apply; nil when there are none.
func (h *httpContext) responseHeaderOps() []headerOp {
	var ops []headerOp
	vr := h.rules()
	if vr != nil {
		if r := matchHeaderRule(vr.respHeaders, h); r != nil {
			ops = appendOps(ops, r.del, r.add)
		}
	}
	if vr != nil && vr.info.GlobalResponseHeadersDisabled {
		return ops
	}
	if vr != nil {
		ops = appendOps(ops, lowerAll(vr.info.GlobalResponseHeadersRemove), sortedHeaders(vr.info.GlobalResponseHeaders))
	}
	for _, p := range h.api.ResponseProcessors {
		if p.Name == "header_injector" {
			ops = appendOps(ops, lowerAll(p.Options.RemoveHeaders), sortedHeaders(p.Options.AddHeaders))
		}
	}
	return ops
}

func appendOps(ops []headerOp, del []string, add [][2]string) []headerOp {
	for _, n := range del {
		if settable(n) {
			ops = append(ops, headerOp{name: n, remove: true})
		}
	}
	for _, kv := range add {
		if settable(kv[0]) {
			ops = append(ops, headerOp{name: kv[0], value: kv[1]})
		}
	}
	return ops
}

// injectResponseHeaders applies the response-side transforms to the
// upstream response.
func (h *httpContext) injectResponseHeaders() {
	for _, op := range h.responseHeaderOps() {
		if op.remove {
			h.host.RemoveResponseHeader(op.name)
		} else {
			h.host.SetResponseHeader(op.name, []byte(op.value))
		}
	}
}

// applyHeaderOps applies the transforms to a header list (a cached
// response about to be replayed).
func applyHeaderOps(headers [][2]string, ops []headerOp) [][2]string {
	for _, op := range ops {
		out := headers[:0]
		for _, kv := range headers {
			if kv[0] != op.name {
				out = append(out, kv)
			}
		}
		headers = out
		if !op.remove {
			headers = append(headers, [2]string{op.name, op.value})
		}
	}
	return headers
}
