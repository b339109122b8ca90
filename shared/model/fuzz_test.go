package model

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The fuzz targets run their seeds as ordinary unit tests. Each asserts that
// decoding never panics, that a failed decode reports an error and no value,
// and that whatever decodes re-encodes to valid JSON that decodes to the same
// value and re-encodes to the same bytes.

// brokenSeeds are inputs every decoder must reject or survive: bad syntax,
// wrong types, hostile numbers and strings.
var brokenSeeds = []string{
	``, `null`, `[]`, `{}`, `"x"`, `1`, `{"rate":`, `{"rate":1}}`, `{"rate":NaN}`, `{"rate":-Inf}`,
	`{"rate":01}`, `{"rate":1e999}`, `{"rate":-0}`, `{"rate":1e-400}`, `{"quota_max":1.5}`,
	`{"quota_max":1e3}`, `{"quota_max":-9223372036854775808}`, `{"quota_max":9223372036854775807.0}`,
	`{"alias":"\ud800"}`, `{"alias":"\u0000\u2028<>&"}`, "{\"alias\":\"\xff\"}", `{"a":"\x"}`,
	`{"meta_data":{"a":[[[{"b":null}]]],"c":1.0e+2}}`, `{"meta_data":{"\u00e9":"\ud83c\udf89"}}`,
	`{"access_rights":{"":{"limit":null,"endpoints":[]}}}`, `{"access_rights":{"a":[]}}`,
	`{"_id":"asd"}`, `{"_id":"5EAD7120575961000181867E"}`, `[{"id":"a"},{"id":"a"}]`, `[null]`,
	`{"p":{"id":"q"}}`, `{"auth_configs":{"authToken":null}}`, `{"version_data":{"versions":{"v":{}}}}`,
	strings.Repeat("[", 400) + strings.Repeat("]", 400),
	`{"meta_data":{"x":` + strings.Repeat("[", 298) + strings.Repeat("]", 298) + `}}`,
}

func addSeeds(f *testing.F, files ...string) {
	for _, name := range files {
		f.Add(readTestdata(f, name))
	}
	for _, s := range brokenSeeds {
		f.Add([]byte(s))
	}
}

// checkRoundTrip is the property shared by the fuzz targets.
func checkRoundTrip[T any](t *testing.T, data []byte, decode func([]byte) (T, error), encode func(T) []byte) {
	v1, err := decode(data)
	if err != nil {
		if !reflect.ValueOf(&v1).Elem().IsZero() {
			t.Fatalf("error %v came with a value", err)
		}
		return
	}
	e1 := encode(v1)
	if !json.Valid(e1) {
		t.Fatalf("encoding is not valid JSON: %s", e1)
	}
	v2, err := decode(e1)
	if err != nil {
		t.Fatalf("re-decoding %s: %v", e1, err)
	}
	if !reflect.DeepEqual(v1, v2) {
		t.Fatalf("decode(encode(x)) != x\ninput: %q\nfirst: %s\nagain: %s", data, e1, encode(v2))
	}
	if e2 := encode(v2); !bytes.Equal(e1, e2) {
		t.Fatalf("encoding is not stable\n%s\n%s", e1, e2)
	}
}

func FuzzDecodeSession(f *testing.F) {
	addSeeds(f, "session_classic.json", "session_compact.json")
	f.Add(fullSession().AppendJSON(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data, DecodeSession, func(s *Session) []byte { return s.AppendJSON(nil) })
	})
}

func FuzzDecodePolicy(f *testing.F) {
	addSeeds(f, "policy.json")
	f.Add(fullPolicy().AppendJSON(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data, DecodePolicy, func(p *Policy) []byte { return p.AppendJSON(nil) })
	})
}

// encodePolicies writes a policy set in the object form keyed by id.
func encodePolicies(m map[string]*Policy) []byte {
	return appendMap(nil, m, func(dst []byte, p *Policy) []byte { return p.AppendJSON(dst) })
}

func FuzzDecodePolicies(f *testing.F) {
	addSeeds(f)
	policy := readTestdata(f, "policy.json")
	f.Add([]byte(`{"5ead7120575961000181867e":` + string(policy) + `}`))
	f.Add([]byte(`[` + string(policy) + `,{"_id":"5ead7120575961000181867f","rate":1}]`))
	f.Add(encodePolicies(map[string]*Policy{"a": fullPolicy(), "b": {ID: "b"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data, DecodePolicies, encodePolicies)
	})
}

func FuzzDecodeAPIDefinition(f *testing.F) {
	addSeeds(f, "apidef.json")
	f.Add(fullAPIDefinition().AppendJSON(nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRoundTrip(t, data, DecodeAPIDefinition, func(a *APIDefinition) []byte { return a.AppendJSON(nil) })
	})
}

// FuzzAppendString checks the string escaper against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c", "\x00\x1f<>&", "\u2028\u2029", "\xff\xc3", "日本 🎉"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
