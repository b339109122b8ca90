package plugin

import (
	"slices"
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
	// The response-side rules are matched now: the method, path and
	// version are views of the request headers, gone by the response.
	h.tx.vr = vr
	if len(vr.respHeaders) > 0 {
		h.tx.respHeaders = matchHeaderRule(vr.respHeaders, h)
	}
	h.applyRequestOps(vr.reqGlobal)
	if len(vr.reqHeaders) > 0 {
		if r := matchHeaderRule(vr.reqHeaders, h); r != nil {
			h.applyRequestOps(r.ops)
		}
	}
	h.startRequestBodyTransform(vr) // transform_body.go
	return next
}

func (h *httpContext) applyRequestOps(ops []headerOp) {
	for _, op := range ops {
		if op.remove {
			h.host.RemoveRequestHeader(op.name)
		} else {
			h.host.SetRequestHeader(op.name, op.value)
		}
	}
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
// the order they apply; nil when there are none. The rules are those
// transformHeaders matched (a request that did not reach it, a cache hit
// for instance, matches them here, still in its request callback).
func (h *httpContext) responseHeaderOps() []headerOp {
	vr, rule := h.tx.vr, h.tx.respHeaders
	if vr == nil {
		if vr = h.rules(); vr == nil {
			return nil
		}
		if len(vr.respHeaders) > 0 {
			rule = matchHeaderRule(vr.respHeaders, h)
		}
	}
	if rule != nil {
		return append(slices.Clip(rule.ops), vr.respStatic...)
	}
	return vr.respStatic
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
			// The host copies the value before returning.
			h.root.scratch = append(h.root.scratch[:0], op.value...)
			h.host.SetResponseHeader(op.name, h.root.scratch)
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
