package proxywasm

import "encoding/binary"

// Header reads are served from one snapshot per callback: the first
// GetHttpRequestHeaderView (or response header read) of a callback fetches
// the whole map with one proxy_get_header_map_pairs, and later reads in the
// same callback look the key up in it. A filter that reads four request
// headers then makes one host call and has the host allocate once, instead
// of four of each: in Envoy every value the host returns costs a call back
// into the guest's allocator, which costs about as much as the host call
// itself. The price is copying the whole map once per callback, which for
// ordinary requests (a few hundred bytes to a few KiB of headers) is far
// below one host round trip.
//
// The snapshot stays exact: it belongs to one callback and one effective
// context (a callback that switches context, or the next callback, takes a
// new one); a key the filter replaces, adds or removes is read from the host
// again afterwards (it is "dirty"), and replacing the whole map drops the
// snapshot. If the host cannot serve the pairs, reads go to the host one by
// one, with its own errors.
type headerSnapshot struct {
	epoch   uint64 // vmState.epoch when taken; 0: none
	context uint32
	direct  bool   // the pairs call failed: read key by key
	sizes   []byte // n × (key size, value size), little-endian u32s
	body    []byte // key NUL value NUL, n times
	n       int
	dirty   [maxDirty]string
	ndirty  int
}

// maxDirty bounds the keys tracked as modified; one more drops the snapshot.
const maxDirty = 8

// snapshotIndex is the snapshot slot of a map type, -1 for maps read key by
// key (trailers, http call responses: rare).
func snapshotIndex(mt MapType) int {
	switch mt {
	case MapTypeHttpRequestHeaders:
		return 0
	case MapTypeHttpResponseHeaders:
		return 1
	}
	return -1
}

// headerView reads key from the current callback's snapshot of mt.
func (s *vmState) headerView(mt MapType, key string) (string, error) {
	i := snapshotIndex(mt)
	if i < 0 {
		return getHeaderViewDirect(mt, key)
	}
	sn := &s.snaps[i]
	if sn.epoch == 0 || sn.epoch != s.epoch || sn.context != s.current {
		s.takeSnapshot(sn, mt)
	}
	if sn.direct || sn.isDirty(key) {
		return getHeaderViewDirect(mt, key)
	}
	if v, ok := sn.lookup(key); ok {
		return v, nil
	}
	return "", ErrNotFound
}

func (s *vmState) takeSnapshot(sn *headerSnapshot, mt MapType) {
	*sn = headerSnapshot{epoch: s.epoch, context: s.current}
	var addr, size uint32
	if statusError(proxyGetHeaderMapPairs(mt, &addr, &size)) != nil {
		sn.direct = true
		return
	}
	data, err := hostBytes(addr, size)
	if err != nil || !sn.parse(data) {
		sn.direct = true
	}
}

// parse checks the serialized pairs (as decodeHeaderMap does) and keeps
// views of them; false if they are malformed.
func (sn *headerSnapshot) parse(data []byte) bool {
	if len(data) == 0 || (len(data) == 1 && data[0] == 0) {
		return true // the empty map
	}
	if len(data) < 4 {
		return false
	}
	n := uint64(binary.LittleEndian.Uint32(data))
	if 4+8*n > uint64(len(data)) {
		return false
	}
	sizes, body := data[4:4+8*n], data[4+8*n:]
	off := uint64(0)
	for i := uint64(0); i < n; i++ {
		kl := uint64(binary.LittleEndian.Uint32(sizes[8*i:]))
		vl := uint64(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		if off+kl+vl+2 > uint64(len(body)) || body[off+kl] != 0 || body[off+kl+1+vl] != 0 {
			return false
		}
		off += kl + vl + 2
	}
	if off != uint64(len(body)) {
		return false
	}
	sn.sizes, sn.body, sn.n = sizes, body, int(n)
	return true
}

// lookup returns the first value of key (hosts store keys lower-case; the
// key may come in any case), as proxy_get_header_map_value does.
func (sn *headerSnapshot) lookup(key string) (string, bool) {
	off := 0
	for i := 0; i < sn.n; i++ {
		kl := int(binary.LittleEndian.Uint32(sn.sizes[8*i:]))
		vl := int(binary.LittleEndian.Uint32(sn.sizes[8*i+4:]))
		if kl == len(key) && equalFoldLower(sn.body[off:off+kl], key) {
			return bytesView(sn.body[off+kl+1 : off+kl+1+vl]), true
		}
		off += kl + vl + 2
	}
	return "", false
}

func (sn *headerSnapshot) isDirty(key string) bool {
	for _, d := range sn.dirty[:sn.ndirty] {
		if len(d) == len(key) && equalFoldLower([]byte(d), key) {
			return true
		}
	}
	return false
}

// modified notes that the filter changed key in mt (replace, add, remove):
// later reads of key in this callback go to the host.
func (s *vmState) modified(mt MapType, key string) {
	i := snapshotIndex(mt)
	if i < 0 {
		return
	}
	sn := &s.snaps[i]
	if sn.epoch == 0 || sn.epoch != s.epoch || sn.context != s.current || sn.direct || sn.isDirty(key) {
		return // no snapshot to correct
	}
	if sn.ndirty == maxDirty {
		sn.epoch = 0
		return
	}
	// The key may be a view of memory the caller reuses: keep a copy, in
	// the arena, which lives as long as the snapshot.
	k := s.mem.alloc(len(key))
	if k == nil {
		sn.epoch = 0
		return
	}
	copy(k, key)
	sn.dirty[sn.ndirty] = bytesView(k)
	sn.ndirty++
}

// replaced notes that the filter replaced the whole map mt.
func (s *vmState) replaced(mt MapType) {
	if i := snapshotIndex(mt); i >= 0 {
		s.snaps[i].epoch = 0
	}
}

// equalFoldLower compares a stored (lower-case) key with key in any case.
func equalFoldLower(stored []byte, key string) bool {
	if len(stored) != len(key) {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if stored[i] != c {
			return false
		}
	}
	return true
}
