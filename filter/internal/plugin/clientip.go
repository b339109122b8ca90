package plugin

import (
	"strings"
	"unsafe"
)

// clientIP is the client's address as Tyk records it (request.RealIP): a
// valid X-Real-IP, else the first entry of X-Forwarded-For if valid, else
// the peer's address (the host's source.address property, one host call).
// The headers come from the callback's snapshot; like the property they
// are views that live until the record is encoded. Tyk writes the address
// parsed and formatted again; a valid one is kept as sent here, which
// differs only in the spelling of some IPv6 addresses (the formatting
// would allocate per request).
func (h *httpContext) clientIP() string {
	if ip := strings.TrimSpace(h.host.RequestHeader("x-real-ip")); validIP(ip) {
		return ip
	}
	if fw := h.host.RequestHeader("x-forwarded-for"); fw != "" {
		first, _, _ := strings.Cut(fw, ",")
		if ip := strings.TrimSpace(first); validIP(ip) {
			return ip
		}
	}
	if addr, ok := h.host.Property(sourceAddress...); ok && len(addr) > 0 {
		return hostOnly(unsafe.String(&addr[0], len(addr)))
	}
	return ""
}

// validIP reports whether s is an IPv4 address in dotted decimal or an
// IPv6 address without a zone: what Go's net.ParseIP, which Tyk uses,
// accepts. Written here because net/netip adds 136 KB to filter.wasm for
// this one check; TestValidIPMatchesNetip and FuzzValidIP compare it with
// netip.
func validIP(s string) bool {
	if strings.IndexByte(s, ':') < 0 {
		return validIPv4(s)
	}
	return validIPv6(s)
}

// validIPv4: four decimal parts of 0-255 without leading zeros.
func validIPv4(s string) bool {
	for part := range 4 {
		if part > 0 {
			if s == "" || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
		i, v := 0, 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			if i > 0 && s[0] == '0' {
				return false
			}
			if v = v*10 + int(s[i]-'0'); v > 255 {
				return false
			}
			i++
		}
		if i == 0 {
			return false
		}
		s = s[i:]
	}
	return s == ""
}

// validIPv6: eight groups of 1-4 hex digits separated by colons, the last
// two possibly an IPv4 address, or fewer groups with one "::" standing for
// at least one group of zeros.
func validIPv6(s string) bool {
	groups, ellipsis := 0, false
	if strings.HasPrefix(s, "::") {
		ellipsis, s = true, s[2:]
		if s == "" {
			return true
		}
	}
	for {
		i := 0
		for i < len(s) && i < 5 && isHexDigit(s[i]) {
			i++
		}
		if i == 0 || i > 4 {
			return false
		}
		if i < len(s) && s[i] == '.' { // an IPv4 tail: two groups, the last
			if !validIPv4(s) {
				return false
			}
			groups, s = groups+2, ""
		} else {
			groups, s = groups+1, s[i:]
		}
		if s == "" {
			break
		}
		if s[0] != ':' || groups >= 8 {
			return false
		}
		s = s[1:]
		switch {
		case s == "":
			return false // a colon ends the address
		case s[0] == ':':
			if ellipsis {
				return false
			}
			ellipsis, s = true, s[1:]
			if s == "" {
				return groups < 8
			}
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
