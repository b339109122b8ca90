// Package pathnorm normalizes a request's :path so that the path an access check authorizes is the
// path the upstream serves. Without it, /demo/../api3/x matches the API at /demo/ while an upstream
// that resolves dot segments serves /api3/x.
//
// Normalize takes the :path value including its query. Only the path part (up to the first '?') is
// normalized; the query is kept byte for byte. In order, the path part gets:
//
//  1. Percent-decoding of unreserved characters (RFC 3986 §2.3: ALPHA, DIGIT, '-', '.', '_', '~'),
//     so %41 is A and %2e%2E is "..". Every other percent-encoding stays encoded with its hex digits
//     in upper case (§6.2.2.1): %c3%a9 becomes %C3%A9. Raw bytes >= 0x80 are percent-encoded, so
//     /é and /%C3%A9 are the same path.
//  2. remove_dot_segments (RFC 3986 §5.2.4): "." segments go, ".." removes the segment before it.
//     A trailing "." or ".." leaves a trailing slash (/a/b/.. is /a/). Empty segments count as
//     segments here, so /a//../b is /a/b (as Envoy does it).
//  3. Merging of repeated slashes: //a//b is /a/b.
//
// A path that cannot be normalized safely is refused with one of the Err values: an encoded slash
// (%2F), a backslash (raw or %5C), NUL (raw or %00), a raw control character or space, an invalid
// percent-encoding, a ".." that climbs above the root, a dot segment with parameters ("..;x",
// which Tomcat-style servers resolve as ".."), or a '#' anywhere (a fragment, query included).
// Callers answer 400: the error messages contain no quote or backslash, so they can be put into a
// JSON string as they are.
//
// Only origin-form paths (starting with '/') are normalized. "*" (OPTIONS *) is returned unchanged:
// it names no resource, so no API can match it. Every other form (empty, relative, absolute-form
// URI) is refused with ErrNotOriginForm; both hosts turn absolute-form into origin-form before this.
//
// Differences from Envoy's normalize_path + merge_slashes (deliberate, all stricter): Envoy clamps
// ".." at the root (/../a is /a), turns '\' into '/', keeps %2F and %5C (unless
// path_with_escaped_slashes_action says otherwise), keeps "..;" segments and keeps the case of
// percent-encodings. Normalize refuses the first four and upper-cases the last, so a path Envoy has
// normalized may still be rewritten (hex case only) or refused. Printable ASCII that RFC 3986 does
// not allow raw in a path (such as '"' or '{') is left as it is; Envoy's canonicalizer (Chromium's)
// percent-encodes some of it, in which case the filter sees the encoded form.
//
// The package is pure (no I/O, builds for GOOS=wasip1) and does not allocate when the path is
// already normal, which is the common case: the filter calls it on every request.
package pathnorm

import (
	"errors"
	"strings"
)

// Errors returned by Normalize. Their messages suit a 400 response body.
var (
	ErrNotOriginForm = errors.New("path must start with /")
	ErrEncodedSlash  = errors.New("path contains an encoded slash (%2F)")
	ErrBackslash     = errors.New("path contains a backslash (raw or %5C)")
	ErrNUL           = errors.New("path contains a NUL byte (raw or %00)")
	ErrInvalidChar   = errors.New("path contains a raw control character or space")
	ErrBadEscape     = errors.New("path contains an invalid percent-encoding")
	ErrAboveRoot     = errors.New("path climbs above the root with ..")
	ErrDotParams     = errors.New("path contains a dot segment with parameters (..;)")
	ErrFragment      = errors.New("path contains a fragment (#)")
)

// Normalize returns the normal form of path (a :path value, query included), whether it differs
// from path, or an error when path cannot be normalized safely. When changed is false, normalized
// is path itself (no allocation).
func Normalize(path string) (normalized string, changed bool, err error) {
	if path == "*" {
		return path, false, nil
	}
	if path == "" || path[0] != '/' {
		return "", false, ErrNotOriginForm
	}
	if strings.IndexByte(path, '#') >= 0 {
		// Never part of a request target (RFC 9112 §3.2, RFC 9113 §8.3.1), and hosts that strip
		// it would send upstream a different path than the one authorized. Envoy rejects it too.
		return "", false, ErrFragment
	}
	end := strings.IndexByte(path, '?')
	if end < 0 {
		end = len(path)
	}
	if isNormal(path[:end]) {
		return path, false, nil
	}
	out, err := normalizePath(path[:end])
	if err != nil {
		return "", false, err
	}
	if string(out) == path[:end] {
		return path, false, nil
	}
	return string(append(out, path[end:]...)), true, nil
}

// isNormal reports whether Normalize leaves p (a path part starting with '/') unchanged. It may
// answer false for a normal path (normalizePath then finds no change); it never answers true for a
// path that would change or be refused.
func isNormal(p string) bool {
	segStart := 1 // index after the '/' that starts the current segment
	for i := 1; i < len(p); i++ {
		c := p[i]
		if plain[c] {
			continue
		}
		switch c {
		case '/':
			if seg := p[segStart:i]; seg == "" || seg[0] == '.' && (isDotSegment(seg) || hasDotParams(seg)) {
				return false
			}
			segStart = i + 1
		case '%':
			if i+2 >= len(p) || !isUpperHex(p[i+1]) || !isUpperHex(p[i+2]) {
				return false
			}
			if v := unhex(p[i+1])<<4 | unhex(p[i+2]); isUnreserved(v) || v == 0 || v == '/' || v == '\\' {
				return false
			}
			i += 2
		default:
			return false
		}
	}
	seg := p[segStart:] // the last segment may be empty: "/a/"
	return seg == "" || seg[0] != '.' || !isDotSegment(seg) && !hasDotParams(seg)
}

// plain marks the bytes that a normal path holds as they are: everything but '/', '%', '\\',
// control characters, space and bytes >= 0x7f.
var plain = func() (t [256]bool) {
	for c := '!'; c < 0x7f; c++ {
		t[c] = c != '/' && c != '%' && c != '\\'
	}
	return t
}()

// normalizePath normalizes p (a path part starting with '/') into a new buffer.
func normalizePath(p string) ([]byte, error) {
	out := make([]byte, 0, len(p)+8)
	for i := 1; i <= len(p); {
		// Decode one segment, p[i:j], into out after a '/'.
		out = append(out, '/')
		start := len(out)
		j := i
		for ; j < len(p) && p[j] != '/'; j++ {
			c := p[j]
			switch {
			case c == '%':
				if j+2 >= len(p) || !isHex(p[j+1]) || !isHex(p[j+2]) {
					return nil, ErrBadEscape
				}
				v := unhex(p[j+1])<<4 | unhex(p[j+2])
				switch {
				case v == 0:
					return nil, ErrNUL
				case v == '/':
					return nil, ErrEncodedSlash
				case v == '\\':
					return nil, ErrBackslash
				case isUnreserved(v):
					out = append(out, v)
				default:
					out = append(out, '%', upperHex[v>>4], upperHex[v&15])
				}
				j += 2
			case c == 0:
				return nil, ErrNUL
			case c == '\\':
				return nil, ErrBackslash
			case c <= ' ' || c == 0x7f:
				return nil, ErrInvalidChar
			case c >= 0x80:
				out = append(out, '%', upperHex[c>>4], upperHex[c&15])
			default:
				out = append(out, c)
			}
		}
		last := j >= len(p)
		seg := out[start:]
		switch {
		case hasDotParams(seg):
			return nil, ErrDotParams
		case string(seg) == ".": // string(b) == "..." does not allocate
			out = out[:start-1] // drop "/."; the next segment writes its own '/'
			if last {
				out = append(out, '/') // "/a/." is "/a/"
			}
		case string(seg) == "..":
			out = out[:start-1] // drop "/.."
			if len(out) == 0 {
				return nil, ErrAboveRoot
			}
			k := len(out) - 1
			for out[k] != '/' {
				k--
			}
			out = out[:k] // drop the previous segment and its '/'
			if last {
				out = append(out, '/')
			}
		}
		i = j + 1
	}
	return mergeSlashes(out), nil
}

// mergeSlashes collapses runs of '/' in b, in place.
func mergeSlashes(b []byte) []byte {
	n := 0
	for i, c := range b {
		if c == '/' && i > 0 && b[i-1] == '/' {
			continue
		}
		b[n] = c
		n++
	}
	return b[:n]
}

func isDotSegment(seg string) bool { return seg == "." || seg == ".." }

// hasDotParams reports a segment such as "..;a=b" or ".;x": servers that strip path parameters
// (RFC 2396 ';' parameters, Tomcat) resolve it as a dot segment after the access check.
func hasDotParams[T string | []byte](seg T) bool {
	for i := 0; i < len(seg); i++ {
		switch seg[i] {
		case '.':
			if i >= 2 {
				return false
			}
		case ';':
			return i > 0
		default:
			return false
		}
	}
	return false
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

const upperHex = "0123456789ABCDEF"
