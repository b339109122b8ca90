package abi

import (
	"errors"
	"reflect"
	"testing"
)

func TestPairsRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
	}{
		{"empty", nil},
		{"one", [][2]string{{":path", "/"}}},
		{"pseudo and empty value", [][2]string{{":method", "GET"}, {"x-empty", ""}, {"a", "1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendPairs(nil, tt.pairs)
			if len(b) != PairsSize(tt.pairs) {
				t.Fatalf("size %d, PairsSize says %d", len(b), PairsSize(tt.pairs))
			}
			got, err := DecodePairs(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.pairs) || (len(got) > 0 && !reflect.DeepEqual(got, tt.pairs)) {
				t.Fatalf("got %q, want %q", got, tt.pairs)
			}
		})
	}
}

// The spec's worked example: {"key1":"1"}, {"key2":"2"} (its 0x49/0x50 are ASCII '1'/'2').
func TestDecodeSpecExample(t *testing.T) {
	b := []byte{2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0,
		'k', 'e', 'y', '1', 0, '1', 0, 'k', 'e', 'y', '2', 0, '2', 0}
	got, err := DecodePairs(b)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"key1", "1"}, {"key2", "2"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestDecodeMalformed(t *testing.T) {
	good := AppendPairs(nil, [][2]string{{"k", "v"}})
	noNUL := append([]byte(nil), good...)
	noNUL[len(noNUL)-1] = 'x'
	tests := map[string][]byte{
		"short":         {1, 0},
		"count too big": {9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0},
		"truncated":     good[:len(good)-2],
		"missing NUL":   noNUL,
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodePairs(b); !errors.Is(err, ErrMalformedPairs) {
				t.Fatalf("err = %v, want ErrMalformedPairs", err)
			}
		})
	}
	if got, err := DecodePairs([]byte{0}); err != nil || len(got) != 0 {
		t.Fatalf("single NUL: %v %v", got, err)
	}
}

func TestJoinPath(t *testing.T) {
	tests := map[string]string{
		"request\x00path":    "request.path",
		"plugin_name":        "plugin_name",
		"source\x00port\x00": "source.port",
	}
	for in, want := range tests {
		if got := JoinPath([]byte(in)); got != want {
			t.Errorf("JoinPath(%q) = %q, want %q", in, got, want)
		}
	}
}
