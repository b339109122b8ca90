package auth

import (
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/shared/access"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// withProps is a request with host properties.
type withProps struct {
	headers
	props map[string]string
}

func (w withProps) Property(path ...string) ([]byte, bool) {
	v, ok := w.props[strings.Join(path, ".")]
	return []byte(v), ok
}

var (
	certA = strings.Repeat("a1", 32)
	certB = strings.Repeat("b2", 32)
)

func TestStaticMTLS(t *testing.T) {
	api := &model.APIDefinition{OrgID: "org1", UseMutualTLSAuth: true,
		ClientCertificates: []string{"org1" + strings.ToUpper(certA), "not-an-id"}}
	c, ok := For(api).(*Chain)
	if !ok || c.Precheck == nil || len(c.Members) != 1 || c.Names[0] != "use_standard_auth" {
		t.Fatalf("mTLS alone: %#v (Tyk: the auth token follows the certificate check)", For(api))
	}
	tlsProps := func(digest string) map[string]string {
		p := map[string]string{"connection.tls_version": "TLSv1.3"}
		if digest != "" {
			p["connection.sha256_peer_certificate_digest"] = digest
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		props map[string]string
		msg   string // "" = passes the check and identifies the key
	}{
		{"allowed", tlsProps(certA), ""},
		{"not allowed", tlsProps(certB), "Certificate with SHA256 " + certB + " not allowed"},
		{"no certificate", tlsProps(""), MsgCertRequired},
		{"no TLS", nil, MsgTLSRequired},
	} {
		id, d := c.Identify(withProps{headers{"authorization": "a-key"}, tc.props}, "/")
		if tc.msg == "" {
			if d != nil || id.Key != "a-key" {
				t.Errorf("%s: %+v %+v", tc.name, id, d)
			}
			continue
		}
		if d == nil || d.Status != access.StatusForbidden || d.Message != tc.msg {
			t.Errorf("%s: %+v, want 403 %q", tc.name, d, tc.msg)
		}
	}
}

func TestCertificateBoundKeys(t *testing.T) {
	api := &model.APIDefinition{OrgID: "org1", UseStandardAuth: true, Auth: model.AuthConfig{UseCertificate: true}}
	m := For(api)
	id, d := m.Identify(withProps{headers{"authorization": "ignored"},
		map[string]string{"connection.sha256_peer_certificate_digest": certA}}, "/")
	if d != nil || id.Key != "org1"+certA || id.Unknown == nil || id.Unknown.Status != 401 {
		t.Fatalf("%+v %+v", id, d)
	}
	if _, d := m.Identify(withProps{headers{"authorization": "a-key"}, nil}, "/"); d == nil || d.Status != 401 || d.Message != MsgCertNeeded {
		t.Fatalf("no certificate: %+v", d)
	}
}
