// Package keys generates, recognises and hashes API keys.
//
// Generated keys look like GitHub tokens: the prefix "tp_", 22 random
// base62 characters (≈131 bits of entropy) and a 6-character base62
// checksum (CRC-32 of everything before it), 31 characters in all. The
// checksum lets the filter reject a mistyped or forged generated key without
// a lookup, and lets secret scanners recognise leaked keys.
//
// Any other string is a custom key: Tyk accepts keys chosen by the
// administrator, and Turnpike does too (see ValidCustom).
package keys

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

const (
	// Prefix starts every generated key.
	Prefix = "tp_"
	// RandomLen is the number of random base62 characters (62^22 > 2^130).
	RandomLen = 22
	// ChecksumLen is the number of base62 characters of the checksum
	// (62^6 > 2^32, so every CRC-32 fits).
	ChecksumLen = 6
	// GeneratedLen is the length of a generated key.
	GeneratedLen = len(Prefix) + RandomLen + ChecksumLen

	// MinCustomLen is Tyk's default min_token_length: shorter keys are
	// treated as absent.
	MinCustomLen = 3
	// MaxCustomLen bounds custom keys so a key cannot bloat storage or logs.
	MaxCustomLen = 256
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

var (
	// ErrNotGenerated reports a key without the generated-key prefix.
	ErrNotGenerated = errors.New("keys: not a generated key")
	// ErrMalformed reports a key with the generated-key prefix that is not a
	// well-formed generated key; it can be rejected without a lookup.
	ErrMalformed = errors.New("keys: malformed generated key")
	// ErrInvalidCustom reports a custom key Turnpike does not accept.
	ErrInvalidCustom = errors.New("keys: invalid custom key")
)

// Generate returns a new generated key, reading randomness from r (the
// sidecar passes crypto/rand.Reader).
func Generate(r io.Reader) (string, error) {
	b := make([]byte, 0, GeneratedLen)
	b = append(b, Prefix...)
	// Rejection sampling: bytes >= 248 (= 4·62) are discarded so every
	// character is uniform; reading in chunks keeps the reader calls few.
	var buf [32]byte
	for len(b) < len(Prefix)+RandomLen {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("keys: reading randomness: %w", err)
		}
		for _, c := range buf {
			if c < 248 && len(b) < len(Prefix)+RandomLen {
				b = append(b, alphabet[c%62])
			}
		}
	}
	return string(appendChecksum(b, b)), nil
}

// appendChecksum appends the base62 CRC-32 of body to b, zero-padded.
func appendChecksum(b, body []byte) []byte {
	sum := crc32.ChecksumIEEE(body)
	var digits [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		digits[i] = alphabet[sum%62]
		sum /= 62
	}
	return append(b, digits[:]...)
}

// LooksGenerated reports whether key carries the generated-key prefix, i.e.
// whether Check decides its fate rather than a lookup of a custom key.
func LooksGenerated(key string) bool {
	return strings.HasPrefix(key, Prefix)
}

// Check reports whether key is a well-formed generated key: nil if so,
// ErrNotGenerated if it lacks the prefix (it may be a custom key), and an
// error wrapping ErrMalformed otherwise.
func Check(key string) error {
	if !LooksGenerated(key) {
		return ErrNotGenerated
	}
	if len(key) != GeneratedLen {
		return fmt.Errorf("%w: length %d, want %d", ErrMalformed, len(key), GeneratedLen)
	}
	for i := len(Prefix); i < len(key); i++ {
		if !isBase62(key[i]) {
			return fmt.Errorf("%w: invalid character at offset %d", ErrMalformed, i)
		}
	}
	body := key[:GeneratedLen-ChecksumLen]
	want := appendChecksum(nil, []byte(body))
	if key[len(body):] != string(want) {
		return fmt.Errorf("%w: checksum mismatch", ErrMalformed)
	}
	return nil
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// ValidCustom reports whether key is acceptable as an administrator-chosen
// key: MinCustomLen to MaxCustomLen characters of printable ASCII without
// spaces, and not starting with Prefix (which would make it look like a
// generated key and fail Check).
func ValidCustom(key string) error {
	if len(key) < MinCustomLen || len(key) > MaxCustomLen {
		return fmt.Errorf("%w: length %d, want %d to %d", ErrInvalidCustom, len(key), MinCustomLen, MaxCustomLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: byte 0x%02x at offset %d is not printable ASCII", ErrInvalidCustom, c, i)
		}
	}
	if LooksGenerated(key) {
		return fmt.Errorf("%w: must not start with %q", ErrInvalidCustom, Prefix)
	}
	return nil
}

// Hash returns the lower-case hex SHA-256 of key, the form keys are stored
// under so a storage leak does not leak usable keys.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IsHash reports whether s has the form Hash produces: 64 lower-case hex
// digits.
func IsHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Equal compares two secrets in time independent of their contents (only
// their lengths may leak), for comparing presented keys or hashes.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// CertDigest returns the lower-case hex SHA-256 a certificate id ends
// with: Tyk's certificate ids are the org id followed by the hex SHA-256 of
// the certificate (DER); a bare hex SHA-256 is one too.
func CertDigest(id string) (string, bool) {
	if len(id) < 2*sha256.Size {
		return "", false
	}
	d := strings.ToLower(id[len(id)-2*sha256.Size:])
	if !IsHash(d) {
		return "", false
	}
	return d, true
}
