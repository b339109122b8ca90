package route

import (
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Location says where a request carried its key.
type Location uint8

const (
	// None means no key was found.
	None Location = iota
	Header
	Param
	Cookie
)

// Credential is the key a request presented and where it was found, so the
// filter can strip it before the request goes upstream.
type Credential struct {
	Key  string
	From Location
	Name string // header (lower case), query parameter or cookie name
}

// MinKeyLength is Tyk's default min_token_length: shorter keys are treated
// as unknown without a lookup.
const MinKeyLength = 3

// Extract finds the key of a request the way Tyk's getAuthToken does: the
// header (default Authorization) unless disable_header; a non-empty query
// parameter (use_param) overrides it; a non-empty cookie (use_cookie)
// overrides both; a leading "Bearer " (any case) is removed. header returns
// a request header by lower-case name ("" when absent); path is the
// request's :path with its query string.
func Extract(a *model.AuthConfig, header func(name string) string, path string) Credential {
	var auth model.AuthConfig
	if a != nil {
		auth = *a
	}
	name := auth.AuthHeaderName
	if name == "" {
		name = "Authorization"
	}
	var c Credential
	if !auth.DisableHeader {
		h := "authorization"
		// The default name is spelt without an allocation: this runs on
		// every request.
		if !strings.EqualFold(name, h) {
			h = strings.ToLower(name)
		}
		if v := header(h); v != "" {
			c = Credential{v, Header, h}
		}
	}
	if auth.UseParam {
		p := auth.ParamName
		if p == "" {
			p = name
		}
		if v := QueryParam(path, p); v != "" {
			c = Credential{v, Param, p}
		}
	}
	if auth.UseCookie {
		n := auth.CookieName
		if n == "" {
			n = name
		}
		if v := CookieValue(header("cookie"), n); v != "" {
			c = Credential{v, Cookie, n}
		}
	}
	if len(c.Key) >= 7 && strings.EqualFold(c.Key[:7], "bearer ") {
		c.Key = c.Key[7:]
	}
	return c
}

// QueryParam returns the first value of parameter name in the query string
// of path, percent-decoded ("" when absent or empty).
func QueryParam(path, name string) string {
	q := query(path)
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if unescape(k) == name {
			return unescape(v)
		}
	}
	return ""
}

// StripParam returns path without every occurrence of query parameter name.
func StripParam(path, name string) string {
	i := strings.IndexByte(path, '?')
	if i < 0 {
		return path
	}
	base, q := path[:i], query(path)
	frag := path[i+1+len(q):]
	kept := make([]string, 0, 4)
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, _, _ := strings.Cut(pair, "=")
		if unescape(k) != name {
			kept = append(kept, pair)
		}
	}
	if len(kept) == 0 {
		return base + frag
	}
	return base + "?" + strings.Join(kept, "&") + frag
}

// query returns the query string of path, without '?' and fragment.
func query(path string) string {
	i := strings.IndexByte(path, '?')
	if i < 0 {
		return ""
	}
	q := path[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q = q[:j]
	}
	return q
}

// unescape percent-decodes s and turns '+' into a space, leaving malformed
// escapes as they are (a junk query must not make the key disappear or the
// filter fail).
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// CookieValue returns the value of cookie name in a Cookie header.
func CookieValue(header, name string) string {
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// StripCookie returns a Cookie header without cookie name ("" when nothing
// is left).
func StripCookie(header, name string) string {
	kept := make([]string, 0, 4)
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ";")
		part = strings.TrimSpace(part)
		if k, _, _ := strings.Cut(part, "="); part != "" && k != name {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "; ")
}
