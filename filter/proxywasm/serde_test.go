package proxywasm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// wireMap builds a serialized header map by hand, independently of
// encodeHeaderMap, so the two are checked against the spec, not each other.
func wireMap(pairs ...string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pairs)/2))
	for _, s := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	}
	for _, s := range pairs {
		b = append(append(b, s...), 0)
	}
	return b
}

func TestHeaderMapRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    [][2]string
	}{
		{"empty", [][2]string{}},
		{"one", [][2]string{{":method", "GET"}}},
		{"pseudo and regular", [][2]string{{":path", "/a?b=c"}, {":authority", "example.com"}, {"x-api-key", "k1"}}},
		{"empty key and value", [][2]string{{"", ""}, {"k", ""}, {"", "v"}}},
		{"duplicate keys", [][2]string{{"set-cookie", "a=1"}, {"set-cookie", "b=2"}}},
		{"binary value", [][2]string{{"x-bin", "\x00\xff\x01"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var flat []string
			for _, kv := range tc.h {
				flat = append(flat, kv[0], kv[1])
			}
			want := wireMap(flat...)
			got := make([]byte, headerMapSize(tc.h))
			encodeHeaderMap(got, tc.h)
			if !bytes.Equal(got, want) {
				t.Fatalf("encode = %x, want %x", got, want)
			}
			back, err := decodeHeaderMap(got)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(back) != len(tc.h) || (len(tc.h) > 0 && !reflect.DeepEqual(back, tc.h)) {
				t.Fatalf("decode = %q, want %q", back, tc.h)
			}
		})
	}
}

// The spec's worked example: {"a": "1", "b": "2"} (with the digits as the
// ASCII bytes 0x31/0x32 the spec meant).
func TestDecodeSpecExample(t *testing.T) {
	data := []byte{
		0x02, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		'a', 0, '1', 0, 'b', 0, '2', 0,
	}
	got, err := decodeHeaderMap(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]string{{"a", "1"}, {"b", "2"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestDecodeHeaderMapRejectsMalformed(t *testing.T) {
	valid := wireMap("k", "v")
	tests := []struct {
		name string
		data []byte
	}{
		{"short count", []byte{1, 0}},
		{"count beyond data", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
		{"size table truncated", valid[:8]},
		{"strings truncated", valid[:len(valid)-1]},
		{"trailing bytes", append(append([]byte{}, valid...), 'x')},
		{"missing key NUL", bytes.Replace(valid, []byte("k\x00"), []byte("kk"), 1)},
		{"missing value NUL", append(append([]byte{}, valid[:len(valid)-1]...), 'x')},
		{"huge sizes", append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(
			[]byte{1, 0, 0, 0}, 0xffffffff), 0xffffffff), 0, 0)},
		{"two bytes of zero", []byte{0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := decodeHeaderMap(tc.data)
			if err == nil {
				t.Fatalf("decoded %q from malformed input", h)
			}
			if !errors.Is(err, ErrParseFailure) {
				t.Fatalf("error %v does not match ErrParseFailure", err)
			}
		})
	}
}

func TestDecodeEmptyForms(t *testing.T) {
	for _, data := range [][]byte{nil, {}, {0}, {0, 0, 0, 0}} {
		h, err := decodeHeaderMap(data)
		if err != nil || len(h) != 0 {
			t.Errorf("decode(%x) = %q, %v; want empty", data, h, err)
		}
	}
}

// Decoded strings must not alias the input, which lives in the arena and is
// overwritten by the next callback.
func TestDecodeCopiesData(t *testing.T) {
	data := wireMap("key", "value")
	h, err := decodeHeaderMap(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 'X'
	}
	if h[0] != [2]string{"key", "value"} {
		t.Fatalf("decoded strings changed with the input: %q", h)
	}
}

// FuzzDecodeHeaderMap feeds arbitrary host output to the decoder: it must
// never panic, and whatever it accepts must re-encode to the same bytes.
func FuzzDecodeHeaderMap(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add(wireMap(":method", "GET", ":path", "/"))
	f.Add(wireMap("", ""))
	f.Add([]byte{1, 0, 0, 0, 1, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeHeaderMap(data)
		if err != nil {
			return
		}
		if len(data) <= 1 {
			return // the empty-map forms do not re-encode byte for byte
		}
		again := make([]byte, headerMapSize(h))
		encodeHeaderMap(again, h)
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted %x but it re-encodes as %x", data, again)
		}
	})
}

func TestPropertyPath(t *testing.T) {
	tests := []struct {
		path []string
		want string
	}{
		{nil, ""},
		{[]string{"plugin_name"}, "plugin_name"},
		{[]string{"request", "headers", "x-api-key"}, "request\x00headers\x00x-api-key"},
		{[]string{"", "a"}, "\x00a"},
	}
	for _, tc := range tests {
		got := make([]byte, propertyPathSize(tc.path))
		encodePropertyPath(got, tc.path)
		if string(got) != tc.want {
			t.Errorf("path %q = %q, want %q", tc.path, got, tc.want)
		}
	}
}
