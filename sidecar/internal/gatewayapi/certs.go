package gatewayapi

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// /tyk/certs: the certificate store that mTLS APIs reference. A
// certificate's id is its org id followed by the hex SHA-256 fingerprint
// of its DER, as in Tyk. Only certificates are stored: the filter never
// terminates TLS, so a private key has no use here, and a PEM carrying one
// is refused rather than kept in Redis.

const (
	msgCertNotFound  = "Certificate with given SHA256 fingerprint not found."
	msgCertMalformed = "Malformed request body"
)

// certMeta is Tyk's CertificateMeta.
type certMeta struct {
	ID          string    `json:"id"`
	Fingerprint string    `json:"fingerprint"`
	HasPrivate  bool      `json:"has_private"`
	Issuer      pkix.Name `json:"issuer"`
	Subject     pkix.Name `json:"subject"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	DNSNames    []string  `json:"dns_names"`
	IsCA        bool      `json:"is_ca"`
}

// certBasics is Tyk's CertificateBasics (GET /tyk/certs?mode=detailed).
type certBasics struct {
	ID         string    `json:"id"`
	IssuerCN   string    `json:"issuer_cn"`
	SubjectCN  string    `json:"subject_cn"`
	DNSNames   []string  `json:"dns_names"`
	HasPrivate bool      `json:"has_private"`
	IsCA       bool      `json:"is_ca"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
}

// parseCert reads the first certificate of a PEM document, refusing
// private keys.
func parseCert(data []byte) (*x509.Certificate, error) {
	var cert *x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case strings.Contains(b.Type, "PRIVATE KEY"):
			return nil, errors.New("the PEM holds a private key: Turnpike stores certificates only " +
				"(the filter never terminates TLS)")
		case b.Type == "CERTIFICATE" && cert == nil:
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, err
			}
			cert = c
		}
	}
	if cert == nil {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return cert, nil
}

func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// POST /tyk/certs[?org_id=]: the body is PEM.
func (a *API) addCert(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	cert, err := parseCert(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, msgCertMalformed+": "+err.Error())
		return
	}
	id := r.URL.Query().Get("org_id") + fingerprint(cert)
	added, err := a.d.Store.AddCert(r.Context(), id, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	if !added {
		writeError(w, http.StatusForbidden, "Certificate with "+id+" ID already exists.")
		return
	}
	a.d.Logger.Info("certificate added", "cert_id", id)
	writeValue(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Message string `json:"message"`
		Status  string `json:"status"`
	}{id, "Certificate added", "ok"})
}

// GET /tyk/certs[?org_id=][&mode=detailed]
func (a *API) listCerts(w http.ResponseWriter, r *http.Request) {
	all, err := a.d.Store.Certs(r.Context())
	if err != nil {
		a.storageError(w, r, err)
		return
	}
	org := r.URL.Query().Get("org_id")
	detailed := r.URL.Query().Get("mode") == "detailed"
	ids, basics := []string{}, []certBasics{}
	for _, id := range slices.Sorted(maps.Keys(all)) {
		if !strings.HasPrefix(id, org) {
			continue
		}
		if !detailed {
			ids = append(ids, id)
			continue
		}
		if c, err := parseCert(all[id]); err == nil {
			basics = append(basics, certBasics{ID: id, IssuerCN: c.Issuer.CommonName, SubjectCN: c.Subject.CommonName,
				DNSNames: c.DNSNames, IsCA: c.IsCA, NotBefore: c.NotBefore, NotAfter: c.NotAfter})
		}
	}
	if detailed {
		writeValue(w, http.StatusOK, struct {
			Certs []certBasics `json:"certs"`
		}{basics})
		return
	}
	writeValue(w, http.StatusOK, struct {
		Certs []string `json:"certs"`
	}{ids})
}

// GET /tyk/certs/{certID}[,{certID}...]: one id answers one meta, several
// an array.
func (a *API) getCerts(w http.ResponseWriter, r *http.Request) {
	ids := strings.Split(r.PathValue("certID"), ",")
	metas := make([]certMeta, 0, len(ids))
	for _, id := range ids {
		data, err := a.d.Store.Cert(r.Context(), id)
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, msgCertNotFound)
			return
		} else if err != nil {
			a.storageError(w, r, err)
			return
		}
		c, err := parseCert(data)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "Stored certificate is corrupt: "+err.Error())
			return
		}
		metas = append(metas, certMeta{ID: id, Fingerprint: fingerprint(c), Issuer: c.Issuer, Subject: c.Subject,
			NotBefore: c.NotBefore, NotAfter: c.NotAfter, DNSNames: c.DNSNames, IsCA: c.IsCA})
	}
	if len(metas) == 1 {
		writeValue(w, http.StatusOK, metas[0])
		return
	}
	writeValue(w, http.StatusOK, metas)
}

// DELETE /tyk/certs/{certID}: Tyk answers "removed" whether or not it was
// there.
func (a *API) deleteCert(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("certID")
	if _, err := a.d.Store.DeleteCert(r.Context(), id); err != nil {
		a.storageError(w, r, err)
		return
	}
	a.d.Logger.Info("certificate deleted", "cert_id", id)
	writeValue(w, http.StatusOK, statusMessage{Status: "ok", Message: "removed"})
}
