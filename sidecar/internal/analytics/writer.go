// Package analytics stores what the filters record (POST
// /turnpike/v1/analytics): each request as Tyk's analytics record on Tyk's
// Redis list, where Tyk Pump picks it up for any of its sinks, and usage
// aggregates per minute and hour (usage.go) that the usage API (http.go)
// and the console read.
package analytics

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/turnpike-dev/turnpike/shared/wire"
	"github.com/turnpike-dev/turnpike/sidecar/internal/snapshot"
	"github.com/valyala/fastjson"
)

// Options configure a Writer.
type Options struct {
	Client  redis.UniversalClient
	Timeout time.Duration // of one batch's Redis work
	// TykRecords writes Tyk analytics records to TykListKey (the global
	// switch, Tyk's enable_analytics). Off, only aggregates are kept:
	// nothing drains the list without a Tyk Pump.
	TykRecords bool
	// MinuteRetention and HourRetention are how long aggregates live.
	MinuteRetention time.Duration
	HourRetention   time.Duration
	// Snapshot returns the current configuration, for the API
	// definitions' do_not_track and expire_analytics_after.
	Snapshot func() *snapshot.Snapshot
	Logger   *slog.Logger
}

// Writer stores batches. It is safe for concurrent use.
type Writer struct {
	opt    Options
	script *redis.Script

	mu       sync.Mutex
	settings map[string]apiSettings // for the snapshot in settingsOf
	of       *snapshot.Snapshot
}

// apiSettings are the analytics fields of an API definition, which
// shared/model does not carry: read from the definition as stored.
type apiSettings struct {
	doNotTrack  bool
	expireAfter int64 // seconds; 0: Tyk's hundred years
}

// NewWriter makes a Writer.
func NewWriter(opt Options) *Writer {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	// The flags' defaults; a zero retention would delete every aggregate
	// as it is written.
	if opt.MinuteRetention <= 0 {
		opt.MinuteRetention = 48 * time.Hour
	}
	if opt.HourRetention <= 0 {
		opt.HourRetention = 90 * 24 * time.Hour
	}
	return &Writer{opt: opt, script: redis.NewScript(updateScript)}
}

// Write stores a batch: Tyk records (when enabled) and aggregates, in one
// pipeline. Records of an API with do_not_track are dropped here too, for
// filters that predate the snapshot's Untracked.
func (w *Writer) Write(ctx context.Context, b *wire.AnalyticsBatch) error {
	settings := w.settingsNow()
	recs := b.Records[:0:0]
	for i := range b.Records {
		if !settings[b.Records[i].APIID].doNotTrack {
			recs = append(recs, b.Records[i])
		}
	}
	if len(recs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	err := w.pipeline(ctx, recs, settings, false)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		// Redis lost its script cache (a restart, SCRIPT FLUSH): send the
		// script with the aggregates once, which loads it again. Tyk
		// records went through already; they are not sent twice.
		err = w.pipeline(ctx, recs, settings, true)
	}
	return err
}

func (w *Writer) pipeline(ctx context.Context, recs []wire.AnalyticsRecord, settings map[string]apiSettings, retry bool) error {
	pipe := w.opt.Client.Pipeline()
	if w.opt.TykRecords && !retry {
		vals := make([]any, 0, len(recs))
		for i := range recs {
			rec := tykRecordFrom(&recs[i], settings[recs[i].APIID].expireAfter)
			b, err := encodeTyk(&rec)
			if err != nil {
				return err
			}
			vals = append(vals, b)
		}
		pipe.RPush(ctx, TykListKey, vals...)
	}
	for k, a := range aggregate(recs) {
		ttl := w.opt.MinuteRetention
		if k.res == Hour {
			ttl = w.opt.HourRetention
		}
		args := make([]any, 0, 4+2*(len(a.incr)+len(a.max)))
		args = append(args, int64(ttl/time.Second), k.id, a.incr["requests"], len(a.incr))
		for f, v := range a.incr {
			args = append(args, f, v)
		}
		for f, v := range a.max {
			args = append(args, f, v)
		}
		keys := []string{HashKey(k.res, k.bucket, k.dim, k.id), IndexKey(k.res, k.bucket, k.dim)}
		if retry {
			w.script.Eval(ctx, pipe, keys, args...)
		} else {
			w.script.EvalSha(ctx, pipe, keys, args...)
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Load loads the aggregate script into Redis, so batches send its hash
// only; called once Redis is reachable.
func (w *Writer) Load(ctx context.Context) error {
	return w.script.Load(ctx, w.opt.Client).Err()
}

// settingsNow returns the analytics settings of every API of the current
// snapshot, read once per snapshot.
func (w *Writer) settingsNow() map[string]apiSettings {
	var snap *snapshot.Snapshot
	if w.opt.Snapshot != nil {
		snap = w.opt.Snapshot()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if snap == w.of && w.settings != nil {
		return w.settings
	}
	out := map[string]apiSettings{}
	if snap != nil {
		var p fastjson.Parser
		for id, doc := range snap.APIDocs {
			v, err := p.ParseBytes(doc)
			if err != nil {
				continue
			}
			out[id] = apiSettings{doNotTrack: v.GetBool("do_not_track"), expireAfter: v.GetInt64("expire_analytics_after")}
		}
	}
	w.settings, w.of = out, snap
	return out
}
