package abi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// PairsSize is the serialized size of pairs: a u32 count, a (u32, u32) size entry per pair, then
// every key and value followed by a NUL byte.
func PairsSize(pairs [][2]string) int {
	n := 4 + 8*len(pairs)
	for _, p := range pairs {
		n += len(p[0]) + len(p[1]) + 2
	}
	return n
}

// AppendPairs appends the serialized form of pairs to dst. It never produces the one-byte
// empty-map form: a zero count is what Envoy writes and what every SDK decodes.
func AppendPairs(dst []byte, pairs [][2]string) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(pairs)))
	for _, p := range pairs {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[0])))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p[1])))
	}
	for _, p := range pairs {
		dst = append(dst, p[0]...)
		dst = append(dst, 0)
		dst = append(dst, p[1]...)
		dst = append(dst, 0)
	}
	return dst
}

// ErrMalformedPairs reports a serialized map whose sizes do not add up.
var ErrMalformedPairs = errors.New("malformed serialized header map")

// DecodePairs parses a serialized map. Empty input and the single NUL byte both decode to an
// empty map, as the spec allows either for "no pairs".
func DecodePairs(b []byte) ([][2]string, error) {
	if len(b) == 0 || (len(b) == 1 && b[0] == 0) {
		return nil, nil
	}
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformedPairs, len(b))
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > (len(b)-4)/8 {
		return nil, fmt.Errorf("%w: %d pairs do not fit in %d bytes", ErrMalformedPairs, n, len(b))
	}
	sizes := b[4 : 4+8*n]
	data := b[4+8*n:]
	pairs := make([][2]string, n)
	for i := range n {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if kl+vl+2 > len(data) || kl < 0 || vl < 0 {
			return nil, fmt.Errorf("%w: pair %d overruns the buffer", ErrMalformedPairs, i)
		}
		if data[kl] != 0 || data[kl+1+vl] != 0 {
			return nil, fmt.Errorf("%w: pair %d is not NUL-terminated", ErrMalformedPairs, i)
		}
		pairs[i] = [2]string{string(data[:kl]), string(data[kl+1 : kl+1+vl])}
		data = data[kl+vl+2:]
	}
	return pairs, nil
}

// JoinPath turns a property path as the guest sends it (segments separated by NUL) into the
// dotted form used as a lookup key, e.g. "request\x00path" -> "request.path". A trailing NUL,
// which some SDKs send, is ignored.
func JoinPath(raw []byte) string {
	raw = bytes.TrimSuffix(raw, []byte{0})
	return string(bytes.ReplaceAll(raw, []byte{0}, []byte{'.'}))
}
