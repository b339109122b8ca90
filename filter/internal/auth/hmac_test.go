package auth

import (
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/hmacsig"
	"github.com/turnpike-dev/turnpike/shared/model"
)

func TestHMAC(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	date := at.Format("Mon, 02 Jan 2006 15:04:05 GMT")
	api := &model.APIDefinition{EnableSignatureChecking: true, HmacAllowedClockSkew: 5000,
		HmacAllowedAlgorithms: []string{"hmac-sha256", "hmac-sha512"}}
	m := For(api).(*HMAC)
	secret := "c2VjcmV0"
	session := &model.Session{HMACEnabled: true, HmacSecret: secret}
	sign := func(alg, headersParam string, signed string) string {
		h := `Signature keyId="hmac-key",algorithm="` + alg + `",`
		if headersParam != "" {
			h += `headers="` + headersParam + `",`
		}
		return h + `signature="` + hmacsig.Sign(signed, secret, alg) + `"`
	}
	dateOnly := "date: " + date
	full := "(request-target): post /h/x\ndate: " + date + "\ndigest: d1"
	for _, tc := range []struct {
		name     string
		hdr      headers
		at       time.Time
		s        *model.Session
		identify *Denial // nil: identified, then verified with want
		verified bool
	}{
		{"date only", headers{"authorization": sign("hmac-sha256", "", dateOnly), "date": date}, at, session, nil, true},
		{"request target and headers", headers{"authorization": sign("hmac-sha512", "(request-target) date digest", full),
			"date": date, "digest": "d1", ":method": "POST"}, at, session, nil, true},
		{"x-aux-date", headers{"authorization": sign("hmac-sha256", "", "x-aux-date: "+date), "x-aux-date": date,
			"date": "junk"}, at, session, nil, true},
		{"missing", headers{"date": date}, at, session, denyHMACMissing, false},
		{"malformed", headers{"authorization": `Signature keyId="k",nonsense="1"`, "date": date}, at, session, denyHMACMalformed, false},
		{"algorithm not allowed", headers{"authorization": sign("hmac-sha1", "", dateOnly), "date": date}, at, session, denyHMACMalformed, false},
		{"rsa", headers{"authorization": `Signature keyId="hmac-key",algorithm="rsa-sha256",signature="x"`, "date": date}, at, session, denyHMACMalformed, false},
		{"date too old", headers{"authorization": sign("hmac-sha256", "", dateOnly), "date": date}, at.Add(6 * time.Second), session, DenyHMAC, false},
		{"no date", headers{"authorization": sign("hmac-sha256", "", "date: ")}, at, session, DenyHMAC, false},
		{"wrong signature", headers{"authorization": sign("hmac-sha256", "", dateOnly+"x"), "date": date}, at, session, nil, false},
		{"key without hmac", headers{"authorization": sign("hmac-sha256", "", dateOnly), "date": date}, at,
			&model.Session{HmacSecret: secret}, nil, false},
		{"key without secret", headers{"authorization": sign("hmac-sha256", "", dateOnly), "date": date}, at,
			&model.Session{HMACEnabled: true}, nil, false},
	} {
		req := &clocked{tc.hdr, tc.at.UnixNano()}
		id, d := m.Identify(req, "/h/x?q=1")
		if d != tc.identify {
			t.Errorf("%s: identify %+v, want %+v", tc.name, d, tc.identify)
			continue
		}
		if d != nil {
			if d.Status != 400 || d.Message != hmacsig.MsgInvalid {
				t.Errorf("%s: %+v", tc.name, d)
			}
			continue
		}
		if id.Key != "hmac-key" || id.Unknown != DenyHMAC {
			t.Errorf("%s: identity %+v", tc.name, id)
		}
		if d := m.Verify(req, "/h/x?q=1", &id, tc.s); (d == nil) != tc.verified || d != nil && d != DenyHMAC {
			t.Errorf("%s: verify %+v, want ok=%v", tc.name, d, tc.verified)
		}
	}
}

// A signature remembered for a signed string decides as a computed one:
// the same request again passes, a wrong signature or another secret over
// the same string does not.
func TestHMACRemembered(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	date := at.Format("Mon, 02 Jan 2006 15:04:05 GMT")
	m := For(&model.APIDefinition{EnableSignatureChecking: true}).(*HMAC)
	signed := "(request-target): get /h/x\ndate: " + date
	header := func(sig string) string {
		return `Signature keyId="hmac-key",algorithm="hmac-sha256",headers="(request-target) date",signature="` + sig + `"`
	}
	good := hmacsig.Sign(signed, "s1", "hmac-sha256")
	for i, tc := range []struct {
		sig, secret string
		ok          bool
	}{
		{good, "s1", true},
		{good, "s1", true}, // remembered
		{hmacsig.Sign(signed+"x", "s1", "hmac-sha256"), "s1", false},
		{good, "s2", false},
		{hmacsig.Sign(signed, "s2", "hmac-sha256"), "s2", true},
		{good, "s1", true},
	} {
		req := &clocked{headers{"authorization": header(tc.sig), "date": date, ":method": "GET"}, at.UnixNano()}
		id, d := m.Identify(req, "/h/x")
		if d != nil {
			t.Fatalf("%d: identify %+v", i, d)
		}
		s := &model.Session{HMACEnabled: true, HmacSecret: tc.secret}
		if d := m.Verify(req, "/h/x", &id, s); (d == nil) != tc.ok {
			t.Errorf("%d: verify %+v, want ok=%v", i, d, tc.ok)
		}
	}
}
