package format

import (
	"errors"
	"fmt"
	"testing"
)

type named struct{ n string }

func (v named) String() string { return "named:" + v.n }

type nilErr struct{ msg *string }

func (e *nilErr) Error() string { return *e.msg }

// Where the subset overlaps fmt, the output must be fmt's.
func TestSprintfMatchesFmt(t *testing.T) {
	tests := []struct {
		format string
		args   []any
	}{
		{"plain text", nil},
		{"%s=%d", []any{"a", 42}},
		{"%v %v %v", []any{true, int8(-3), uint64(1 << 63)}},
		{"%q", []any{"quote \"me\"\n"}},
		{"%x %X", []any{"hi", "hi"}},
		{"%x %X %x", []any{255, uint32(0xbeef), -255}},
		{"%d%%", []any{uint16(99)}},
		{"%s", []any{[]byte("bytes")}},
		{"%v", []any{errors.New("boom")}},
		{"%s", []any{named{"x"}}},
		{"%v", []any{nil}},
		{"%.2f %f %g %e", []any{3.14159, 2.5, 1e21, float32(1.5)}},
		{"%5d|%-3s|%+d", []any{7, "ab", 3}},
		{"%05d|%+05d|%-5d|%3s|%08.3f", []any{-42, 7, -1, "long", -3.14159}},
		{"%2s|%+s", []any{"é", "x"}},
		{"%d", []any{"str"}},
		{"%t", []any{1}},
		{"%s", []any{nil}},
		{"%d %s", []any{1}},
		{"%d", []any{1, "extra", 2}},
		{"trailing %", nil},
		{"%v", []any{uintptr(10)}},
	}
	for _, tc := range tests {
		got := Sprintf(tc.format, tc.args...)
		want := fmt.Sprintf(tc.format, tc.args...)
		if got != want {
			t.Errorf("Sprintf(%q, %#v) = %q, fmt says %q", tc.format, tc.args, got, want)
		}
	}
}

// Beyond fmt's behaviour the contract is only: never panic, say something.
func TestSprintfUnsupportedAndPanickingOperands(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"struct", Sprintf("%v", struct{ A int }{1}), "%!v(struct { A int }=?)"},
		{"nil-pointer error", Sprintf("%v", &nilErr{}), "%!(PANIC in Error/String method)"},
		{"value", Value(int64(-5)), "-5"},
		{"unicode verb", Sprintf("%é", 1), "%!é(int=1)"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func ExampleSprintf() {
	fmt.Println(Sprintf("key %q rejected after %d ms (%.1f%%)", "abc", 12, 99.5))
	// Output: key "abc" rejected after 12 ms (99.5%)
}
