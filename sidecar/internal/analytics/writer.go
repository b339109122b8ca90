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
	// FlushEvery is how often aggregates gathered from batches are added
	// to Redis (Run); 0 adds each batch's at once, in Write. Gathering
	// turns the batches of every VM in an interval into one script call
	// per aggregate hash; the console and usage API lag by as much.
	FlushEvery time.Duration
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

	// pending are the aggregates gathered since the last flush.
	pmu     sync.Mutex
	pending map[aggKey]*agg
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
	return &Writer{opt: opt, script: redis.NewScript(updateScript), pending: map[aggKey]*agg{}}
}

// Write stores a batch: Tyk records (when enabled) at once, aggregates at
// the next flush (at once without FlushEvery). Records of an API with
// do_not_track are dropped here too, for filters that predate the
// snapshot's Untracked.
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
	w.pmu.Lock()
	aggregate(w.pending, recs)
	w.pmu.Unlock()
	if w.opt.TykRecords {
		vals := make([]any, 0, len(recs))
		for i := range recs {
			rec := tykRecordFrom(&recs[i], settings[recs[i].APIID].expireAfter)
			b, err := encodeTyk(&rec)
			if err != nil {
				return err
			}
			vals = append(vals, b)
		}
		tctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
		defer cancel()
		if err := w.opt.Client.RPush(tctx, TykListKey, vals...).Err(); err != nil {
			return err
		}
	}
	if w.opt.FlushEvery == 0 {
		return w.Flush(ctx)
	}
	return nil
}

// Run flushes the aggregates every FlushEvery until ctx ends, then once
// more.
func (w *Writer) Run(ctx context.Context) {
	if w.opt.FlushEvery == 0 {
		return
	}
	t := time.NewTicker(w.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := w.Flush(context.Background()); err != nil {
				w.opt.Logger.Warn("usage aggregates lost at shutdown", "error", err)
			}
			return
		case <-t.C:
		}
		if err := w.Flush(ctx); err != nil {
			w.opt.Logger.Warn("usage aggregates lost", "error", err)
		}
	}
}

// Flush adds the gathered aggregates to Redis. On failure they are lost:
// retrying could count them twice (a pipeline can fail half-way).
func (w *Writer) Flush(ctx context.Context) error {
	w.pmu.Lock()
	pending := w.pending
	if len(pending) == 0 {
		w.pmu.Unlock()
		return nil
	}
	w.pending = map[aggKey]*agg{}
	w.pmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, w.opt.Timeout)
	defer cancel()
	err := w.pipeline(ctx, pending, false)
	if err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
		// Redis lost its script cache (a restart, SCRIPT FLUSH): send the
		// script itself, which loads it again. NOSCRIPT fails a call
		// before it runs, so nothing was counted.
		err = w.pipeline(ctx, pending, true)
	}
	return err
}

func (w *Writer) pipeline(ctx context.Context, pending map[aggKey]*agg, retry bool) error {
	pipe := w.opt.Client.Pipeline()
	for k, a := range pending {
		ttl := w.opt.MinuteRetention
		if k.res == Hour {
			ttl = w.opt.HourRetention
		}
		args := make([]any, 4, 4+2*len(Fields))
		sums := 0
		for i, f := range Fields { // the sums first, then the maxima
			if a.set&(1<<i) != 0 && !maxFields[f] {
				args = append(args, f, a.v[i])
				sums++
			}
		}
		for i, f := range Fields {
			if a.set&(1<<i) != 0 && maxFields[f] {
				args = append(args, f, a.v[i])
			}
		}
		args[0], args[1], args[2], args[3] = int64(ttl/time.Second), k.id, a.v[fRequests], sums
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
