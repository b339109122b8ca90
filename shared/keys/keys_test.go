package keys

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingReader yields 0, 1, 2, ... 255, 0, ...
type countingReader struct{ next byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.next
		r.next++
	}
	return len(p), nil
}

func TestGenerateDeterministic(t *testing.T) {
	tests := []struct {
		name string
		r    io.Reader
		want string
	}{
		// Bytes 0..21 map to the first 22 alphabet characters.
		{"counting", &countingReader{}, "tp_0123456789ABCDEFGHIJKL0IlaFP"},
		// 61 is 'z'; the interleaved 248..255 are rejected, not folded.
		{"rejection sampling", bytes.NewReader(bytes.Repeat([]byte{248, 61, 255, 123}, 16)), "tp_zzzzzzzzzzzzzzzzzzzzzz48Rc6G"},
	}
	for _, tt := range tests {
		got, err := Generate(tt.r)
		if err != nil || got != tt.want {
			t.Errorf("%s: Generate = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestGenerateReaderErrors(t *testing.T) {
	for _, r := range []io.Reader{
		bytes.NewReader(nil),
		bytes.NewReader(make([]byte, 10)),
		bytes.NewReader(bytes.Repeat([]byte{250}, 64)), // only rejected bytes, then EOF
	} {
		if key, err := Generate(r); err == nil {
			t.Errorf("Generate on a short reader = %q, want an error", key)
		}
	}
}

func TestGenerateRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		key, err := Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(key); err != nil || len(key) != 31 || seen[key] {
			t.Fatalf("key %q: Check=%v len=%d duplicate=%v", key, err, len(key), seen[key])
		}
		seen[key] = true
	}
}

func TestCheck(t *testing.T) {
	const valid = "tp_0123456789ABCDEFGHIJKL0IlaFP"
	tests := []struct {
		key  string
		want error
	}{
		{valid, nil},
		{"tp_zzzzzzzzzzzzzzzzzzzzzz48Rc6G", nil},
		{"", ErrNotGenerated},
		{"my-custom-key", ErrNotGenerated},
		{"TP_0123456789ABCDEFGHIJKL0IlaFP", ErrNotGenerated},
		{"tp_", ErrMalformed},
		{valid[:30], ErrMalformed},
		{valid + "0", ErrMalformed},
		{"tp_0123456789ABCDEFGHIJKL0IlaFp", ErrMalformed},   // checksum case flipped
		{"tp_0123456789ABCDEFGHIJKm0IlaFP", ErrMalformed},   // random part changed
		{"tp_0123456789ABCDEFGHIJ-L0IlaFP", ErrMalformed},   // not base62
		{"tp_0123456789ABCDEFGHIJ\xffL0IlaF", ErrMalformed}, // not ASCII
	}
	for _, tt := range tests {
		err := Check(tt.key)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Check(%q) = %v, want %v", tt.key, err, tt.want)
		}
		if LooksGenerated(tt.key) != (tt.want != ErrNotGenerated) {
			t.Errorf("LooksGenerated(%q) = %v", tt.key, LooksGenerated(tt.key))
		}
	}
}

func TestValidCustom(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"abc", true},
		{"org1-5f9d88e0a6b14c0b8d2e", true},
		{"!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", true},
		{strings.Repeat("k", 256), true},
		{"ab", false},
		{"", false},
		{strings.Repeat("k", 257), false},
		{"has space", false},
		{"tab\there", false},
		{"new\nline", false},
		{"del\x7f", false},
		{"ümlaut", false},
		{"tp_mine", false},
		{"TP_mine", true},
	}
	for _, tt := range tests {
		err := ValidCustom(tt.key)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalidCustom) {
			t.Errorf("ValidCustom(%q) = %v, want ok=%v", tt.key, err, tt.ok)
		}
	}
}

func TestHash(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"},
	}
	for _, tt := range tests {
		got := Hash(tt.in)
		if got != tt.want || !IsHash(got) {
			t.Errorf("Hash(%q) = %q (IsHash %v), want %q", tt.in, got, IsHash(got), tt.want)
		}
	}
}

func TestIsHash(t *testing.T) {
	h := Hash("abc")
	for _, s := range []string{"", h[:63], h + "0", strings.ToUpper(h), h[:63] + "g", "tp_0123456789ABCDEFGHIJKL0IlaFP"} {
		if IsHash(s) {
			t.Errorf("IsHash(%q) = true", s)
		}
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true}, {"abc", "abc", true}, {"abc", "abd", false}, {"abc", "abcd", false}, {"abc", "", false},
	}
	for _, tt := range tests {
		if got := Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// FuzzCheck runs its seeds as a unit test; `go test -fuzz FuzzCheck` explores
// further. Invariants: no panic; acceptance implies the exact format; any
// single-character change of an accepted key is rejected (CRC-32 detects
// every error confined to 32 consecutive bits).
func FuzzCheck(f *testing.F) {
	for _, seed := range []string{
		"", "tp_", "tp_0123456789ABCDEFGHIJKL0IlaFP", "tp_zzzzzzzzzzzzzzzzzzzzzz48Rc6G",
		"tp_0123456789ABCDEFGHIJKL0IlaFp", "custom-key", "tp_\x00\xff", strings.Repeat("tp_", 11),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := Check(key)
		if LooksGenerated(key) == errors.Is(err, ErrNotGenerated) {
			t.Fatalf("Check(%q) = %v disagrees with LooksGenerated", key, err)
		}
		if err != nil {
			return
		}
		if len(key) != GeneratedLen || ValidCustom(key) == nil {
			t.Fatalf("accepted %q has length %d or passes as custom", key, len(key))
		}
		for i := len(Prefix); i < len(key); i++ {
			for _, c := range []byte{'0', 'a', 'Z', 'z'} {
				if c == key[i] {
					continue
				}
				mutated := key[:i] + string(c) + key[i+1:]
				if Check(mutated) == nil {
					t.Fatalf("single change at %d of %q accepted: %q", i, key, mutated)
				}
			}
		}
	})
}

func TestCertDigest(t *testing.T) {
	a := strings.Repeat("a1", 32)
	for id, want := range map[string]string{a: a, "org" + a: a, strings.ToUpper(a): a, "short": "", a[1:] + "z": ""} {
		if got, ok := CertDigest(id); got != want || ok != (want != "") {
			t.Errorf("%q: %q %v, want %q", id, got, ok, want)
		}
	}
}
