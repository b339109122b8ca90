package bodytmpl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"text/template"
)

// goTemplate is how Tyk's gateway runs a transform: text/template with
// jsonMarshal (encoding/json), on the body decoded by encoding/json (an
// array under "array").
func goTemplate(t *testing.T, src string, body []byte) (string, error, bool) {
	t.Helper()
	tmpl, err := template.New("").Funcs(template.FuncMap{"jsonMarshal": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(src)
	if err != nil {
		return "", err, false
	}
	data := map[string]any{}
	if len(body) == 0 {
		body = []byte("{}")
	}
	var v any
	if err := json.Unmarshal(body, &v); err == nil {
		switch v := v.(type) {
		case []any:
			data["array"] = v
		case map[string]any:
			data = v
		}
	}
	var out bytes.Buffer
	err = tmpl.Execute(&out, data)
	return out.String(), err, true
}

var bodies = []string{
	``,
	`{}`,
	`[]`,
	`"just a string"`,
	`42`,
	`null`,
	`{"a":1,"b":"two","c":true,"d":null,"e":[1,2.5,"x",null,{"f":"g"}],"g":{"h":{"i":"deep"}},"n":-0.000001,"big":1e21,"s":"<a&b>\u2028\n\u0007","z":0,"empty":"","list":[],"obj":{}}`,
	`[{"id":1,"name":"a"},{"id":2,"name":"b"},null,3]`,
	`{"price":1.5,"qty":3,"name":"widget","tags":["x","y"],"flag":false,"nested":{"arr":[{"k":"v"}]}}`,
	`{"a":1,"a":2}`,
	`{"u":"\ud83d\ude00 \ud800 x","bad":"\xff"}`,
	`not json`,
}

var templates = []string{
	`plain text`,
	`{{.}}`,
	`{{.a}} {{.b}} {{.c}} {{.d}} {{.missing}} {{.e}} {{.g}} {{.n}} {{.big}} {{.s}}`,
	`{{.g.h.i}} {{.missing.x.y}}`,
	`{{.d.x}}`,
	`{{.a.x}}`,
	`{{.e.x}}`,
	`{{jsonMarshal .}}`,
	`{{jsonMarshal .e}} {{jsonMarshal .missing}} {{jsonMarshal .d}} {{jsonMarshal 1}} {{jsonMarshal 1.5}} {{jsonMarshal "x<"}} {{jsonMarshal true}} {{jsonMarshal nil}}`,
	`{{range .e}}[{{.}}]{{end}}`,
	`{{range $i, $v := .e}}{{$i}}={{$v}};{{end}}`,
	`{{range $k, $v := .}}{{$k}}:{{$v}},{{end}}`,
	`{{range $v := .array}}{{$v.id}} {{end}}`,
	`{{range .array}}{{.name}}{{else}}none{{end}}`,
	`{{range .list}}x{{else}}empty{{end}}{{range .missing}}x{{else}}nothing{{end}}`,
	`{{range .a}}x{{end}}`,
	`{{range .b}}x{{end}}`,
	`{{range 3}}{{.}}{{end}}`,
	`{{range $i, $e := 3}}{{.}}{{end}}`,
	`{{range .e}}{{if eq . 2.5}}{{break}}{{end}}{{.}}{{end}}`,
	`{{range .e}}{{if not .}}{{continue}}{{end}}<{{.}}>{{end}}`,
	`{{if .a}}yes{{else}}no{{end}} {{if .z}}yes{{else}}no{{end}} {{if .d}}yes{{else}}no{{end}} {{if .empty}}y{{else if .obj}}o{{else}}n{{end}}`,
	`{{with .g}}{{.h.i}}{{end}}{{with .missing}}x{{else}}w{{end}}`,
	`{{with $x := .g.h}}{{$x.i}}{{end}}`,
	`{{$x := .a}}{{$x}}{{$x = .b}}{{$x}}{{$}}`,
	`{{$x := .d}}{{$x.y}}`,
	`{{if true}}{{$y := 1}}{{$y}}{{end}}`,
	`{{len .e}} {{len .b}} {{len .g}} {{len .list}}`,
	`{{len .a}}`,
	`{{len .missing}}`,
	`{{len .d}}`,
	`{{index .e 1}} {{index .e 4 "f"}} {{index . "b"}} {{index . "nope"}} {{index .b 1}}`,
	`{{index .e 5}}`,
	`{{index .e -1}}`,
	`{{index .e .a}}`,
	`{{index .d 0}}`,
	`{{index .missing 0}}`,
	`{{index . 1}}`,
	`{{index .e 3 "x"}}`,
	`{{eq .a 1.0}} {{eq .b "two"}} {{eq .c true}} {{ne .b "x"}} {{eq .b "x" "two"}}`,
	`{{eq .a 1}}`,
	`{{eq .d nil}}`,
	`{{eq .d .missing}}`,
	`{{eq .d "x"}} {{eq .b .d}}`,
	`{{eq .g .g}}`,
	`{{eq .g .e}}`,
	`{{eq .g .d}}`,
	`{{eq (index .b 0) 116}}`,
	`{{lt .a 2.0}} {{le .a 1.0}} {{gt .a 0.5}} {{ge .a 1.5}} {{lt .b "u"}} {{gt "b" "a"}} {{lt 1 2}}`,
	`{{lt .a 2}}`,
	`{{lt .c true}}`,
	`{{lt .d 1}}`,
	`{{and .a .b}} {{or .z .b}} {{and .z .b}} {{or .z .empty}} {{not .a}} {{not .d}} {{and .d 1}}`,
	`{{and .missing 1}}`,
	`{{or .missing 1}}`,
	`{{.b | len}} {{.e | jsonMarshal}} {{.missing | jsonMarshal}} {{1 | eq 1}}`,
	`{{.missing | len}}`,
	`{{print .a .b .missing .d}} {{println .a}} {{printf "%v-%s-%d" .a .b 3}} {{printf "%.2f" .a}}`,
	`{{printf .b}}`,
	`{{printf .a}}`,
	`{{printf .missing}}`,
	`{{printf 1}}`,
	`{{(.g).h.i}} {{(index .e 4).f}}`,
	`{{(.d).x}}`,
	`{{.a 1}}`,
	`{{"x" | .a}}`,
	`{{.missing.x 1}}`,
	`{{$x := 1}}{{$x 2}}`,
	`{{1 2}}`,
	`{{nil}}`,
	`{{len}}`,
	`{{ne 1}}`,
	`{{jsonMarshal 1 2}}`,
	`{{eq}}`,
	`{{- .b -}} x {{- /* comment */ -}} y`,
	`{"value1": "{{.b}}", "list": [{{range $i, $e := .e}}{{if $i}},{{end}}{{jsonMarshal $e}}{{end}}]}`,
	`{{.a}}{{.a.b}}after`,
	`{{index "héllo" 1}} {{len "héllo"}}`,
	`{{1.5}} {{1e3}} {{-2}} {{1_000}} {{true}} {{"s"}} {{.}}`,
	`{{99999999999999999999}}`,
	`{{range .}}{{.}}{{end}}`,
}

// TestAgainstTextTemplate runs every template on every body through this
// package and through text/template, and wants the same output (partial,
// when execution fails) and the same failure.
func TestAgainstTextTemplate(t *testing.T) {
	for _, src := range templates {
		tmpl, err := Parse(src)
		for _, body := range bodies {
			want, wantErr, parsed := goTemplate(t, src, []byte(body))
			if !parsed {
				if err == nil {
					t.Errorf("%q: text/template refuses it (%v), Parse accepts it", src, wantErr)
				}
				continue
			}
			if err != nil {
				t.Errorf("%q: Parse: %v", src, err)
				break
			}
			data, _ := Data([]byte(body))
			got, gotErr := tmpl.Execute(nil, data)
			if string(got) != want || (gotErr != nil) != (wantErr != nil) {
				t.Errorf("template %q, body %q:\n got %q, %v\nwant %q, %v", src, body, got, gotErr, want, wantErr)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{{upper .a}}`, `"upper"`},
		{`{{.a | b64enc}}`, `"b64enc"`},
		{`{{xmlMarshal .}}`, `"xmlMarshal"`},
		{`{{html .a}}`, `"html"`},
		{`{{slice .a 1}}`, `"slice"`},
		{`{{call .f}}`, `"call"`},
		{`{{template "x"}}`, `{{template}}`},
		{`{{define "x"}}y{{end}}z`, `{{define}}`},
		{`{{block "x" .}}y{{end}}`, `{{define}}`},
		{`{{0x10}}`, `0x10`},
		{`{{'a'}}`, `'a'`},
		{`{{1i}}`, `1i`},
	} {
		_, err := Parse(c.src)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want ErrUnsupported naming %s", c.src, err, c.want)
		}
	}
	if _, err := Parse(`{{if}}`); err == nil || errors.Is(err, ErrUnsupported) {
		t.Errorf("syntax error: %v", err)
	}
}

func TestJSONAgainstEncodingJSON(t *testing.T) {
	inputs := append([]string{
		`{"a":[1,2,{"b":null}],"c":"\u00e9\ud834\udd1e","d":1.0e-7,"e":123456789012345678901234567890,"f":-0}`,
		` [ true , false , null ] `,
		`"\u0000\u001f\b\f\n\r\t\"\\\/"`,
		`{"k":"\udc00\ud800\ud800x"}`,
		`1e400`, `01`, `1.`, `.5`, `-`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `"x`, `"\x"`, "\"a\tb\"", `tru`, `[1] x`,
		`{"a":"` + "\xc3\x28" + `"}`, `1E+2`, `-0.0e-0`, `[[[]]]`, `{"":""}`,
	}, bodies...)
	for _, in := range inputs {
		var want any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, gotErr := DecodeJSON([]byte(in))
		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("DecodeJSON(%q): err %v, encoding/json: %v", in, gotErr, wantErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		wb, _ := json.Marshal(want)
		gb, err := AppendJSON(nil, got)
		if err != nil || string(gb) != string(wb) {
			t.Errorf("%q: AppendJSON(DecodeJSON) = %s, %v; encoding/json: %s", in, gb, err, wb)
		}
	}
	for _, v := range []any{0.1, 1e-7, 1e21, 1e20, -1.5e-10, 123456789.0, 5e-324, 1.7976931348623157e308, "\u2029</script>&", "\x7f\xff"} {
		wb, _ := json.Marshal(v)
		gb, _ := AppendJSON(nil, v)
		if string(gb) != string(wb) {
			t.Errorf("AppendJSON(%v) = %s, want %s", v, gb, wb)
		}
	}
}

func TestData(t *testing.T) {
	for _, c := range []struct {
		body, want string
		err        bool
	}{
		{``, `{}`, false},
		{`{"a":1}`, `{"a":1}`, false},
		{`[1,2]`, `{"array":[1,2]}`, false},
		{`"s"`, `{}`, false},
		{`oops`, `{}`, true},
	} {
		d, err := Data([]byte(c.body))
		got, _ := AppendJSON(nil, d)
		if string(got) != c.want || (err != nil) != c.err {
			t.Errorf("Data(%q) = %s, %v; want %s, error %v", c.body, got, err, c.want, c.err)
		}
	}
}

// TestNilMetaData: a session without meta_data gives _tyk_meta a nil map.
func TestNilMetaData(t *testing.T) {
	const src = `{{jsonMarshal ._tyk_meta}} {{eq ._tyk_meta nil}} {{len ._tyk_meta}} {{range ._tyk_meta}}x{{else}}e{{end}} {{._tyk_meta.x}} {{index ._tyk_meta "x"}} {{if ._tyk_meta}}y{{end}} {{jsonMarshal .}}`
	data := map[string]any{"_tyk_meta": map[string]any(nil), "a": 1.0}
	gt := template.Must(template.New("").Funcs(template.FuncMap{"jsonMarshal": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}}).Parse(src))
	var want bytes.Buffer
	if err := gt.Execute(&want, data); err != nil {
		t.Fatal(err)
	}
	got, err := must(Parse(src)).Execute(nil, data)
	if err != nil || string(got) != want.String() {
		t.Errorf("got %q, %v; want %q", got, err, want.String())
	}
}

func must(t *Template, err error) *Template {
	if err != nil {
		panic(err)
	}
	return t
}

// FuzzAgainstTextTemplate compares with text/template on fuzzed templates
// and bodies (go test -fuzz FuzzAgainstTextTemplate ./shared/bodytmpl).
func FuzzAgainstTextTemplate(f *testing.F) {
	for i, src := range templates {
		f.Add(src, bodies[i%len(bodies)])
	}
	f.Fuzz(func(t *testing.T, src, body string) {
		tmpl, err := Parse(src)
		if err != nil {
			return // refused or malformed: the Gateway API says so
		}
		want, wantErr, parsed := goTemplate(t, src, []byte(body))
		if !parsed {
			t.Fatalf("%q: Parse accepts what text/template refuses: %v", src, wantErr)
		}
		data, _ := Data([]byte(body))
		got, gotErr := tmpl.Execute(nil, data)
		if string(got) != want || (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("template %q, body %q:\n got %q, %v\nwant %q, %v", src, body, got, gotErr, want, wantErr)
		}
	})
}

// FuzzJSON compares the decoder and jsonMarshal with encoding/json.
func FuzzJSON(f *testing.F) {
	for _, b := range bodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var want any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, gotErr := DecodeJSON([]byte(in))
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("DecodeJSON(%q): %v; encoding/json: %v", in, gotErr, wantErr)
		}
		if wantErr != nil {
			return
		}
		wb, _ := json.Marshal(want)
		if gb, err := AppendJSON(nil, got); err != nil || string(gb) != string(wb) {
			t.Fatalf("%q: %s, %v; encoding/json: %s", in, gb, err, wb)
		}
	})
}
