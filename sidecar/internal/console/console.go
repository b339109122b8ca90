// Package console serves the web console at /console/: a single page
// (assets embedded in the binary, no build step, nothing from a CDN) over
// the sidecar's own Gateway API and usage API.
//
// Authentication: the operator types the Gateway API secret once; the
// sidecar answers with a session cookie (HttpOnly, SameSite=Strict, Path
// /console/) and a CSRF token the page keeps in memory only. The secret is
// never stored by the page, never in a URL, never in local storage. Every
// request of the page goes to /console/api/..., which checks the session
// (and, for writes, the X-CSRF-Token header), then calls the Gateway API
// in-process with the secret added on the server side: the console sees
// exactly the Gateway API's answers, validation messages included.
//
// Sessions live in Redis (sessions.go): any replica accepts a session made
// on another, and a restart logs no one out.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/keys"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// cookieName is the session cookie.
const cookieName = "turnpike_console"

// headerCSRF carries the session's CSRF token on writes.
const headerCSRF = "X-CSRF-Token"

// Deps is what the console needs.
type Deps struct {
	Secret string
	// API serves the Gateway API (/tyk/) and the usage API
	// (/turnpike/v1/usage); the console calls it in-process.
	API http.Handler
	// Status is the status page's document.
	Status func(ctx context.Context) any
	// Redis holds the sessions, shared by every replica (required).
	Redis redis.UniversalClient
	// RedisTimeout bounds each session read or write (default 2 s).
	RedisTimeout time.Duration
	Rand         io.Reader
	// SessionTTL is how long a session lasts without use (default 8 h).
	SessionTTL time.Duration
}

// Console is the /console/ handler.
type Console struct {
	d        Deps
	static   http.Handler
	sessions sessions
}

// New makes the console.
func New(d Deps) *Console {
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 8 * time.Hour
	}
	if d.RedisTimeout == 0 {
		d.RedisTimeout = 2 * time.Second
	}
	sub, _ := fs.Sub(assets, "assets")
	return &Console{d: d, static: http.StripPrefix(Prefix+"assets/", http.FileServer(http.FS(sub))),
		sessions: sessions{c: d.Redis, ttl: d.SessionTTL, timeout: d.RedisTimeout}}
}

// Register adds /console/ to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.Handle(Prefix, c)
	mux.Handle("GET /console", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
}

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Only this origin's scripts and styles; no framing, no referrer
	// (a URL never carries a secret, but keys appear in API paths).
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	p := r.URL.Path
	switch {
	case p == Prefix:
		h.Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, assets, "assets/index.html")
	case strings.HasPrefix(p, Prefix+"assets/"):
		h.Set("Cache-Control", "no-cache")
		c.static.ServeHTTP(w, r)
	case p == Prefix+"login" && r.Method == http.MethodPost:
		c.login(w, r)
	case p == Prefix+"logout" && r.Method == http.MethodPost:
		c.logout(w, r)
	case p == Prefix+"session" && r.Method == http.MethodGet:
		if csrf, ok := c.session(w, r); ok {
			writeJSON(w, http.StatusOK, map[string]string{"csrf": csrf})
		}
	case strings.HasPrefix(p, Prefix+"api/"):
		c.api(w, r)
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
	}
}

// POST /console/login {"secret": …}: a session cookie and the CSRF token.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "malformed login request"})
		return
	}
	if !keys.Equal(req.Secret, c.d.Secret) {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "wrong secret"})
		return
	}
	id, csrf := c.random(), c.random()
	if err := c.sessions.create(r.Context(), id, csrf); err != nil {
		storeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]string{"csrf": csrf})
}

// POST /console/logout (with the CSRF token): the session ends on every
// replica, and the cookie is cleared.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(cookieName)
	if err == nil {
		csrf, err := c.sessions.lookup(r.Context(), ck.Value)
		if err == nil && csrf != "" && keys.Equal(r.Header.Get(headerCSRF), csrf) {
			err = c.sessions.remove(r.Context(), ck.Value)
		}
		if err != nil {
			storeError(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"message": "logged out"})
}

// session returns the request's session's CSRF token, extending the
// session. Without a live session it answers 401 (503 when Redis fails)
// itself and returns false.
func (c *Console) session(w http.ResponseWriter, r *http.Request) (string, bool) {
	ck, err := r.Cookie(cookieName)
	csrf := ""
	if err == nil {
		if csrf, err = c.sessions.lookup(r.Context(), ck.Value); err != nil {
			storeError(w, err)
			return "", false
		}
	}
	if csrf == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "not logged in"})
		return "", false
	}
	return csrf, true
}

// api serves /console/api/...: status, or a Gateway API / usage API call
// made on the session's behalf.
func (c *Console) api(w http.ResponseWriter, r *http.Request) {
	csrf, ok := c.session(w, r)
	if !ok {
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !safe && !keys.Equal(r.Header.Get(headerCSRF), csrf) {
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "missing or wrong CSRF token"})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, Prefix+"api")
	if path == "/status" && safe {
		writeJSON(w, http.StatusOK, c.d.Status(r.Context()))
		return
	}
	if !strings.HasPrefix(path, "/tyk/") && !strings.HasPrefix(path, "/turnpike/v1/usage") {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not found"})
		return
	}
	inner := r.Clone(r.Context())
	inner.URL.Path, inner.URL.RawPath, inner.RequestURI = path, "", ""
	inner.Header = http.Header{}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		inner.Header.Set("Content-Type", ct)
	}
	inner.Header.Set("X-Tyk-Authorization", c.d.Secret)
	c.d.API.ServeHTTP(w, inner)
}

func (c *Console) random() string {
	b := make([]byte, 32)
	if _, err := io.ReadFull(c.d.Rand, b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// storeError answers a failed session read or write: 503, the page keeps
// its state and shows the message.
func storeError(w http.ResponseWriter, err error) {
	msg := err.Error()
	if errors.Is(err, errNoStore) {
		msg = errNoStore.Error()
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
