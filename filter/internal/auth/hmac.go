package auth

import (
	"hash"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/hmacsig"
	"github.com/turnpike-dev/turnpike/shared/keys"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// HMAC is Tyk's HMAC request signing (enable_signature_checking):
// `Authorization: Signature keyId="...",algorithm="hmac-sha256",
// headers="(request-target) date",signature="..."`. keyId names the
// session; its hmac_string is the secret (the effective session must have
// hmac_enabled, possibly from a policy). Tyk answers every failure with 400
// "Authorization field missing, malformed or invalid"; so does this.
//
// What needs no session is checked before the lookup: the header's form,
// the algorithm (hmac_allowed_algorithms) and the date
// (hmac_allowed_clock_skew), so a stale or malformed request costs no
// sidecar call. RSA signatures are refused (Turnpike checks HMAC only).
type HMAC struct {
	conf       *model.AuthConfig // auth_configs.hmac
	algorithms []string
	skewMS     float64
}

// DenyHMAC is Tyk's answer to every HMAC failure.
var DenyHMAC = &Denial{400, hmacsig.MsgInvalid, OutUnauthorized}

var (
	denyHMACMissing   = &Denial{400, hmacsig.MsgInvalid, OutMissingKey}
	denyHMACMalformed = &Denial{400, hmacsig.MsgInvalid, OutMalformed}
)

// NewHMAC makes the HMAC method of api.
func NewHMAC(api *model.APIDefinition) *HMAC {
	conf := api.AuthConfigs["hmac"]
	return &HMAC{conf: &conf, algorithms: api.HmacAllowedAlgorithms, skewMS: api.HmacAllowedClockSkew}
}

// Identify reads the key id and checks what it can without the secret.
func (m *HMAC) Identify(req Request, path string) (Identity, *Denial) {
	c := Extract(m.conf, req.RequestHeader, path)
	if c.Key == "" {
		return Identity{}, denyHMACMissing
	}
	f, err := signatures.parse(c.Key)
	if err != nil || !hmacsig.Allowed(f.Algorithm, m.algorithms) {
		return Identity{}, denyHMACMalformed
	}
	dateName, date := hmacsig.DateHeader(req.RequestHeader)
	t, ok := signatures.date(date)
	if !ok || !hmacsig.WithinSkew(t, time.Unix(0, now(req)), m.skewMS) {
		return Identity{}, DenyHMAC
	}
	if len(f.KeyID) < MinKeyLength || len(f.KeyID) > keys.MaxCustomLen {
		return Identity{}, DenyHMAC
	}
	// The header stays in Cred.Key for Verify: reading it again is a host
	// call.
	return Identity{Key: f.KeyID, Cred: c, Unknown: DenyHMAC, DateName: dateName, Date: date}, nil
}

// Verify checks the signature with the session's secret.
func (m *HMAC) Verify(req Request, path string, id *Identity, s *model.Session) *Denial {
	if s.HmacSecret == "" || !s.HMACEnabled && !s.EnableHTTPSignatureValidation {
		return DenyHMAC
	}
	if _, err := signatures.parse(id.Cred.Key); err != nil {
		return DenyHMAC
	}
	if !signatures.verify(s.HmacSecret, req, route.PathOnly(path), id.DateName, id.Date) {
		return DenyHMAC
	}
	return nil
}

// signatureState is this VM's working memory for HMAC checks (package
// state is per VM, and single-threaded): the last header parsed (Identify
// and Verify read the same one) with its signature in the form compared,
// the last date parsed (clients send the same one for a second), a signer
// per secret and scratch buffers, so a warm signed request allocates
// nothing.
type signatureState struct {
	lastHeader    string
	lastFields    hmacsig.Fields
	lastCanonical []byte // hmacsig.AppendCanonical(lastFields.Signature)
	lastTarget    bool   // hmacsig.SignsTarget(lastFields.Headers)
	lastDate      string
	lastTime      time.Time
	signers       map[macKey]*signer
	buf           []byte
}

type macKey struct{ secret, algorithm string }

// signer is the MAC of one secret and algorithm (its key blocks hashed
// once), and the signatures it made lately by signed string. A MAC costs
// three SHA-256 blocks, about as much in the VM as the rest of a warm
// decision (BENCHMARKS.md); a client signs the same string for a second
// (the date, and the path when (request-target) is signed), so its
// requests within that second cost a map lookup instead. The signature is a
// function of the secret, the algorithm and the string, all in the key:
// remembering it decides nothing differently.
type signer struct {
	mac    hash.Hash
	recent map[string][]byte
}

// maxMACs bounds the signers, maxRecent the signatures each remembers
// (dates move on every second, so old ones are soon useless); past either
// bound, that memory starts again.
const (
	maxMACs   = 1024
	maxRecent = 32
)

var signatures = &signatureState{signers: map[macKey]*signer{}}

func (st *signatureState) parse(header string) (hmacsig.Fields, error) {
	if header == st.lastHeader && header != "" {
		return st.lastFields, nil
	}
	f, err := hmacsig.Parse(header)
	if err != nil {
		return f, err
	}
	// The header is a view of the request: keep a copy, and fields that
	// are views of the copy.
	st.lastHeader = strings.Clone(header)
	st.lastFields, _ = hmacsig.Parse(st.lastHeader)
	st.lastCanonical = hmacsig.AppendCanonical(st.lastCanonical[:0], st.lastFields.Signature)
	st.lastTarget = hmacsig.SignsTarget(st.lastFields.Headers)
	return st.lastFields, nil
}

func (st *signatureState) date(d string) (time.Time, bool) {
	if d == st.lastDate && d != "" {
		return st.lastTime, true
	}
	t, ok := hmacsig.ParseDate(d)
	if ok {
		st.lastDate, st.lastTime = strings.Clone(d), t
	}
	return t, ok
}

// verify checks the signature of the header parse read last, with the
// request's date as Identify read it.
func (st *signatureState) verify(secret string, req Request, path, dateName, date string) bool {
	f := st.lastFields
	sg := st.signers[macKey{secret, f.Algorithm}]
	if sg == nil {
		if len(st.signers) >= maxMACs {
			clear(st.signers)
		}
		sg = &signer{mac: hmacsig.NewMAC(secret, f.Algorithm), recent: map[string][]byte{}}
		st.signers[macKey{strings.Clone(secret), strings.Clone(f.Algorithm)}] = sg
	}
	method := ""
	if st.lastTarget {
		method = req.RequestHeader(":method")
	}
	st.buf = hmacsig.AppendSigningStringDate(st.buf[:0], f.Headers, method, path, dateName, date, req.RequestHeader)
	expected, ok := sg.recent[string(st.buf)]
	if !ok {
		expected = hmacsig.AppendSignature(nil, sg.mac, st.buf)
		if len(sg.recent) >= maxRecent {
			clear(sg.recent)
		}
		sg.recent[string(st.buf)] = expected
	}
	return hmacsig.MatchCanonical(st.lastCanonical, expected)
}
