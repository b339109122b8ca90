package wasmhost

import "strings"

// Headers is an ordered list of header (or trailer) pairs, pseudo-headers included, as
// proxy-wasm exchanges them. The host lower-cases keys it receives, like Envoy.
type Headers [][2]string

// Get returns the first value of key (case-insensitive).
func (h Headers) Get(key string) (string, bool) {
	for _, p := range h {
		if strings.EqualFold(p[0], key) {
			return p[1], true
		}
	}
	return "", false
}

// Values returns every value of key (case-insensitive), in order.
func (h Headers) Values(key string) []string {
	var vs []string
	for _, p := range h {
		if strings.EqualFold(p[0], key) {
			vs = append(vs, p[1])
		}
	}
	return vs
}

// Clone returns a copy that shares no storage with h.
func (h Headers) Clone() Headers {
	if h == nil {
		return nil
	}
	return append(Headers(nil), h...)
}

// lowerKeys copies h with every key lower-cased, as Envoy stores them. The
// copy has room for a few more pairs, so the headers a filter adds (an API
// id, rate-limit headers) do not grow it.
func lowerKeys(h Headers) Headers {
	out := make(Headers, len(h), len(h)+headerRoom)
	for i, p := range h {
		out[i] = [2]string{strings.ToLower(p[0]), p[1]}
	}
	return out
}

// headerMap is the host's mutable view of one map; keys are always lower case.
type headerMap struct {
	pairs Headers
}

// index finds key, which the guest may send in any case, without allocating.
func (m *headerMap) index(key []byte) int {
	for i, p := range m.pairs {
		if equalFoldASCII(p[0], key) {
			return i
		}
	}
	return -1
}

func equalFoldASCII(lower string, b []byte) bool {
	if len(lower) != len(b) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if lower[i] != c {
			return false
		}
	}
	return true
}

// headerRoom is the spare capacity of a copied header map.
const headerRoom = 4

// add appends a pair; key and value share one allocation (a filter adds
// several headers per request, each a host call).
func (m *headerMap) add(key []byte, value []byte) {
	var b strings.Builder
	b.Grow(len(key) + len(value))
	for _, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.Write(value)
	s := b.String()
	m.pairs = append(m.pairs, [2]string{s[:len(key)], s[len(key):]})
}

// replace follows Envoy's setCopy: the first entry takes the value, later duplicates go.
func (m *headerMap) replace(key, value []byte) {
	i := m.index(key)
	if i < 0 {
		m.add(key, value)
		return
	}
	if m.pairs[i][1] != string(value) {
		m.pairs[i][1] = string(value)
	}
	m.removeFrom(key, i+1)
}

func (m *headerMap) remove(key []byte) { m.removeFrom(key, 0) }

func (m *headerMap) removeFrom(key []byte, from int) {
	out := m.pairs[:from]
	for _, p := range m.pairs[from:] {
		if !equalFoldASCII(p[0], key) {
			out = append(out, p)
		}
	}
	clear(m.pairs[len(out):])
	m.pairs = out
}
