package pathnorm

import (
	"errors"
	"strings"
	"testing"
)

// Envoy's column in the comments is what normalize_path + merge_slashes make of the same input
// (Chromium's path canonicalizer, then merge_slashes), where it differs.
var normalizeTests = []struct {
	in   string
	want string // "" with err
	err  error
}{
	// Already normal: returned as is.
	{in: "/", want: "/"},
	{in: "/a", want: "/a"},
	{in: "/a/b/", want: "/a/b/"},
	{in: "/demo/api/v1/users/123?limit=10&x=/../", want: "/demo/api/v1/users/123?limit=10&x=/../"},
	{in: "/.well-known/x", want: "/.well-known/x"},
	{in: "/a/...", want: "/a/..."},
	{in: "/a/..b/.c/b..", want: "/a/..b/.c/b.."},
	{in: "/caf%C3%A9", want: "/caf%C3%A9"},
	{in: "/a%20b/%25/%3F", want: "/a%20b/%25/%3F"},
	{in: "/a;b=c/d@e:f!$&'()*+,=", want: "/a;b=c/d@e:f!$&'()*+,="},
	{in: "/a?", want: "/a?"},
	{in: "*", want: "*"}, // OPTIONS *: names no resource

	// Dot segments (RFC 3986 §5.2.4).
	{in: "/a/./b", want: "/a/b"},
	{in: "/a/b/..", want: "/a/"},
	{in: "/a/b/../", want: "/a/"},
	{in: "/a/b/../c", want: "/a/c"},
	{in: "/a/.", want: "/a/"},
	{in: "/a/./", want: "/a/"},
	{in: "/.", want: "/"},
	{in: "/./a/b", want: "/a/b"},
	{in: "/a/..", want: "/"},
	{in: "/a/b/../../c", want: "/c"},
	{in: "/demo/../api3/x", want: "/api3/x"},
	{in: "/a/././b/./", want: "/a/b/"},
	{in: "/a/b/c/./../../g", want: "/a/g"},
	{in: "/a/%2e%2E/b", want: "/b"},
	{in: "/a/b/%2E./c", want: "/a/c"},
	{in: "/a/b/.%2e", want: "/a/"},
	{in: "/a/b/%2E/c", want: "/a/b/c"},
	{in: "/a//../b", want: "/a/b"}, // the empty segment is what ".." removes (Envoy: the same)
	{in: "//..", want: "/"},
	{in: "/..?x", err: ErrAboveRoot},
	{in: "/..", err: ErrAboveRoot},           // Envoy: "/"
	{in: "/../a/b", err: ErrAboveRoot},       // Envoy: "/a/b"
	{in: "/a/b/../../..", err: ErrAboveRoot}, // Envoy: "/"
	{in: "/a/../../b", err: ErrAboveRoot},
	{in: "/./..", err: ErrAboveRoot},
	{in: "/%2e%2e/a", err: ErrAboveRoot},
	{in: "/a/..;/b", err: ErrDotParams}, // Envoy: unchanged; Tomcat serves /b
	{in: "/a/.;x=1/b", err: ErrDotParams},
	{in: "/a/%2e%2e;/b", err: ErrDotParams},
	{in: "/a/;/b", want: "/a/;/b"},
	{in: "/a/...;/b", want: "/a/...;/b"},

	// Repeated slashes.
	{in: "//a//b", want: "/a/b"},
	{in: "//", want: "/"},
	{in: "/a///b//", want: "/a/b/"},
	{in: "/a//b?q=//x", want: "/a/b?q=//x"},
	{in: "//a/./b/..//c", want: "/a/c"},

	// Percent-encoding: unreserved decoded, the rest in upper case.
	{in: "/%7euser", want: "/~user"},
	{in: "/%41", want: "/A"},
	{in: "/%61%2D%5F%7E%30", want: "/a-_~0"},
	{in: "/caf%c3%a9", want: "/caf%C3%A9"}, // Envoy: keeps the case
	{in: "/%c0%af", want: "/%C0%AF"},
	{in: "/%252F", want: "/%252F"}, // decoded once only: %25 is '%'
	{in: "/%3f?a=%2F", want: "/%3F?a=%2F"},
	{in: "/a?%7e", want: "/a?%7e"}, // the query is kept byte for byte
	{in: "/caf\xc3\xa9", want: "/caf%C3%A9"},
	{in: "/\xff", want: "/%FF"},

	// Refused.
	{in: "/a/%2F/b", err: ErrEncodedSlash}, // Envoy: kept, or rejected with path_with_escaped_slashes_action
	{in: "/a%2fb", err: ErrEncodedSlash},
	{in: "/a\\b", err: ErrBackslash},    // Envoy: "/a/b"
	{in: "/a/..\\c", err: ErrBackslash}, // Envoy: "/c"
	{in: "/%5c", err: ErrBackslash},
	{in: "/%5C%25", err: ErrBackslash}, // Envoy: kept
	{in: "/a\x00", err: ErrNUL},
	{in: "/xyz/.%00../abc", err: ErrNUL},
	{in: "/%00", err: ErrNUL},
	{in: "/a b", err: ErrInvalidChar},
	{in: "/a\tb", err: ErrInvalidChar},
	{in: "/a\x7f", err: ErrInvalidChar},
	{in: "/%zz", err: ErrBadEscape},
	{in: "/a%", err: ErrBadEscape},
	{in: "/a%4", err: ErrBadEscape},
	{in: "/a%4?x", err: ErrBadEscape},
	{in: "/%/a", err: ErrBadEscape},
	{in: "/xyz/AAAAA%%0000/abc", err: ErrBadEscape},
	{in: "/api3#/../demo", err: ErrFragment},
	{in: "/a?b#c", err: ErrFragment},
	{in: "/a%23b", want: "/a%23b"}, // an encoded '#' is just a character
	{in: "", err: ErrNotOriginForm},
	{in: "a/b", err: ErrNotOriginForm},        // Envoy: "/a/b"
	{in: "..", err: ErrNotOriginForm},         // Envoy: "/"
	{in: "http://h/a", err: ErrNotOriginForm}, // absolute-form: hosts convert it before
	{in: "?a", err: ErrNotOriginForm},
	{in: "/a?b\x00", want: "/a?b\x00"}, // the query is not this package's business
}

func TestNormalize(t *testing.T) {
	for _, tt := range normalizeTests {
		got, changed, err := Normalize(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
			continue
		}
		if wantChanged := err == nil && got != tt.in; changed != wantChanged {
			t.Errorf("Normalize(%q): changed = %v, want %v", tt.in, changed, wantChanged)
		}
		if err != nil {
			continue
		}
		if again, changed, err := Normalize(got); again != got || changed || err != nil {
			t.Errorf("Normalize(%q) = %q, %v, %v: not idempotent", got, again, changed, err)
		}
	}
}

// The messages go into a JSON string as they are.
func TestErrorMessagesAreJSONSafe(t *testing.T) {
	for _, err := range []error{ErrNotOriginForm, ErrEncodedSlash, ErrBackslash, ErrNUL, ErrInvalidChar,
		ErrBadEscape, ErrAboveRoot, ErrDotParams, ErrFragment} {
		if m := err.Error(); strings.ContainsAny(m, "\"\\") || m == "" {
			t.Errorf("%q is not safe in a JSON string", m)
		}
	}
}

func TestNormalPathDoesNotAllocate(t *testing.T) {
	for _, p := range []string{"/", "/demo/api/v1/users/123?limit=10", "/caf%C3%A9/a;b/.well-known/"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, changed, err := Normalize(p); changed || err != nil {
				t.Fatalf("Normalize(%q): changed %v, %v", p, changed, err)
			}
		})
		if allocs != 0 {
			t.Errorf("Normalize(%q): %v allocations, want 0", p, allocs)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, tt := range normalizeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		// The fast check never vouches for a path the full pass would change or refuse.
		if strings.HasPrefix(in, "/") && !strings.Contains(in, "?") && isNormal(in) {
			if out, err := normalizePath(in); err != nil || string(out) != in {
				t.Fatalf("isNormal(%q) but normalizePath gives %q, %v", in, out, err)
			}
		}
		got, changed, err := Normalize(in)
		if err != nil {
			if got != "" || changed {
				t.Fatalf("Normalize(%q) = %q, %v with error %v", in, got, changed, err)
			}
			return
		}
		if changed != (got != in) {
			t.Fatalf("Normalize(%q) = %q: changed = %v", in, got, changed)
		}
		if again, changed, err := Normalize(got); again != got || changed || err != nil {
			t.Fatalf("Normalize(%q) = %q; again: %q, %v, %v", in, got, again, changed, err)
		}
		if got == "*" {
			return
		}
		if strings.Contains(got, "#") {
			t.Fatalf("Normalize(%q) = %q: fragment", in, got)
		}
		path, query, hasQuery := strings.Cut(got, "?")
		if _, inQuery, _ := strings.Cut(in, "?"); hasQuery && query != inQuery {
			t.Fatalf("Normalize(%q) = %q: query changed", in, got)
		}
		if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") || strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
			t.Fatalf("Normalize(%q) = %q: not normal", in, got)
		}
		for _, seg := range strings.Split(path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("Normalize(%q) = %q: dot segment", in, got)
			}
		}
		for i := 0; i < len(path); i++ {
			c := path[i]
			if c <= ' ' || c >= 0x7f || c == '\\' {
				t.Fatalf("Normalize(%q) = %q: byte %#x in the path", in, got, c)
			}
			if c == '%' {
				if i+2 >= len(path) || !isUpperHex(path[i+1]) || !isUpperHex(path[i+2]) {
					t.Fatalf("Normalize(%q) = %q: bad escape", in, got)
				}
				switch v := unhex(path[i+1])<<4 | unhex(path[i+2]); {
				case v == 0 || v == '/' || v == '\\' || isUnreserved(v):
					t.Fatalf("Normalize(%q) = %q: escape %%%02X left", in, got, v)
				}
			}
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, path string }{
		{"normal", "/demo/api/v1/users/123?limit=10&offset=20"},
		{"normal-long", "/demo/api/v1/organisations/acme/projects/turnpike/issues/10/comments?page=2"},
		{"dot-segments", "/demo/../api3/x/./y?limit=10"},
		{"escapes", "/demo/%7euser/caf%c3%a9?limit=10"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Normalize(bc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
