package route

import "strings"

// Helpers that read and rewrite parts of a request: query parameters and
// cookies.

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
