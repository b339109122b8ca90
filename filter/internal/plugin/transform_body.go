package plugin

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/filter/proxywasm"
	"github.com/turnpike-dev/turnpike/shared/bodytmpl"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Body transforms (Tyk's TransformMiddleware and ResponseTransformMiddleware,
// gateway/mw_transform.go and res_handler_transform.go): the version's
// extended_paths.transform (request) and transform_response (response)
// entries, the first whose method (exactly) and path match, run their Go
// template (shared/bodytmpl) on the JSON body and the result replaces it:
//
//   - the body is decoded as Tyk decodes it: empty is {}, an array is
//     {"array": [...]}, another scalar an empty map; with
//     template_data.enable_session the key's meta_data is _tyk_meta;
//   - request: a body that is not JSON, or a template that fails, leaves
//     the body as it was (Tyk logs and forwards the original);
//   - response: a body that is not JSON is transformed as {} and a
//     template that fails leaves what it wrote before failing, as Tyk's
//     ResponseTransformMiddleware does;
//   - the body is buffered (the host holds it: StopIterationAndBuffer)
//     up to body_transform.max_body_bytes; a larger one (by its
//     Content-Length, or once it grows past the limit) passes untransformed
//     and turnpike.transform.too_large counts it. Content-Length is removed
//     when a transform starts, since the new body's length is not known
//     until the end (the host then streams it chunked);
//   - a request whose response will be transformed goes upstream without
//     Accept-Encoding, so the upstream answers uncompressed (Tyk
//     decompresses gzip and deflate and compresses the result again); a
//     response with a Content-Encoding other than identity all the same
//     passes untransformed (turnpike.transform.skipped).
//
// A transform allocates several times its body at once (the decoded body
// is a tree of maps and slices), all garbage when it ends: the collection
// the tick runs when one is overdue (gc.go) runs after each transform too,
// so that transforms between two ticks do not pile up in linear memory.
//
// The Gateway API refuses what this cannot run as Tyk would (file
// templates, XML input, enable_context_vars, templates using functions
// bodytmpl does not implement); such entries reaching the filter another
// way (static apis) are skipped, as Tyk skips a template that fails to
// load.

// bodyRule is a compiled transform or transform_response entry.
type bodyRule struct {
	re      *regexp.Regexp
	method  string
	tmpl    *bodytmpl.Template
	session bool
}

// bodyTx is a request's transform state (on httpContext): the rules its
// response will get, matched while the request headers are readable (vr,
// respHeaders, respBody: transform.go), and the body transforms in
// progress (req, resp).
type bodyTx struct {
	vr          *versionRules
	respHeaders *headerRule
	respBody    *bodyRule
	req, resp   *bodyRule
}

// bodyReplacer is implemented by hosts that can replace a buffered body
// (host.Proxy, hosttest.Fake); a batch sub-request's host cannot.
type bodyReplacer interface {
	ReplaceRequestBody([]byte) error
	ReplaceResponseBody([]byte) error
}

type transformMetrics struct {
	applied, failed, tooLarge, skipped *counter
}

func (r *Root) transformMetrics() *transformMetrics {
	if r.txm == nil {
		def := func(name string) *counter {
			c := newCounter(r.host, name)
			r.m.all = append(r.m.all, c)
			return c
		}
		r.txm = &transformMetrics{applied: def("turnpike.transform.applied"), failed: def("turnpike.transform.failed"),
			tooLarge: def("turnpike.transform.too_large"), skipped: def("turnpike.transform.skipped")}
	}
	return r.txm
}

// compileBodyRules compiles the entries the filter can run; the others are
// skipped (as Tyk skips a template that fails to load). A request
// transform needs input_type json (Tyk's fails on any other); a response
// transform reads JSON unless it says xml.
func compileBodyRules(api *model.APIDefinition, metas []model.TemplateMeta, request bool) []bodyRule {
	var out []bodyRule
	for _, m := range metas {
		td := &m.TemplateData
		json := td.Input == "json" || td.Input == "" && !request
		if m.Disabled || td.Mode != "blob" || !json || api.EnableContextVars {
			continue
		}
		re := compilePath(m.Path)
		src, err := base64.StdEncoding.DecodeString(td.TemplateSource)
		if re == nil || err != nil || request && (strings.Contains(string(src), "$tyk_") || strings.Contains(string(src), "$secret_")) {
			continue
		}
		t, err := bodytmpl.Parse(string(src))
		if err != nil {
			continue
		}
		out = append(out, bodyRule{re: re, method: m.Method, tmpl: t, session: td.EnableSession})
	}
	return out
}

func matchBodyRule(rules []bodyRule, h *httpContext) *bodyRule {
	for i := range rules {
		if r := &rules[i]; r.method == h.method && matchPath(r.re, h.api, h.path) {
			return r
		}
	}
	return nil
}

// startRequestBodyTransform runs with the request-side header transforms:
// it matches the response's transform, and a request with a body whose
// path has a transform is marked, and its Content-Length goes, before the
// headers go upstream.
func (h *httpContext) startRequestBodyTransform(vr *versionRules) {
	if len(vr.respBody) > 0 {
		// The response is transformed: ask the upstream for an
		// uncompressed body (Tyk decompresses gzip and deflate, transforms
		// and compresses again; the client gets the same content).
		if h.tx.respBody = matchBodyRule(vr.respBody, h); h.tx.respBody != nil {
			h.host.RemoveRequestHeader("accept-encoding")
		}
	}
	if len(vr.reqBody) == 0 || !h.bodyFollows || h.bx.parent != nil {
		return
	}
	r := matchBodyRule(vr.reqBody, h)
	if r == nil {
		return
	}
	if h.overLimit(h.host.RequestHeader("content-length")) {
		h.root.transformMetrics().tooLarge.Increment(1)
		return
	}
	h.tx.req = r
	h.host.RemoveRequestHeader("content-length")
}

// startResponseBodyTransform runs when the upstream's response headers
// arrive.
func (h *httpContext) startResponseBodyTransform(endOfStream bool) {
	r := h.tx.respBody
	if r == nil || endOfStream {
		return
	}
	m := h.root.transformMetrics()
	if enc := h.host.ResponseHeader("content-encoding"); enc != "" && enc != "identity" {
		m.skipped.Increment(1)
		return
	}
	if h.overLimit(h.host.ResponseHeader("content-length")) {
		m.tooLarge.Increment(1)
		return
	}
	h.tx.resp = r
	h.host.RemoveResponseHeader("content-length")
}

func (h *httpContext) overLimit(contentLength string) bool {
	n, err := strconv.ParseInt(contentLength, 10, 64)
	return err == nil && n > h.root.cfg.BodyTransform.MaxBodyBytes
}

// transformRequestBody buffers the request body until its end, then
// replaces it with the template's output.
func (h *httpContext) transformRequestBody(size int, endOfStream bool) proxywasm.Action {
	r, m := h.tx.req, h.root.transformMetrics()
	if int64(size) > h.root.cfg.BodyTransform.MaxBodyBytes {
		h.tx.req = nil
		m.tooLarge.Increment(1)
		return proxywasm.ActionContinue
	}
	if !endOfStream {
		return proxywasm.ActionPause
	}
	h.tx.req = nil
	body, err := h.host.RequestBody(size)
	if err != nil {
		m.failed.Increment(1)
		return proxywasm.ActionContinue
	}
	data, err := bodytmpl.Data(body)
	if err != nil {
		h.transformFailed("request", err)
		return proxywasm.ActionContinue
	}
	out, err := r.tmpl.Execute(nil, h.templateData(r, data))
	if err != nil {
		h.transformFailed("request", err)
		return proxywasm.ActionContinue
	}
	if br, ok := h.host.(bodyReplacer); ok && br.ReplaceRequestBody(out) == nil {
		m.applied.Increment(1)
	} else {
		m.failed.Increment(1)
	}
	collectIfBehind()
	return proxywasm.ActionContinue
}

// transformResponseBody buffers the response body until its end, then
// replaces it with the template's output; the response cache stores the
// transformed body.
func (h *httpContext) transformResponseBody(size int, endOfStream bool) proxywasm.Action {
	r, m := h.tx.resp, h.root.transformMetrics()
	if int64(size) > h.root.cfg.BodyTransform.MaxBodyBytes {
		// What was buffered goes on untransformed; the cache never saw it.
		h.tx.resp = nil
		m.tooLarge.Increment(1)
		if c := h.resp.cache; c != nil {
			c.skip, c.body = true, nil
		}
		return proxywasm.ActionContinue
	}
	if !endOfStream {
		return proxywasm.ActionPause
	}
	h.tx.resp = nil
	body, err := h.host.ResponseBody(size)
	if err != nil {
		m.failed.Increment(1)
		return proxywasm.ActionContinue
	}
	data, derr := bodytmpl.Data(body)
	out, err := r.tmpl.Execute(nil, h.templateData(r, data))
	switch {
	case derr != nil:
		h.transformFailed("response", derr)
	case err != nil:
		h.transformFailed("response", err)
	}
	br, ok := h.host.(bodyReplacer)
	if !ok || br.ReplaceResponseBody(out) != nil {
		m.failed.Increment(1)
		out = body
	} else if derr == nil && err == nil {
		m.applied.Increment(1)
	}
	if c := h.resp.cache; c != nil && !c.skip {
		c.body = append(c.body[:0], out...)
		h.storeCaptured(c)
	}
	collectIfBehind()
	return proxywasm.ActionContinue
}

// templateData adds what Tyk adds to the decoded body: the session's
// meta_data as _tyk_meta with enable_session (when there is a session:
// keyless requests have none).
func (h *httpContext) templateData(r *bodyRule, data map[string]any) map[string]any {
	if !r.session || h.eff == nil || h.eff.s == nil {
		return data
	}
	// Tyk's session holds meta_data as decoded: absent, it is a nil map
	// (jsonMarshal writes null).
	var meta map[string]any
	if h.eff.s.MetaData != nil {
		meta = make(map[string]any, len(h.eff.s.MetaData))
	}
	for k, raw := range h.eff.s.MetaData {
		v, err := bodytmpl.DecodeJSON(raw)
		if err != nil {
			continue
		}
		meta[k] = v
	}
	data["_tyk_meta"] = meta
	return data
}

func (h *httpContext) transformFailed(side string, err error) {
	h.root.transformMetrics().failed.Increment(1)
	h.root.log(host.Debug, side+" body transform of API "+h.api.APIID+": "+err.Error())
}
