// Package hmacsig is Tyk's HMAC request signing (enable_signature_checking)
// as pure code: parsing the Authorization header, building the signed
// string, computing and comparing signatures, and the Date window.
//
// Facts from Tyk (gateway/mw_http_signature_validation.go): the header is
// `Signature keyId="...",algorithm="hmac-sha256",headers="(request-target)
// date",signature="..."`; unknown parameters make it malformed; without
// headers the signed string is the date line alone; "(request-target)" is
// the lower-case method and the path; the date line uses X-Aux-Date when
// present (named "x-aux-date" in the line), else Date; each header line is
// "name: value" with the value trimmed, lines joined by "\n"; the signature
// is the URL query escape of the standard base64 of the HMAC, and one
// sent with lower-case percent escapes (a .NET habit) also matches; an
// algorithm other than hmac-sha256/384/512 is HMAC-SHA1; the Date must
// parse as RFC 1123 (or with a numeric zone) and, when
// hmac_allowed_clock_skew (milliseconds) is positive, lie within it of now.
package hmacsig

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// MsgInvalid is Tyk's answer (400) to every HMAC failure: missing,
// malformed, unknown key, wrong signature, date out of bounds.
const MsgInvalid = "Authorization field missing, malformed or invalid"

// Fields are the parameters of a Signature Authorization header.
type Fields struct {
	KeyID     string
	Algorithm string
	Headers   []string // lower case as sent; ["date"] when absent
	Signature string   // URL-escaped base64, as sent
}

// ErrMalformed reports a header Tyk cannot read.
var ErrMalformed = errors.New("hmacsig: malformed Signature header")

// Parse reads a Signature Authorization header value.
func Parse(value string) (Fields, error) {
	v := strings.TrimPrefix(value, "Signature")
	v = strings.TrimPrefix(v, "signature")
	v = strings.TrimSpace(v)
	var f Fields
	for v != "" {
		name, rest, ok := strings.Cut(v, "=")
		if !ok {
			return Fields{}, ErrMalformed
		}
		name = strings.TrimSpace(name)
		rest = strings.TrimLeft(rest, " ")
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := closingQuote(rest)
			if end < 0 {
				return Fields{}, ErrMalformed
			}
			u, err := strconv.Unquote(rest[:end+1])
			if err != nil {
				return Fields{}, ErrMalformed
			}
			val, rest = u, rest[end+1:]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			val = strings.TrimSpace(val)
			rest = "," + rest
		}
		rest = strings.TrimSpace(rest)
		if rest != "" && !strings.HasPrefix(rest, ",") {
			return Fields{}, ErrMalformed
		}
		v = strings.TrimSpace(strings.TrimPrefix(rest, ","))
		switch strings.ToLower(name) {
		case "keyid":
			f.KeyID = val
		case "algorithm":
			f.Algorithm = val
		case "headers":
			f.Headers = strings.Split(val, " ")
		case "signature":
			f.Signature = val
		default:
			return Fields{}, ErrMalformed
		}
	}
	if len(f.Headers) == 0 {
		f.Headers = []string{"date"}
	}
	return f, nil
}

// closingQuote is the index of the quote ending the Go string literal that
// s starts with, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// DateHeader returns the name and value of the request's date: X-Aux-Date
// when present, else Date. header reads a header by lower-case name.
func DateHeader(header func(string) string) (name, value string) {
	if v := header("x-aux-date"); v != "" {
		return "x-aux-date", v
	}
	if v := header("date"); v != "" {
		return "date", v
	}
	return "", ""
}

// SigningString is the string the client signed: one line per listed
// header. method is the request method, path its path without the query.
func SigningString(headers []string, method, path string, header func(string) string) string {
	return string(AppendSigningString(nil, headers, method, path, header))
}

// AppendSigningString appends SigningString's result to dst.
func AppendSigningString(dst []byte, headers []string, method, path string, header func(string) string) []byte {
	dateName, date := "", ""
	if containsDate(headers) {
		dateName, date = DateHeader(header)
	}
	return AppendSigningStringDate(dst, headers, method, path, dateName, date, header)
}

// AppendSigningStringDate is AppendSigningString with the request's date
// already read (DateHeader's answer): the filter reads it once per request
// for the date window and the signed string both, as each header read is a
// host call.
func AppendSigningStringDate(dst []byte, headers []string, method, path, dateName, date string, header func(string) string) []byte {
	for i, h := range headers {
		name := trimLower(h)
		switch name {
		case "(request-target)":
			dst = append(dst, "(request-target): "...)
			dst = appendLower(dst, method)
			dst = append(dst, ' ')
			dst = append(dst, path...)
		case "date":
			dst = append(dst, dateName...)
			dst = append(dst, ": "...)
			dst = append(dst, strings.TrimSpace(date)...)
		default:
			dst = append(dst, name...)
			dst = append(dst, ": "...)
			dst = append(dst, strings.TrimSpace(header(name))...)
		}
		if i != len(headers)-1 {
			dst = append(dst, '\n')
		}
	}
	return dst
}

// SignsTarget reports whether headers lists "(request-target)": only then
// does the signed string need the method (a host call in the filter).
func SignsTarget(headers []string) bool {
	for _, h := range headers {
		if trimLower(h) == "(request-target)" {
			return true
		}
	}
	return false
}

func containsDate(headers []string) bool {
	for _, h := range headers {
		if trimLower(h) == "date" {
			return true
		}
	}
	return false
}

// trimLower is strings.TrimSpace(strings.ToLower(s)), without an
// allocation when s is already lower case (as clients send it).
func trimLower(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// appendLower appends s in lower case (ASCII: a method name).
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func hashFor(algorithm string) func() hash.Hash {
	switch algorithm {
	case "hmac-sha256":
		return sha256.New
	case "hmac-sha384":
		return sha512.New384
	case "hmac-sha512":
		return sha512.New
	}
	return sha1.New
}

// Sign is the signature a client sends for s: the URL query escape of the
// standard base64 of HMAC(secret, s).
func Sign(s, secret, algorithm string) string {
	return string(AppendSignature(nil, NewMAC(secret, algorithm), []byte(s)))
}

// NewMAC is the HMAC of a secret for an algorithm. It may be kept and
// reused for many signatures (AppendSignature resets it): the key's
// padding blocks are then hashed once.
func NewMAC(secret, algorithm string) hash.Hash {
	return hmac.New(hashFor(algorithm), []byte(secret))
}

// AppendSignature appends to dst the signature of s with mac (see Sign).
func AppendSignature(dst []byte, mac hash.Hash, s []byte) []byte {
	mac.Reset()
	mac.Write(s)
	var sum [sha512.Size]byte
	raw := mac.Sum(sum[:0])
	var enc [base64Len]byte
	b64 := enc[:base64.StdEncoding.EncodedLen(len(raw))]
	base64.StdEncoding.Encode(b64, raw)
	for _, c := range b64 {
		switch c {
		case '+':
			dst = append(dst, "%2B"...)
		case '/':
			dst = append(dst, "%2F"...)
		case '=':
			dst = append(dst, "%3D"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// base64Len is the base64 length of the longest MAC (SHA-512).
const base64Len = (sha512.Size + 2) / 3 * 4

// The escaping above is url.QueryEscape for the base64 alphabet, whose
// only characters it changes are '+', '/' and '='. (net/url would add over
// 100 KB to filter.wasm for this.)

// Match compares a presented signature with the expected one in constant
// time; one with lower-case percent escapes matches too.
func Match(presented, expected string) bool {
	return MatchBytes(presented, []byte(expected))
}

// MatchBytes is Match with the expected signature as bytes.
func MatchBytes(presented string, expected []byte) bool {
	var buf [2 * base64Len]byte
	return MatchCanonical(AppendCanonical(buf[:0], presented), expected)
}

// AppendCanonical appends the presented signature with the hex digits of
// its percent escapes upper-cased: the form Match compares. A filter keeps
// it with the parsed header, so a repeated header costs no conversion.
func AppendCanonical(dst []byte, presented string) []byte {
	for i := 0; i < len(presented); i++ {
		c := presented[i]
		if c == '%' && i+2 < len(presented) {
			dst = append(dst, c, upperHex(presented[i+1]), upperHex(presented[i+2]))
			i += 2
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// MatchCanonical compares a canonical presented signature (AppendCanonical)
// with the expected one in constant time. The expected signature's escapes
// are upper case, so this is Match: a signature sent as expected, or with
// lower-case escapes, matches, and nothing else does.
func MatchCanonical(canonical, expected []byte) bool {
	return subtle.ConstantTimeCompare(canonical, expected) == 1
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// Date layouts Tyk accepts: RFC 1123 with a zone name, or a numeric zone.
const (
	dateLayout        = "Mon, 02 Jan 2006 15:04:05 MST"
	dateLayoutNumeric = "Mon, 02 Jan 2006 15:04:05 -07"
)

// DateOK reports whether the request's date parses and, when skewMS > 0,
// lies within skewMS milliseconds of now.
func DateOK(date string, now time.Time, skewMS float64) bool {
	t, ok := ParseDate(date)
	return ok && WithinSkew(t, now, skewMS)
}

// ParseDate parses a request date as Tyk does.
func ParseDate(date string) (time.Time, bool) {
	t, err := time.Parse(dateLayout, date)
	if err != nil {
		t, err = time.Parse(dateLayoutNumeric, date)
	}
	return t, err == nil
}

// WithinSkew reports whether t lies within skewMS milliseconds of now
// (always, when skewMS <= 0).
func WithinSkew(t, now time.Time, skewMS float64) bool {
	if skewMS <= 0 {
		return true
	}
	diff := now.Sub(t).Milliseconds()
	return math.Abs(float64(diff)) <= skewMS
}

// Allowed reports whether algorithm is in the API's
// hmac_allowed_algorithms (any algorithm when the list is empty). RSA
// signatures are never allowed: Turnpike checks HMAC only.
func Allowed(algorithm string, allowed []string) bool {
	if strings.HasPrefix(algorithm, "rsa") {
		return false
	}
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if a == algorithm {
			return true
		}
	}
	return false
}

// NewSecret makes a key's hmac_string as Tyk does: the standard base64 of
// 32 random hex digits (a UUID's worth), randomness read from r.
func NewSecret(r io.Reader) (string, error) {
	var raw [16]byte
	if _, err := io.ReadFull(r, raw[:]); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(hex.EncodeToString(raw[:]))), nil
}
