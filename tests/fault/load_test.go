package fault

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// msgQuota is the filter's answer to a request over its quota.
const msgQuota = "Quota exceeded"

// sample is one request of a load run.
type sample struct {
	stream     string
	start, end time.Time
	class      string // see classify
}

// classify names an answer: "200", "503+Retry-After", "403 quota",
// "403 <body>", "503 without Retry-After", "error: …".
func classify(r reply, err error) string {
	switch {
	case err != nil:
		return "error: " + err.Error()
	case r.status == 200:
		return "200"
	case r.status == 503 && r.header.Get("Retry-After") != "":
		return "503+Retry-After"
	case r.status == 503:
		return "503 without Retry-After: " + r.body
	case r.status == 403 && strings.Contains(r.body, msgQuota):
		return "403 quota"
	default:
		return r.String()
	}
}

// stream is a group of clients sending the same kind of request.
type stream struct {
	name    string
	workers int
	pace    time.Duration // pause between a worker's requests
	// key gives the key of the next request; done is told its answer.
	key  func() string
	done func(key, class string)
	// send sends the request; nil = GET /api1/x through the gateway.
	send func(key string) (reply, error)
}

// recorder runs streams through a stack's gateway and keeps every sample.
type recorder struct {
	mu      sync.Mutex
	samples []sample
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startLoad runs streams until stop.
func (s *stack) startLoad(streams ...stream) *recorder {
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{cancel: cancel}
	for _, st := range streams {
		for range st.workers {
			rec.wg.Add(1)
			go func() {
				defer rec.wg.Done()
				for ctx.Err() == nil {
					key := st.key()
					start := time.Now()
					var r reply
					var err error
					if st.send != nil {
						r, err = st.send(key)
					} else {
						r, err = s.get("/api1/x", key)
					}
					class := classify(r, err)
					rec.mu.Lock()
					rec.samples = append(rec.samples, sample{stream: st.name, start: start, end: time.Now(), class: class})
					rec.mu.Unlock()
					if st.done != nil {
						st.done(key, class)
					}
					select {
					case <-ctx.Done():
					case <-time.After(st.pace):
					}
				}
			}()
		}
	}
	return rec
}

// stop ends the run and waits for requests in flight.
func (r *recorder) stop() {
	r.cancel()
	r.wg.Wait()
}

// window is the samples that started in [from, to).
func (r *recorder) window(from, to time.Time) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sample
	for _, s := range r.samples {
		if !s.start.Before(from) && s.start.Before(to) {
			out = append(out, s)
		}
	}
	return out
}

// summary is what a test prints and asserts about a set of samples.
type summary struct {
	sent    int
	classes map[string]int
	maxWait time.Duration
	p99     time.Duration
}

func summarize(samples []sample) summary {
	s := summary{sent: len(samples), classes: map[string]int{}}
	waits := make([]time.Duration, 0, len(samples))
	for _, x := range samples {
		s.classes[x.class]++
		waits = append(waits, x.end.Sub(x.start))
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		s.maxWait = waits[len(waits)-1]
		s.p99 = waits[len(waits)*99/100]
	}
	return s
}

func (s summary) String() string {
	names := make([]string, 0, len(s.classes))
	for n := range s.classes {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s: %d", n, s.classes[n])
	}
	return fmt.Sprintf("sent %d (%s), p99 wait %v, max wait %v", s.sent, strings.Join(parts, ", "),
		s.p99.Round(time.Millisecond), s.maxWait.Round(time.Millisecond))
}

// byStream splits samples by stream name.
func byStream(samples []sample) map[string][]sample {
	out := map[string][]sample{}
	for _, x := range samples {
		out[x.stream] = append(out[x.stream], x)
	}
	return out
}

// report prints the summary of each stream in [from, to) under a title and
// returns them.
func (r *recorder) report(t *testing.T, title string, from, to time.Time) map[string]summary {
	t.Helper()
	out := map[string]summary{}
	streams := byStream(r.window(from, to))
	names := make([]string, 0, len(streams))
	for n := range streams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out[n] = summarize(streams[n])
		t.Logf("%-28s %-6s %v", title, n, out[n])
	}
	return out
}

// recovery is how long after from the last failed answer (not 200, not a
// quota 403) to a request started in [from, to) arrived: the time the
// system took to serve everything again after a fault ended at from. 0 if
// none failed.
func (r *recorder) recovery(from, to time.Time) time.Duration {
	var last time.Duration
	for _, x := range r.window(from, to) {
		if x.class != "200" && x.class != "403 quota" {
			last = max(last, x.end.Sub(from))
		}
	}
	return last
}

// forever is a window end after every sample.
func forever() time.Time { return time.Now().Add(time.Hour) }

// checkBounds fails the test for any sample that waited longer than limit
// and for any answer not in allowed.
func checkBounds(t *testing.T, what string, samples []sample, limit time.Duration, allowed ...string) {
	t.Helper()
	bad := map[string]int{}
	slow := 0
	var worst time.Duration
	for _, x := range samples {
		if d := x.end.Sub(x.start); d > limit {
			slow++
			worst = max(worst, d)
		}
		if !slices.Contains(allowed, x.class) {
			bad[x.class]++
		}
	}
	if slow > 0 {
		t.Errorf("%s: %d requests waited longer than %v (longest %v)", what, slow, limit, worst)
	}
	if len(bad) > 0 {
		t.Errorf("%s: answers other than %v: %v", what, allowed, bad)
	}
}

// keyPool hands out keys never sent through the gateway, so each request
// needs a session lookup (and so Redis). A key that got 200 is cached from
// then on and leaves the pool; one refused (503) goes back.
type keyPool struct {
	mu   sync.Mutex
	keys []string
	used int
}

func (p *keyPool) next() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.keys) == 0 {
		return "pool-exhausted" // an unknown key: 403, which the checks report
	}
	k := p.keys[0]
	p.keys = p.keys[1:]
	return k
}

func (p *keyPool) done(key, class string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if class == "200" {
		p.used++
		return
	}
	p.keys = append(p.keys, key)
}
