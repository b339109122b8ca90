// Package route maps a request to its API definition and finds the API key
// in it, following Tyk's rules (getAuthToken in Tyk's gateway/middleware.go; filter/README.md).
package route

import (
	"slices"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Table matches requests to API definitions. It is immutable; build a new
// one when the definitions change.
type Table struct {
	routes []entry
}

type entry struct {
	prefix string // listen path without its trailing slash; "" matches every path
	domain string // lower-case host without port; "" matches every host
	api    *model.APIDefinition
}

// New builds a table from API definitions. Inactive definitions are left
// out, as Tyk does not load them.
func New(apis []*model.APIDefinition) *Table {
	t := &Table{routes: make([]entry, 0, len(apis))}
	for _, a := range apis {
		if a == nil || !a.Active {
			continue
		}
		t.routes = append(t.routes, entry{
			prefix: strings.TrimRight(a.Proxy.ListenPath, "/"),
			domain: strings.ToLower(hostOnly(a.Domain)),
			api:    a,
		})
	}
	// Longest listen path first, so /api/v2 wins over /api; at equal
	// length a definition bound to a domain wins over a catch-all one. The
	// api id breaks the remaining ties so that matching is deterministic.
	slices.SortStableFunc(t.routes, func(a, b entry) int {
		if len(a.prefix) != len(b.prefix) {
			return len(b.prefix) - len(a.prefix)
		}
		if (a.domain == "") != (b.domain == "") {
			if a.domain == "" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.api.APIID, b.api.APIID)
	})
	return t
}

// Len reports how many definitions the table routes to.
func (t *Table) Len() int { return len(t.routes) }

// Match returns the API whose listen path is the longest prefix of path
// (matched on whole segments: /api matches /api and /api/x, not /apix) and
// whose domain, if set, equals host. path may carry a query string. It
// returns nil when nothing matches.
func (t *Table) Match(host, path string) *model.APIDefinition {
	path = PathOnly(path)
	host = hostOnly(host)
	for i := range t.routes {
		r := &t.routes[i]
		if r.domain != "" && !strings.EqualFold(r.domain, host) {
			continue
		}
		if r.prefix == "" || path == r.prefix ||
			(strings.HasPrefix(path, r.prefix) && path[len(r.prefix)] == '/') {
			return r.api
		}
	}
	return nil
}

// PathOnly returns a :path without its query string and fragment. A plain
// loop: strings.IndexAny on a short path runs one IndexRune per byte of
// the path, the largest string cost of a warm request in the VM.
func PathOnly(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '?' || p[i] == '#' {
			return p[:i]
		}
	}
	return p
}

// hostOnly drops a port from a host (an IPv6 literal keeps its brackets).
func hostOnly(h string) string {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.IndexByte(h[i:], ']') >= 0 {
		return h
	}
	return h[:i]
}
