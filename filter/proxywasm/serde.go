package proxywasm

import (
	"encoding/binary"
	"strconv"
)

// Header maps cross the ABI in one serialized form (proxy-wasm spec §
// "Serialization"): a little-endian u32 pair count N, then N (u32 key length,
// u32 value length) entries, then every key and value in order, each followed
// by a NUL byte that the lengths exclude.

// headerMapSize is the serialized size of h.
func headerMapSize(h [][2]string) int {
	n := 4 + 8*len(h)
	for _, kv := range h {
		n += len(kv[0]) + len(kv[1]) + 2
	}
	return n
}

// encodeHeaderMap writes h into dst, which must be headerMapSize(h) long.
func encodeHeaderMap(dst []byte, h [][2]string) {
	binary.LittleEndian.PutUint32(dst, uint32(len(h)))
	sizes := dst[4:]
	for i, kv := range h {
		binary.LittleEndian.PutUint32(sizes[8*i:], uint32(len(kv[0])))
		binary.LittleEndian.PutUint32(sizes[8*i+4:], uint32(len(kv[1])))
	}
	data := sizes[8*len(h):]
	for _, kv := range h {
		data = data[copy(data, kv[0]):]
		data[0] = 0
		data = data[1+copy(data[1:], kv[1]):]
		data[0] = 0
		data = data[1:]
	}
}

// decodeError describes a header map the host serialized incorrectly. It
// matches ErrParseFailure under errors.Is.
type decodeError struct{ reason string }

func (e *decodeError) Error() string {
	return "proxy-wasm: malformed header map from host: " + e.reason
}

func (e *decodeError) Unwrap() error { return ErrParseFailure }

// decodeHeaderMap parses a serialized header map. The data comes from the
// host and is validated completely: any inconsistency is an error, never a
// panic or an out-of-range read. All strings share one copy of the data
// section, so the result stays valid after the arena holding data is reused.
func decodeHeaderMap(data []byte) ([][2]string, error) {
	// Hosts may encode the empty map as nothing or as a single NUL byte.
	if len(data) == 0 || (len(data) == 1 && data[0] == 0) {
		return nil, nil
	}
	if len(data) < 4 {
		return nil, &decodeError{"truncated pair count (" + strconv.Itoa(len(data)) + " bytes)"}
	}
	n := uint64(binary.LittleEndian.Uint32(data))
	// Checked in uint64 so a hostile count cannot overflow, and before any
	// allocation so the count cannot make us allocate more than the input.
	if 4+8*n > uint64(len(data)) {
		return nil, &decodeError{"pair count " + strconv.FormatUint(n, 10) + " exceeds the data"}
	}
	sizes := data[4 : 4+8*n]
	body := data[4+8*n:]
	var need uint64
	for i := uint64(0); i < n; i++ {
		need += uint64(binary.LittleEndian.Uint32(sizes[8*i:])) + uint64(binary.LittleEndian.Uint32(sizes[8*i+4:])) + 2
	}
	if need != uint64(len(body)) {
		return nil, &decodeError{"strings need " + strconv.FormatUint(need, 10) + " bytes, have " + strconv.Itoa(len(body))}
	}
	s := string(body)
	out := make([][2]string, n)
	off := 0
	for i := range out {
		kl := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if s[off+kl] != 0 || s[off+kl+1+vl] != 0 {
			return nil, &decodeError{"pair " + strconv.Itoa(i) + " is not NUL-terminated"}
		}
		out[i][0] = s[off : off+kl]
		out[i][1] = s[off+kl+1 : off+kl+1+vl]
		off += kl + vl + 2
	}
	return out, nil
}

// propertyPathSize is the serialized size of a property path: segments
// joined by single NUL bytes, no trailing NUL.
func propertyPathSize(path []string) int {
	if len(path) == 0 {
		return 0
	}
	n := len(path) - 1
	for _, p := range path {
		n += len(p)
	}
	return n
}

// encodePropertyPath writes path into dst, which must be
// propertyPathSize(path) long.
func encodePropertyPath(dst []byte, path []string) {
	for i, p := range path {
		if i > 0 {
			dst[0] = 0
			dst = dst[1:]
		}
		dst = dst[copy(dst, p):]
	}
}
