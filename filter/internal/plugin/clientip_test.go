package plugin

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// netipValid is the reference: what net/netip parses, without a zone
// (net.ParseIP, which Tyk uses, accepts none).
func netipValid(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

var ipSeeds = []string{
	"", "1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3",
	"1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.04", "10.0.0.1,", "::", "::1", "1::", "1:2:3:4:5:6:7:8",
	"1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::", "1:2:3:4:5:6::7:8", "1:2:3:4:5:6:7::8", "::ffff:1.2.3.4",
	"::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1::2::3", ":1::", "1:", ":::", "12345::",
	"2001:db8::1", "2001:DB8::A", "fe80::1%eth0", "::ffff:1.2.3", "1.2.3.4::", "g::1", "::1:", "1:2:3:4:5:6:7",
	"::a.2.3.4", "::1234.1.2.3", "1::2:3:4:5:6:7", "1::2:3:4:5:6:7:8", "::2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::",
}

func TestValidIPMatchesNetip(t *testing.T) {
	for _, s := range ipSeeds {
		if got, want := validIP(s), netipValid(s); got != want {
			t.Errorf("validIP(%q) = %v, netip says %v", s, got, want)
		}
	}
	// Random strings over the characters addresses are made of.
	const alphabet = "0123456789abcdefABCDEF:.%"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if s := string(b); validIP(s) != netipValid(s) {
			t.Fatalf("validIP(%q) = %v, netip says %v", s, validIP(s), netipValid(s))
		}
	}
	// Random valid addresses, written every way netip writes them.
	for range 20000 {
		var a16 [16]byte
		for i := range a16 {
			if rng.IntN(3) > 0 { // zeros often, so "::" appears
				a16[i] = byte(rng.IntN(256))
			}
		}
		a := netip.AddrFrom16(a16)
		for _, s := range []string{a.String(), a.StringExpanded(), a.Unmap().String()} {
			if !validIP(s) {
				t.Fatalf("validIP(%q) = false", s)
			}
		}
	}
}

func FuzzValidIP(f *testing.F) {
	for _, s := range ipSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validIP(s), netipValid(s); got != want {
			t.Errorf("validIP(%q) = %v, netip says %v", s, got, want)
		}
	})
}
