package access

import (
	"regexp"
	"strings"
)

// PreparePattern turns an allowed_urls url or an endpoints path into the
// regular expression Tyk matches (httputil.PreparePathRegexp):
//
//   - mux placeholders {id} (when the braces balance) become ([^/]+);
//   - a "/*/" segment becomes "/[^/]+/" and a trailing or inner "/*"
//     becomes "/.*";
//   - with prefix, a pattern starting with "/" is anchored with "^";
//   - with suffix, "$" is appended unless already there.
func PreparePattern(pattern string, prefix, suffix bool) string {
	if isMuxTemplate(pattern) {
		pattern = replacePlaceholders(pattern, "([^/]+)")
	}
	if strings.Contains(pattern, "/*") {
		pattern = strings.ReplaceAll(pattern, "/*/", "/[^/]+/")
		pattern = strings.ReplaceAll(pattern, "/*", "/.*")
	}
	if prefix && strings.HasPrefix(pattern, "/") {
		pattern = "^" + pattern
	}
	if suffix && !strings.HasSuffix(pattern, "$") {
		pattern += "$"
	}
	return pattern
}

// isMuxTemplate reports whether pattern has balanced, non-zero braces,
// Tyk's test for "this is a mux template, not a regex quantifier".
func isMuxTemplate(pattern string) bool {
	open := strings.Count(pattern, "{")
	return open > 0 && open == strings.Count(pattern, "}")
}

// replacePlaceholders replaces every "{...}" (non-empty, up to the next
// "}") with repl, the same spans the regex `{([^}]+)}` would find.
func replacePlaceholders(pattern, repl string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(pattern[i+1:], '}')
		if j < 0 {
			break
		}
		if j == 0 { // "{}" is not a placeholder
			b.WriteString(pattern[:i+1])
			pattern = pattern[i+1:]
			continue
		}
		b.WriteString(pattern[:i])
		b.WriteString(repl)
		pattern = pattern[i+1+j+1:]
	}
	b.WriteString(pattern)
	return b.String()
}

// listenPathPattern returns the anchored regex matching a mux-style listen
// path such as "/orgs/{org}/api/" ({name} matches one segment, {name:re}
// matches re), or "" if the listen path is a plain prefix.
func listenPathPattern(listenPath string) string {
	if !isMuxTemplate(listenPath) {
		return ""
	}
	var b strings.Builder
	b.WriteByte('^')
	rest := listenPath
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest, '}')
		if i < 0 || j < i {
			break
		}
		b.WriteString(regexp.QuoteMeta(rest[:i]))
		if _, re, ok := strings.Cut(rest[i+1:j], ":"); ok && re != "" {
			b.WriteString("(?:" + re + ")")
		} else {
			b.WriteString("[^/]+")
		}
		rest = rest[j+1:]
	}
	b.WriteString(regexp.QuoteMeta(rest))
	return b.String()
}

// ensureSlash gives a stripped path its leading "/", as Tyk's
// StripListenPath does.
func ensureSlash(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return "/" + p
}
