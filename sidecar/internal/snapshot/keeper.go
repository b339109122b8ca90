package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// Options configures a Keeper.
type Options struct {
	Store        *store.Store
	PoliciesFile string // "" = policies live in Redis
	// AppsDir, when set, holds the API definitions as {api-id}.json files
	// (apps.go) instead of Redis; CheckAPI, if set, checks each file as the
	// Gateway API checks a body (a file it rejects is not loaded).
	AppsDir  string
	CheckAPI func(doc []byte) error
	Poll     time.Duration // version counter / file check interval (0 = 200 ms)
	Logger   *slog.Logger
	// OnReload, if set, is told about every load attempt: source is
	// "redis", "file" or "apps".
	OnReload func(source string, err error)
	// JWKS, if set, provides the keys of JWT APIs whose jwt_source is a
	// URL; the snapshot is rebuilt when they change.
	JWKS *jwks.Fetcher
}

// Keeper owns the current Snapshot.
type Keeper struct {
	opt Options
	cur atomic.Pointer[Snapshot]

	mu          sync.Mutex // serialises loads; guards the fields below
	loaded      bool       // Redis part loaded at least once
	lastVersion int64
	redisPols   map[string]*model.Policy
	apis        map[string]*model.APIDefinition
	apiDocs     map[string][]byte
	orgs        map[string]*model.OrgSession
	cacheGens   map[string]int64
	appFiles    map[string]*appFile // --apps: by file path
	appsErr     string              // last directory problem logged
	filePols    map[string]*model.Policy
	fileInfo    os.FileInfo
	fileSum     [32]byte
	fileErr     string // last file problem reported, to log it once
	failing     failures
	now         func() time.Time // clock for log throttling (tests set it)
}

// failures tracks a run of failed version checks, so that a Redis outage
// logs its start, one line a minute with the count, and its end, instead of
// one line per poll.
type failures struct {
	count          int
	since, lastLog time.Time
}

// New makes a Keeper. With a policies file, the file is read now: a file
// that cannot be read or parsed at start-up is a configuration error.
func New(opt Options) (*Keeper, error) {
	if opt.Poll <= 0 {
		opt.Poll = 200 * time.Millisecond
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keeper{opt: opt, now: time.Now, appFiles: map[string]*appFile{}}
	if opt.JWKS != nil {
		opt.JWKS.OnChange(k.Republish)
	}
	if opt.PoliciesFile != "" {
		if _, err := k.checkFile(); err != nil {
			return nil, fmt.Errorf("policies file: %w", err)
		}
	}
	if opt.AppsDir != "" {
		if fi, err := os.Stat(opt.AppsDir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("apps directory %s: not a readable directory (%v)", opt.AppsDir, err)
		}
		k.checkApps()
	}
	k.publish()
	return k, nil
}

// Current is the snapshot in force. It is never nil.
func (k *Keeper) Current() *Snapshot { return k.cur.Load() }

// Ready reports whether the Redis part has been loaded at least once.
func (k *Keeper) Ready() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loaded
}

// FileSource reports whether policies come from a file.
func (k *Keeper) FileSource() bool { return k.opt.PoliciesFile != "" }

// Reload loads everything from Redis now (after a local write, or on
// /tyk/reload), whatever the version counter says.
func (k *Keeper) Reload(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.loadRedis(ctx)
}

// Run polls until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	t := time.NewTicker(k.opt.Poll)
	defer t.Stop()
	for {
		k.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll does one check of the version counter and the policies file.
func (k *Keeper) Poll(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.opt.PoliciesFile != "" {
		changed, err := k.checkFile()
		if err != nil && err.Error() != k.fileErr {
			// Keep the previous set: a half-written or broken file must not
			// revoke every key. Logged once per distinct problem, not per poll.
			k.opt.Logger.Error("policies file not loaded; keeping the previous policy set",
				"file", k.opt.PoliciesFile, "error", err)
			k.report("file", err)
		}
		k.fileErr = ""
		if err != nil {
			k.fileErr = err.Error()
		}
		if changed {
			k.report("file", nil)
			k.publish()
		}
	}
	if k.opt.AppsDir != "" && k.checkApps() {
		k.report("apps", nil)
		k.publish()
	}
	v, err := k.opt.Store.ConfigVersion(ctx)
	if err != nil {
		k.versionCheckFailed(err)
		return
	}
	k.versionCheckSucceeded()
	if !k.loaded || v != k.lastVersion {
		if err := k.loadRedis(ctx); err != nil {
			k.opt.Logger.Warn("config reload failed", "error", err)
		}
	}
}

// versionCheckFailed logs the first failure of a run, then at most one line
// a minute with the count. Called with mu held.
func (k *Keeper) versionCheckFailed(err error) {
	f, now := &k.failing, k.now()
	f.count++
	switch {
	case f.count == 1:
		f.since, f.lastLog = now, now
		k.opt.Logger.Warn("config version check failed; retrying every poll, logging once a minute until it recovers",
			"error", err)
	case now.Sub(f.lastLog) >= time.Minute:
		f.lastLog = now
		k.opt.Logger.Warn("config version check still failing", "failures", f.count,
			"failing_for", now.Sub(f.since).Round(time.Second), "error", err)
	}
}

// versionCheckSucceeded logs the end of a run of failures. Called with mu
// held.
func (k *Keeper) versionCheckSucceeded() {
	if f := k.failing; f.count > 0 {
		k.opt.Logger.Info("config version check recovered", "failures", f.count,
			"failed_for", k.now().Sub(f.since).Round(time.Millisecond))
		k.failing = failures{}
	}
}

// loadRedis reads the config from Redis. Called with mu held.
func (k *Keeper) loadRedis(ctx context.Context) (err error) {
	defer func() { k.report("redis", err) }()
	// Version first: a write landing after this read bumps the counter
	// again, so the next poll reloads; reading it last could miss one.
	v, err := k.opt.Store.ConfigVersion(ctx)
	if err != nil {
		return err
	}
	var pols map[string]*model.Policy
	if k.opt.PoliciesFile == "" {
		raw, err := k.opt.Store.All(ctx, store.Policies)
		if err != nil {
			return err
		}
		pols = decodeAll(k.opt.Logger, "policy", raw, DecodePolicy)
	}
	apis, apiDocs := k.apis, k.apiDocs // from the apps directory, with --apps
	if k.opt.AppsDir == "" {
		raw, err := k.opt.Store.All(ctx, store.APIs)
		if err != nil {
			return err
		}
		apis = decodeAll(k.opt.Logger, "api", raw, model.DecodeAPIDefinition)
		apiDocs = make(map[string][]byte, len(apis))
		for id := range apis {
			if doc, ok := compactObject(raw[id]); ok {
				apiDocs[id] = doc
			}
		}
	}
	raw, err := k.opt.Store.Orgs(ctx)
	if err != nil {
		return err
	}
	orgs := decodeAll(k.opt.Logger, "org", raw, model.DecodeSession)
	cacheGens, err := k.opt.Store.CacheGenerations(ctx)
	if err != nil {
		return err
	}
	k.redisPols, k.apis, k.apiDocs, k.orgs, k.cacheGens = pols, apis, apiDocs, orgs, cacheGens
	k.lastVersion, k.loaded = v, true
	k.publish()
	return nil
}

// checkFile re-reads the policies file when its identity, size or mtime
// changed. Comparing with os.SameFile catches Kubernetes ConfigMap updates,
// which swap a symlink rather than write the file. Called with mu held (or
// before the Keeper is shared).
func (k *Keeper) checkFile() (changed bool, err error) {
	fi, err := os.Stat(k.opt.PoliciesFile)
	if err != nil {
		return false, err
	}
	if k.fileInfo != nil && os.SameFile(fi, k.fileInfo) && fi.Size() == k.fileInfo.Size() &&
		fi.ModTime().Equal(k.fileInfo.ModTime()) {
		return false, nil
	}
	data, err := os.ReadFile(k.opt.PoliciesFile)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(data)
	if k.fileInfo != nil && sum == k.fileSum {
		k.fileInfo = fi
		return false, nil
	}
	pols, err := DecodePolicies(data)
	if err != nil {
		// Remember the broken file's identity so it is not re-parsed every
		// poll; its sum is not remembered, so reverting to the last good
		// content is recognised as "no change".
		k.fileInfo = fi
		return false, fmt.Errorf("%s: %w", k.opt.PoliciesFile, err)
	}
	k.filePols, k.fileInfo, k.fileSum = pols, fi, sum
	k.opt.Logger.Info("policies file loaded", "file", k.opt.PoliciesFile, "policies", len(pols))
	return true, nil
}

func (k *Keeper) publish() {
	pols := k.redisPols
	if k.opt.PoliciesFile != "" {
		pols = k.filePols
	}
	active, inactive := splitActive(pols)
	s := BuildAll(active, k.apis, k.apiDocs, k.orgs, k.jwtKeys(), k.cacheGens)
	s.Inactive = inactive
	k.cur.Store(s)
}

// Republish builds the snapshot again (new JWKS keys).
func (k *Keeper) Republish() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.publish()
}

func (k *Keeper) report(source string, err error) {
	if k.opt.OnReload != nil {
		k.opt.OnReload(source, err)
	}
}

// compactObject is a stored document without insignificant whitespace, if
// it is a JSON object (anything else is encoded from its model instead).
func compactObject(raw []byte) ([]byte, bool) {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil || b.Len() == 0 || b.Bytes()[0] != '{' {
		return nil, false
	}
	return b.Bytes(), true
}

// decodeAll decodes stored objects, skipping (and logging) any that no
// longer decode: one bad record written by another tool must not take the
// whole config down.
func decodeAll[T any](log *slog.Logger, kind string, raw map[string][]byte, decode func([]byte) (*T, error)) map[string]*T {
	out := make(map[string]*T, len(raw))
	for id, b := range raw {
		v, err := decode(b)
		if err != nil {
			log.Error("stored object does not decode; ignoring it", "kind", kind, "id", id, "error", err)
			continue
		}
		out[id] = v
	}
	return out
}
