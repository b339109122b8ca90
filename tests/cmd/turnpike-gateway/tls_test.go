package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

// issue makes a certificate signed by parent (self-signed when parent is nil).
func issue(t *testing.T, tmpl *x509.Certificate, parent *testCert) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCert{cert: cert, key: key, der: der}
}

func (c *testCert) files(t *testing.T) (certFile, keyFile string) {
	kb, _ := x509.MarshalECPrivateKey(c.key)
	return writeTemp(t, string(pemCert(c.der))), writeTemp(t, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
}

func (c *testCert) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key}
}

// Downstream TLS with client certificates: the filter reads the peer certificate through Envoy's
// connection.* properties (mtls, subject_peer_certificate, sha256_peer_certificate_digest,
// uri_san_peer_certificate, tls_version).
func TestGatewayDownstreamMTLS(t *testing.T) {
	ca := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}, nil)
	server := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "gateway"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca)
	spiffe, _ := url.Parse("spiffe://example.org/client")
	client := issue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "client-1", Organization: []string{"Acme"}},
		URIs: []*url.URL{spiffe}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca)
	certFile, keyFile := server.files(t)
	caFile := writeTemp(t, string(pemCert(ca.der)))
	upstream, _ := echoUpstream(t)
	gw := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", upstream.URL, "--log-level", "warn",
		"--tls-cert", certFile, "--tls-key", keyFile, "--client-ca", caFile)
	gw = "https" + gw[len("http"):]

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{client.tls()}}}}
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	digest := sha256.Sum256(client.der)

	property := func(c *http.Client, name string) string {
		req, _ := http.NewRequest("GET", gw+"/p", nil)
		req.Header.Set("X-Get-Property", name)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		v, err := strconv.Unquote(resp.Header.Get("X-Echo-X-Property"))
		if err != nil {
			return "error: " + resp.Header.Get("X-Echo-X-Property-Error")
		}
		return v
	}
	tests := []struct {
		client     *http.Client
		name, want string
	}{
		{withCert, "connection.mtls", "\x01"},
		{withCert, "connection.subject_peer_certificate", "CN=client-1,O=Acme"},
		{withCert, "connection.sha256_peer_certificate_digest", hex.EncodeToString(digest[:])},
		{withCert, "connection.uri_san_peer_certificate", "spiffe://example.org/client"},
		{withCert, "connection.tls_version", "TLSv1.3"},
		{withCert, "request.scheme", "https"},
		{without, "connection.mtls", "\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := property(tt.client, tt.name); got != tt.want {
				t.Fatalf("%s = %q, want %q", tt.name, got, tt.want)
			}
		})
	}

	required := startGateway(t, "--wasm", buildFilter(t, "headers"), "--upstream", upstream.URL, "--log-level", "error",
		"--tls-cert", certFile, "--tls-key", keyFile, "--client-ca", caFile, "--require-client-cert")
	if resp, err := without.Get("https" + required[len("http"):] + "/p"); err == nil {
		resp.Body.Close()
		t.Fatalf("--require-client-cert let a client without a certificate in: %d", resp.StatusCode)
	}
}
