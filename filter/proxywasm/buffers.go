package proxywasm

import "math"

// Body getters return arena memory, valid only until the current callback
// returns; copy what you keep. bodySize in OnHttpRequestBody and
// OnHttpResponseBody is the number of bytes buffered so far.

func getBuffer(bt BufferType, start, maxSize int) ([]byte, error) {
	s, err := int32Arg(start)
	if err != nil {
		return nil, err
	}
	m, err := int32Arg(maxSize)
	if err != nil {
		return nil, err
	}
	var addr, size uint32
	if err := statusError(proxyGetBufferBytes(bt, s, m, &addr, &size)); err != nil {
		return nil, err
	}
	return hostBytes(addr, size)
}

// setBuffer replaces size bytes at start with data: the ABI's one primitive
// for prepend (0, 0), append (past the end, 0) and replace (0, everything).
func setBuffer(bt BufferType, start, size int32, data []byte) error {
	if len(data) > math.MaxInt32 {
		return ErrBadArgument
	}
	return statusError(proxySetBufferBytes(bt, start, size, bytesView(data)))
}

// GetBufferStatus returns the current size of a buffer.
func GetBufferStatus(bt BufferType) (size int, err error) {
	var n, flags uint32
	if err := statusError(proxyGetBufferStatus(bt, &n, &flags)); err != nil {
		return 0, err
	}
	return int(n), nil
}

// GetHttpRequestBody returns up to maxSize bytes of the buffered request
// body from offset start.
func GetHttpRequestBody(start, maxSize int) ([]byte, error) {
	return getBuffer(BufferTypeHttpRequestBody, start, maxSize)
}
func AppendHttpRequestBody(data []byte) error {
	return setBuffer(BufferTypeHttpRequestBody, math.MaxInt32, 0, data)
}
func PrependHttpRequestBody(data []byte) error {
	return setBuffer(BufferTypeHttpRequestBody, 0, 0, data)
}
func ReplaceHttpRequestBody(data []byte) error {
	return setBuffer(BufferTypeHttpRequestBody, 0, math.MaxInt32, data)
}

// GetHttpResponseBody returns up to maxSize bytes of the buffered response
// body from offset start.
func GetHttpResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(BufferTypeHttpResponseBody, start, maxSize)
}
func AppendHttpResponseBody(data []byte) error {
	return setBuffer(BufferTypeHttpResponseBody, math.MaxInt32, 0, data)
}
func PrependHttpResponseBody(data []byte) error {
	return setBuffer(BufferTypeHttpResponseBody, 0, 0, data)
}
func ReplaceHttpResponseBody(data []byte) error {
	return setBuffer(BufferTypeHttpResponseBody, 0, math.MaxInt32, data)
}

// GetHttpCallResponseBody returns up to maxSize bytes of an http call's
// response body (inside its DispatchHttpCall callback).
func GetHttpCallResponseBody(start, maxSize int) ([]byte, error) {
	return getBuffer(BufferTypeHttpCallResponseBody, start, maxSize)
}
