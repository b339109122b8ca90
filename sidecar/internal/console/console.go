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
// Sessions live in this process's memory: behind a load balancer, use
// sticky sessions or log in on each replica.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

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
	Now    func() time.Time
	Rand   io.Reader
	// SessionTTL is how long a session lasts without use (default 8 h).
	SessionTTL time.Duration
}

// Console is the /console/ handler.
type Console struct {
	d      Deps
	static http.Handler

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	csrf    string
	expires time.Time
}

// New makes the console.
func New(d Deps) *Console {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	if d.SessionTTL == 0 {
		d.SessionTTL = 8 * time.Hour
	}
	sub, _ := fs.Sub(assets, "assets")
	return &Console{d: d, static: http.StripPrefix(Prefix+"assets/", http.FileServer(http.FS(sub))),
		sessions: map[string]*session{}}
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
		if s := c.session(r); s != nil {
			writeJSON(w, http.StatusOK, map[string]string{"csrf": s.csrf})
			return
		}
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "not logged in"})
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
	c.mu.Lock()
	now := c.d.Now()
	for k, s := range c.sessions { // forget expired sessions
		if now.After(s.expires) {
			delete(c.sessions, k)
		}
	}
	c.sessions[id] = &session{csrf: csrf, expires: now.Add(c.d.SessionTTL)}
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: Prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	writeJSON(w, http.StatusOK, map[string]string{"csrf": csrf})
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if s := c.session(r); s != nil && keys.Equal(r.Header.Get(headerCSRF), s.csrf) {
		ck, _ := r.Cookie(cookieName)
		c.mu.Lock()
		delete(c.sessions, ck.Value)
		c.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"message": "logged out"})
}

// session returns the request's live session, extending it; nil if none.
func (c *Console) session(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[ck.Value]
	now := c.d.Now()
	if s == nil || now.After(s.expires) {
		return nil
	}
	s.expires = now.Add(c.d.SessionTTL)
	return s
}

// api serves /console/api/...: status, or a Gateway API / usage API call
// made on the session's behalf.
func (c *Console) api(w http.ResponseWriter, r *http.Request) {
	s := c.session(r)
	if s == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "not logged in"})
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !safe && !keys.Equal(r.Header.Get(headerCSRF), s.csrf) {
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

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
