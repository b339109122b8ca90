// Package wire is the Filter API protocol (/turnpike/v1/): the paths,
// headers and query parameters filter.wasm uses to call the sidecar, and the
// request and response bodies with their codecs. The sidecar serves what
// this package encodes and the filter decodes it here, so the protocol is
// written once. The contract in prose is in sidecar/README.md.
//
// The filter links this package into the proxy-wasm VM, so it is pure and
// small: fastjson to decode, append-style encoders (AppendX(dst, ...) that
// write into a buffer the caller reuses), no encoding/json, fmt or
// reflection.
//
// Compatibility rules, which keep a rolling upgrade safe:
//
//   - fields and query parameters are only added, never renamed, retyped or
//     given a new meaning; a change that cannot follow this rule is served
//     under a new version prefix (/turnpike/v2/) alongside this one;
//   - decoders of answers (the filter's side) ignore unknown fields, so a
//     newer sidecar can add them;
//   - the sidecar rejects unknown fields in a quota request (a misspelt
//     field would charge the wrong counter), so sidecars are upgraded before
//     the filters that send a new field.
package wire

// Version is the protocol version, the second element of every path.
const Version = "v1"

// Paths of the Filter API. Sessions is followed by the key hash.
const (
	PathPrefix   = "/turnpike/" + Version + "/"
	PathSessions = PathPrefix + "sessions/"
	PathSync     = PathPrefix + "sync"
	PathQuota    = PathPrefix + "quota"
	// PathJWTSessions is followed by the key hash of a JWT's session id
	// (JWTSessionPath).
	PathJWTSessions = PathPrefix + "jwt-sessions/"
	// PathQuotaRelease gives back units of a lease that were not spent
	// (added in v1: sidecars that serve it upgrade before the filters
	// that call it).
	PathQuotaRelease = PathPrefix + "quota/release"
)

// Headers, lower case as proxy-wasm and HTTP/2 carry them (HTTP/1
// matches them case-insensitively).
const (
	// HeaderToken carries the filter token on every call.
	HeaderToken = "x-turnpike-filter-token"
	// HeaderCursor, on a session answer, is the sync feed position read
	// before the session: a change after the read is after this cursor.
	HeaderCursor = "x-turnpike-cursor"
	// HeaderOrgSession, on a session answer, is "1" when the session's
	// organisation has an org session in the store. A filter whose
	// snapshot lacks that org session fetches a fresh snapshot before
	// deciding (the org session was created after its last poll).
	HeaderOrgSession = "x-turnpike-org-session"
)

// Query parameters of GET PathSync.
const (
	// QueryCursor is the feed position of the caller's last answer; empty
	// for the first call.
	QueryCursor = "cursor"
	// QueryVersion is the snapshot version the caller holds; the answer
	// omits the snapshot when it is current.
	QueryVersion = "version"
	// QueryVM identifies the calling VM (optional), so the sidecar can tell
	// which filters hold the current snapshot.
	QueryVM = "vm"
	// QueryFresh "1" asks the sidecar to check the store for a newer
	// configuration before answering, rather than serve the snapshot it
	// polled last: a request is waiting for something just written.
	QueryFresh = "fresh"
	// QueryJWKSRefresh names, comma-separated, the APIs for which a token
	// carried a kid their key set lacks: the sidecar refetches their JWKS
	// URLs (rate-limited) and answers with a fresh snapshot once it has.
	QueryJWKSRefresh = "jwks_refresh"
)

// Status codes and what they mean to the filter. Any other status, and a
// failed call, means the sidecar cannot answer now: the filter keeps what it
// has cached and applies its failure mode.
const (
	// StatusOK: the body is the answer described by the endpoint.
	StatusOK = 200
	// StatusBadRequest: the request is malformed (a filter bug); the body
	// is an error answer.
	StatusBadRequest = 400
	// StatusForbidden: the filter token is wrong or missing, a
	// configuration error on one side.
	StatusForbidden = 403
	// StatusNotFound on a session lookup: no key has this hash. On any
	// other path: no such endpoint.
	StatusNotFound = 404
	// StatusUnavailable: storage is down or the config is not loaded yet;
	// never a statement about the key. Comes with Retry-After.
	StatusUnavailable = 503
)

// MaxSyncKeys bounds the key hashes of one sync answer; a longer backlog
// comes in pages (SyncPage.More).
const MaxSyncKeys = 1000

// SessionPath is the path of the session lookup of a key hash (lower-case
// hex SHA-256 of the key). The answer to it is, with StatusOK, the stored
// session document (policies not applied; decode it with
// model.DecodeSession) with HeaderCursor set; StatusNotFound means the key
// does not exist.
func SessionPath(keyHash string) string {
	return PathSessions + keyHash
}

// QueryReplace "1" on a JWT session write replaces a stored session.
const QueryReplace = "replace"

// JWTSessionPath is the path of POST of a session made from a JWT (Tyk's
// dynamically generated sessions): the body is the session document, the
// key hash that of the session id (shared/jwt.SessionID). The sidecar
// stores it unless a session is stored under the hash already, or, with
// replace, in any case (a token that changes the session's policies). The
// answer is that of a session lookup (SessionPath): StatusOK with the
// session now stored and HeaderCursor, so later requests find it like any
// key.
func JWTSessionPath(keyHash string, replace bool) string {
	if replace {
		return PathJWTSessions + keyHash + "?" + QueryReplace + "=1"
	}
	return PathJWTSessions + keyHash
}

// SyncQuery is the query of GET PathSync.
type SyncQuery struct {
	Cursor  string
	Version string // empty: the caller has no snapshot
	VM      string // empty: not sent
	Fresh   bool   // check the store first (QueryFresh)
	// JWKSRefresh are the api_ids, comma-separated, whose key sets lack a
	// kid (QueryJWKSRefresh); a string so that a SyncQuery stays comparable.
	JWKSRefresh string
}

// AppendPath appends the sync path with q's query, percent-encoded:
// cursor always, version, vm and fresh when set.
func (q SyncQuery) AppendPath(dst []byte) []byte {
	dst = append(dst, PathSync+"?"+QueryCursor+"="...)
	dst = appendQueryEscape(dst, q.Cursor)
	if q.Version != "" {
		dst = append(dst, "&"+QueryVersion+"="...)
		dst = appendQueryEscape(dst, q.Version)
	}
	if q.VM != "" {
		dst = append(dst, "&"+QueryVM+"="...)
		dst = appendQueryEscape(dst, q.VM)
	}
	if q.Fresh {
		dst = append(dst, "&"+QueryFresh+"=1"...)
	}
	if q.JWKSRefresh != "" {
		dst = append(dst, "&"+QueryJWKSRefresh+"="...)
		dst = appendQueryEscape(dst, q.JWKSRefresh)
	}
	return dst
}

// SyncQueryFrom reads a sync query through get, a lookup of a decoded query
// parameter such as url.Values.Get. Unknown parameters are ignored.
func SyncQueryFrom(get func(name string) string) SyncQuery {
	return SyncQuery{Cursor: get(QueryCursor), Version: get(QueryVersion), VM: get(QueryVM),
		Fresh: get(QueryFresh) == "1", JWKSRefresh: get(QueryJWKSRefresh)}
}

// appendQueryEscape percent-encodes s as a query value: everything but
// RFC 3986's unreserved characters. Not net/url.QueryEscape: linking
// net/url adds 116,610 bytes (2.4 %) to filter.wasm (measured with
// GOOS=wasip1 go build -buildmode=c-shared, 4,813,863 -> 4,930,473) for
// these ten lines.
func appendQueryEscape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hex[c>>4], hex[c&15])
	}
	return dst
}
