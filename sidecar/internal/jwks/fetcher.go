package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/turnpike-dev/turnpike/shared/jwt"
)

// Options configures a Fetcher.
type Options struct {
	// Client fetches the URLs; its Timeout bounds each fetch (default
	// client: 5 s).
	Client *http.Client
	// MaxBytes bounds a JWKS document (default 1 MiB).
	MaxBytes int64
	// MinTTL and MaxTTL clamp the Cache-Control max-age of an answer
	// (defaults 30 s and 1 h); DefaultTTL applies without one (5 min).
	MinTTL, MaxTTL, DefaultTTL time.Duration
	// RefreshEvery bounds the refetches of one URL that a filter asks for
	// (an unknown kid) or a failed fetch retries (default 10 s).
	RefreshEvery time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Fetcher keeps the key sets of the JWKS URLs the API definitions use.
// Keys never blocks on the network: fetches run in the background, and
// the filters see new keys in the next snapshot.
type Fetcher struct {
	opt Options

	mu   sync.Mutex
	sets map[string]*entry
	used map[string]bool // URLs of the current API definitions
	// onChange is called, without locks held, when the keys of a URL in
	// use changed: the snapshot must be built again.
	onChange func()
}

// OnChange sets what to call when keys change (the snapshot keeper).
func (f *Fetcher) OnChange(fn func()) {
	f.mu.Lock()
	f.onChange = fn
	f.mu.Unlock()
}

func (f *Fetcher) changed() {
	f.mu.Lock()
	fn := f.onChange
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
}

type entry struct {
	doc     []byte    // JWKS document of the valid keys (jwt.AppendKeySet); nil before a good fetch
	expires time.Time // refetch after
	lastTry time.Time
	// lastAsk is when a filter's report last caused a refetch.
	lastAsk  time.Time
	fetching bool
	// done is closed when the running fetch has finished and its keys,
	// if they changed, were handed on (onChange returned).
	done chan struct{}
}

// New makes a Fetcher.
func New(opt Options) *Fetcher {
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 1 << 20
	}
	if opt.MinTTL <= 0 {
		opt.MinTTL = 30 * time.Second
	}
	if opt.MaxTTL <= 0 {
		opt.MaxTTL = time.Hour
	}
	if opt.DefaultTTL <= 0 {
		opt.DefaultTTL = 5 * time.Minute
	}
	if opt.RefreshEvery <= 0 {
		opt.RefreshEvery = 10 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Fetcher{opt: opt, sets: map[string]*entry{}, used: map[string]bool{}}
}

// Use declares the URLs the API definitions use now; others are forgotten.
// Each URL without keys yet is fetched.
func (f *Fetcher) Use(urls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used = make(map[string]bool, len(urls))
	for _, u := range urls {
		f.used[u] = true
		if _, ok := f.sets[u]; !ok {
			f.sets[u] = &entry{}
			f.startLocked(u)
		}
	}
	for u := range f.sets {
		if !f.used[u] {
			delete(f.sets, u)
		}
	}
}

// Keys returns the JWKS document of url, nil when none was fetched yet.
func (f *Fetcher) Keys(url string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.sets[url]; ok {
		return e.doc
	}
	return nil
}

// Refresh refetches url now (a filter saw an unknown kid: maybe a key
// rotation), unless it was fetched within RefreshEvery.
func (f *Fetcher) Refresh(url string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked(url)
}

// RefreshWait is Refresh for a caller that can wait: it also returns only
// when the fetch it started, or one already running, has finished and its
// keys are in the snapshot, or when ctx ends. A request waiting for a
// token's key then gets the rotated key set in the same poll.
func (f *Fetcher) RefreshWait(ctx context.Context, url string) {
	f.mu.Lock()
	f.refreshLocked(url)
	var done chan struct{}
	if e, ok := f.sets[url]; ok && e.fetching {
		done = e.done
	}
	f.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (f *Fetcher) refreshLocked(url string) {
	if e, ok := f.sets[url]; ok && f.opt.Now().Sub(e.lastAsk) >= f.opt.RefreshEvery {
		e.lastAsk = f.opt.Now()
		f.startLocked(url)
	}
}

// Flush forgets the keys of the given URLs, or of all with none given
// (DELETE /tyk/cache/jwks), and fetches them again.
func (f *Fetcher) Flush(urls ...string) {
	f.mu.Lock()
	if len(urls) == 0 {
		for u := range f.sets {
			urls = append(urls, u)
		}
	}
	changed := false
	for _, u := range urls {
		if e, ok := f.sets[u]; ok {
			changed = changed || e.doc != nil
			e.doc, e.expires, e.lastTry = nil, time.Time{}, time.Time{}
			f.startLocked(u)
		}
	}
	f.mu.Unlock()
	if changed {
		f.changed()
	}
}

// Run refetches expired key sets until ctx ends.
func (f *Fetcher) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		now := f.opt.Now()
		for u, e := range f.sets {
			if now.After(e.expires) && now.Sub(e.lastTry) >= f.opt.RefreshEvery {
				f.startLocked(u)
			}
		}
		f.mu.Unlock()
	}
}

// startLocked starts a fetch of url unless one is running. Called with mu
// held.
func (f *Fetcher) startLocked(url string) {
	e := f.sets[url]
	if e == nil || e.fetching {
		return
	}
	e.fetching, e.lastTry, e.done = true, f.opt.Now(), make(chan struct{})
	go f.fetch(url, e.done)
}

func (f *Fetcher) fetch(url string, done chan struct{}) {
	defer close(done)
	doc, ttl, err := f.get(url)
	f.mu.Lock()
	e, ok := f.sets[url]
	if !ok {
		f.mu.Unlock()
		return
	}
	e.fetching = false
	changed := false
	if err != nil {
		// The previous keys stay: an IdP outage must not lock every
		// token out. Retried after RefreshEvery.
		f.opt.Logger.Warn("JWKS fetch failed; keeping the previous keys", "url", url, "error", err)
	} else {
		changed = string(doc) != string(e.doc)
		e.doc, e.expires = doc, f.opt.Now().Add(ttl)
	}
	f.mu.Unlock()
	if changed {
		f.changed()
	}
}

// DiscoverySuffix ends the URL of an OpenID Connect discovery document
// (oidc.DiscoveryURL). A URL with it is fetched in two steps: the document,
// then the JWKS its jwks_uri names; the key set is kept under the
// discovery URL, with the JWKS answer's max-age.
const DiscoverySuffix = "/.well-known/openid-configuration"

// get fetches and validates a JWKS document, through the issuer's
// discovery document for a DiscoverySuffix URL; ttl is the JWKS answer's
// Cache-Control max-age clamped to [MinTTL, MaxTTL].
func (f *Fetcher) get(url string) ([]byte, time.Duration, error) {
	if strings.HasSuffix(url, DiscoverySuffix) {
		body, _, err := f.body(url)
		if err != nil {
			return nil, 0, err
		}
		var doc struct {
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, 0, errors.New("OpenID configuration: " + err.Error())
		}
		if !strings.HasPrefix(doc.JWKSURI, "https://") && !strings.HasPrefix(doc.JWKSURI, "http://") {
			return nil, 0, errors.New("OpenID configuration has no http(s) jwks_uri")
		}
		url = doc.JWKSURI
	}
	body, cc, err := f.body(url)
	if err != nil {
		return nil, 0, err
	}
	ks, err := jwt.ParseKeySet(body)
	if err != nil {
		return nil, 0, err
	}
	if len(ks) == 0 {
		return nil, 0, errors.New("JWKS has no signature keys")
	}
	return jwt.AppendKeySet(nil, ks), f.ttl(cc), nil
}

// body GETs url: a 200 answer of at most MaxBytes, and its Cache-Control.
func (f *Fetcher) body(url string) ([]byte, string, error) {
	resp, err := f.opt.Client.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", errors.New("status " + resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.opt.MaxBytes+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(body)) > f.opt.MaxBytes {
		return nil, "", errors.New(url + ": larger than " + strconv.FormatInt(f.opt.MaxBytes, 10) + " bytes")
	}
	return body, resp.Header.Get("Cache-Control"), nil
}

func (f *Fetcher) ttl(cc string) time.Duration {
	ttl := f.opt.DefaultTTL
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(strings.ToLower(d))
		switch {
		case d == "no-store" || d == "no-cache":
			ttl = 0
		case strings.HasPrefix(d, "max-age="):
			if n, err := strconv.Atoi(d[len("max-age="):]); err == nil {
				ttl = time.Duration(n) * time.Second
			}
		}
	}
	return min(max(ttl, f.opt.MinTTL), f.opt.MaxTTL)
}
