package proxywasm

import "strings"

// Header getters return copies (Go strings), so results may be kept freely,
// except GetHttpRequestHeaderView, which aliases this callback's memory. A
// missing header is ErrNotFound. Keys are matched as the host stores them;
// Envoy lower-cases header names.

func getHeaderMap(mt MapType) ([][2]string, error) {
	var addr, size uint32
	if err := statusError(proxyGetHeaderMapPairs(mt, &addr, &size)); err != nil {
		return nil, err
	}
	data, err := hostBytes(addr, size)
	if err != nil {
		return nil, err
	}
	return decodeHeaderMap(data)
}

func setHeaderMap(mt MapType, h [][2]string) error {
	data, err := encodeHeaders(h)
	if err != nil {
		return err
	}
	vm.replaced(mt)
	return statusError(proxySetHeaderMapPairs(mt, data))
}

func getHeaderValue(mt MapType, key string) (string, error) {
	v, err := getHeaderView(mt, key)
	return strings.Clone(v), err
}

func addHeaderValue(mt MapType, key, value string) error {
	vm.modified(mt, key)
	return statusError(proxyAddHeaderMapValue(mt, key, value))
}

func replaceHeaderValue(mt MapType, key, value string) error {
	vm.modified(mt, key)
	return statusError(proxyReplaceHeaderMapValue(mt, key, value))
}

func removeHeaderValue(mt MapType, key string) error {
	vm.modified(mt, key)
	return statusError(proxyRemoveHeaderMapValue(mt, key))
}

// GetHeaderMapSize returns the serialized size of a header map
// (proxy_get_header_map_size).
func GetHeaderMapSize(mt MapType) (int, error) {
	var size uint32
	if err := statusError(proxyGetHeaderMapSize(mt, &size)); err != nil {
		return 0, err
	}
	return int(size), nil
}

// getHeaderView is getHeaderValue without the copy: the string aliases
// arena memory. Request and response headers come from the callback's
// snapshot (snapshot.go).
func getHeaderView(mt MapType, key string) (string, error) {
	return vm.headerView(mt, key)
}

// getHeaderViewDirect reads one value with proxy_get_header_map_value.
func getHeaderViewDirect(mt MapType, key string) (string, error) {
	var addr, size uint32
	if err := statusError(proxyGetHeaderMapValue(mt, key, &addr, &size)); err != nil {
		return "", err
	}
	v, err := hostBytes(addr, size)
	if err != nil {
		return "", err
	}
	return bytesView(v), nil
}

// Request headers.

func GetHttpRequestHeaders() ([][2]string, error) { return getHeaderMap(MapTypeHttpRequestHeaders) }
func SetHttpRequestHeaders(h [][2]string) error   { return setHeaderMap(MapTypeHttpRequestHeaders, h) }
func GetHttpRequestHeader(key string) (string, error) {
	return getHeaderValue(MapTypeHttpRequestHeaders, key)
}

// GetHttpRequestHeaderView is GetHttpRequestHeader without the copy, for the
// per-request hot path: the result aliases memory the host wrote during this
// callback and is only valid until the callback returns (like
// GetSharedData's value). Clone it (strings.Clone) to keep it longer, e.g.
// before returning ActionPause.
func GetHttpRequestHeaderView(key string) (string, error) {
	return getHeaderView(MapTypeHttpRequestHeaders, key)
}

func AddHttpRequestHeader(key, value string) error {
	return addHeaderValue(MapTypeHttpRequestHeaders, key, value)
}

// ReplaceHttpRequestHeader sets key to value, adding it if absent.
func ReplaceHttpRequestHeader(key, value string) error {
	return replaceHeaderValue(MapTypeHttpRequestHeaders, key, value)
}

// RemoveHttpRequestHeader removes key; removing an absent key succeeds.
func RemoveHttpRequestHeader(key string) error {
	return removeHeaderValue(MapTypeHttpRequestHeaders, key)
}

// Request trailers.

func GetHttpRequestTrailers() ([][2]string, error) { return getHeaderMap(MapTypeHttpRequestTrailers) }
func SetHttpRequestTrailers(h [][2]string) error   { return setHeaderMap(MapTypeHttpRequestTrailers, h) }
func GetHttpRequestTrailer(key string) (string, error) {
	return getHeaderValue(MapTypeHttpRequestTrailers, key)
}
func AddHttpRequestTrailer(key, value string) error {
	return addHeaderValue(MapTypeHttpRequestTrailers, key, value)
}
func ReplaceHttpRequestTrailer(key, value string) error {
	return replaceHeaderValue(MapTypeHttpRequestTrailers, key, value)
}
func RemoveHttpRequestTrailer(key string) error {
	return removeHeaderValue(MapTypeHttpRequestTrailers, key)
}

// Response headers.

func GetHttpResponseHeaders() ([][2]string, error) { return getHeaderMap(MapTypeHttpResponseHeaders) }
func SetHttpResponseHeaders(h [][2]string) error   { return setHeaderMap(MapTypeHttpResponseHeaders, h) }
func GetHttpResponseHeader(key string) (string, error) {
	return getHeaderValue(MapTypeHttpResponseHeaders, key)
}

// GetHttpResponseHeaderView is GetHttpRequestHeaderView for a response
// header: valid only until the callback returns.
func GetHttpResponseHeaderView(key string) (string, error) {
	return getHeaderView(MapTypeHttpResponseHeaders, key)
}
func AddHttpResponseHeader(key, value string) error {
	return addHeaderValue(MapTypeHttpResponseHeaders, key, value)
}
func ReplaceHttpResponseHeader(key, value string) error {
	return replaceHeaderValue(MapTypeHttpResponseHeaders, key, value)
}

// ReplaceHttpResponseHeaderBytes is ReplaceHttpResponseHeader with the value
// as bytes, so a value formatted into a reused buffer needs no string copy:
// the host copies it during the call.
func ReplaceHttpResponseHeaderBytes(key string, value []byte) error {
	return replaceHeaderValue(MapTypeHttpResponseHeaders, key, bytesView(value))
}

func RemoveHttpResponseHeader(key string) error {
	return removeHeaderValue(MapTypeHttpResponseHeaders, key)
}

// Response trailers.

func GetHttpResponseTrailers() ([][2]string, error) { return getHeaderMap(MapTypeHttpResponseTrailers) }
func SetHttpResponseTrailers(h [][2]string) error {
	return setHeaderMap(MapTypeHttpResponseTrailers, h)
}
func GetHttpResponseTrailer(key string) (string, error) {
	return getHeaderValue(MapTypeHttpResponseTrailers, key)
}
func AddHttpResponseTrailer(key, value string) error {
	return addHeaderValue(MapTypeHttpResponseTrailers, key, value)
}
func ReplaceHttpResponseTrailer(key, value string) error {
	return replaceHeaderValue(MapTypeHttpResponseTrailers, key, value)
}
func RemoveHttpResponseTrailer(key string) error {
	return removeHeaderValue(MapTypeHttpResponseTrailers, key)
}

// Http call responses (inside a DispatchHttpCall callback). The status code
// is the ":status" header.

func GetHttpCallResponseHeaders() ([][2]string, error) {
	return getHeaderMap(MapTypeHttpCallResponseHeaders)
}
func GetHttpCallResponseTrailers() ([][2]string, error) {
	return getHeaderMap(MapTypeHttpCallResponseTrailers)
}
