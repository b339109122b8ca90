package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
)

func TestParsePEM(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix1, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ek.PublicKey, ek)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	for _, tc := range []struct {
		name string
		data []byte
		m    jwt.Method
		err  string
	}{
		{"PKIX RSA", enc("PUBLIC KEY", pkix1), jwt.RSA, ""},
		{"bare DER", pkix1, jwt.RSA, ""},
		{"PKCS #1", enc("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rk.PublicKey)), jwt.RSA, ""},
		{"certificate", enc("CERTIFICATE", cert), jwt.ECDSA, ""},
		{"RSA key for ecdsa", enc("PUBLIC KEY", pkix1), jwt.ECDSA, "an RSA key"},
		{"garbage", []byte("secret"), jwt.RSA, "not a PEM public key"},
	} {
		_, err := ParsePEM(tc.data, tc.m)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestTTL(t *testing.T) {
	f := New(Options{MinTTL: 30 * time.Second, MaxTTL: time.Hour, DefaultTTL: 5 * time.Minute})
	for cc, want := range map[string]time.Duration{
		"":                      5 * time.Minute,
		"public, max-age=600":   10 * time.Minute,
		"max-age=1":             30 * time.Second, // floor
		"max-age=999999":        time.Hour,        // ceiling
		"no-store":              30 * time.Second,
		"max-age=oops":          5 * time.Minute,
		"Max-Age=120, must-rev": 2 * time.Minute,
	} {
		if got := f.ttl(cc); got != want {
			t.Errorf("%q: %v, want %v", cc, got, want)
		}
	}
}

func TestFetchLimitsAndFailures(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ek.PublicKey}})
	var body atomic.Value
	body.Store(good)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b := body.Load().([]byte)
		if b == nil {
			w.WriteHeader(500)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	f := New(Options{MaxBytes: 4096})
	changes := make(chan struct{}, 10)
	f.OnChange(func() { changes <- struct{}{} })
	f.Use([]string{srv.URL})
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Fatal("no fetch")
	}
	if string(f.Keys(srv.URL)) != string(good) {
		t.Fatalf("keys %s", f.Keys(srv.URL))
	}
	for name, b := range map[string][]byte{
		"server error": nil, "too large": []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 5000) + `"}`),
		"not a JWKS": []byte(`[]`), "no keys": []byte(`{"keys":[]}`),
	} {
		body.Store(b)
		if _, _, err := f.get(srv.URL); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// A failed refetch keeps the previous keys: an IdP outage must
		// not lock every token out.
		f.fetch(srv.URL, make(chan struct{}))
		if string(f.Keys(srv.URL)) != string(good) {
			t.Errorf("%s: keys lost", name)
		}
	}
	f.Flush(srv.URL)
	if f.Keys(srv.URL) != nil {
		t.Error("a flush must forget the keys")
	}
	body.Store(good)
	f.Flush(srv.URL)
	deadline := time.Now().Add(5 * time.Second)
	for f.Keys(srv.URL) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if f.Keys(srv.URL) == nil {
		t.Fatal("no keys after the IdP recovered")
	}
	f.Use(nil)
	if f.Keys(srv.URL) != nil {
		t.Error("a URL no API uses is kept")
	}
}

// RefreshWait returns once the refetch it asked for is done and its keys
// handed on (a fresh poll then brings a rotated key set); within
// RefreshEvery it starts no fetch and returns at once.
func TestRefreshWait(t *testing.T) {
	set := func() []byte {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k", Key: &k.PublicKey}})
	}
	var body atomic.Value
	body.Store(set())
	var fetches atomic.Int32
	var delay atomic.Int64 // an IdP that takes its time
	delay.Store(int64(50 * time.Millisecond))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		time.Sleep(time.Duration(delay.Load()))
		_, _ = w.Write(body.Load().([]byte))
	}))
	defer srv.Close()
	f := New(Options{RefreshEvery: time.Hour})
	var published atomic.Value // the keys the snapshot keeper saw last
	f.OnChange(func() { published.Store(f.Keys(srv.URL)) })
	f.Use([]string{srv.URL})
	f.RefreshWait(context.Background(), srv.URL) // waits for Use's fetch, starts none
	if fetches.Load() != 1 || published.Load() == nil {
		t.Fatalf("%d fetches, published %v", fetches.Load(), published.Load())
	}
	rotated := set()
	body.Store(rotated)
	f.RefreshWait(context.Background(), srv.URL)
	if got, _ := published.Load().([]byte); fetches.Load() != 1 || string(got) == string(rotated) {
		t.Fatal("refetched within RefreshEvery")
	}
	f.mu.Lock()
	f.sets[srv.URL].lastAsk = time.Time{} // RefreshEvery has passed
	f.mu.Unlock()
	f.RefreshWait(context.Background(), srv.URL)
	if got, _ := published.Load().([]byte); fetches.Load() != 2 || string(got) != string(rotated) {
		t.Fatalf("after RefreshWait: %d fetches, rotated keys published: %v", fetches.Load(), string(got) == string(rotated))
	}
	// A caller that cannot wait longer returns when its context ends.
	delay.Store(int64(1500 * time.Millisecond))
	f.mu.Lock()
	f.sets[srv.URL].lastAsk = time.Time{}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	f.RefreshWait(ctx, srv.URL)
	if waited := time.Since(start); waited > time.Second {
		t.Errorf("waited %v for a 1.5 s fetch, past its 10 ms context", waited)
	}
}

// An issuer's keys come through its discovery document: its jwks_uri is
// fetched, and the keys are kept under the discovery URL.
func TestDiscovery(t *testing.T) {
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := jwt.AppendKeySet(nil, jwt.KeySet{{Kid: "k1", Key: &ek.PublicKey}})
	var conf atomic.Value
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/realm" + DiscoverySuffix:
			_, _ = w.Write([]byte(conf.Load().(string)))
		case "/certs":
			w.Header().Set("Cache-Control", "max-age=600")
			_, _ = w.Write(keys)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	url := srv.URL + "/realm" + DiscoverySuffix
	f := New(Options{})
	for _, tc := range []struct {
		name, conf string
		ok         bool
	}{
		{"jwks_uri", `{"issuer":"x","jwks_uri":"` + srv.URL + `/certs"}`, true},
		{"no jwks_uri", `{"issuer":"x"}`, false},
		{"jwks_uri not http", `{"jwks_uri":"file:///etc/passwd"}`, false},
		{"jwks_uri 404", `{"jwks_uri":"` + srv.URL + `/nothing"}`, false},
		{"not JSON", `<html>`, false},
	} {
		conf.Store(tc.conf)
		doc, ttl, err := f.get(url)
		if (err == nil) != tc.ok || tc.ok && (string(doc) != string(keys) || ttl != 10*time.Minute) {
			t.Errorf("%s: %s %v %v", tc.name, doc, ttl, err)
		}
	}
}
