package fault

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// balancer stands for the proxy's cluster of sidecar replicas. The filter
// names one cluster (sidecar.cluster); the proxy spreads its calls over the
// cluster's endpoints. turnpike-gateway maps a cluster to one URL, so the
// suite puts this in between, configured as envoy/envoy.yaml configures
// the turnpike_sidecar cluster, with its intervals scaled down: round robin
// over the endpoints that pass an active health check of GET /ready, a
// short connect timeout, no retries; when no endpoint is healthy, every
// endpoint gets traffic (Envoy's panic routing). A call to a dead endpoint
// fails with 503, which the filter treats as "sidecar down".
type balancer struct {
	srv      *httptest.Server
	backends []*backend
	next     atomic.Uint64
	stop     chan struct{}
	done     chan struct{}
}

type backend struct {
	url     string
	proxy   *httputil.ReverseProxy
	healthy atomic.Bool
	fails   int // consecutive failed health checks (checker goroutine only)
}

const (
	healthInterval     = 200 * time.Millisecond // envoy.yaml: 5 s
	healthTimeout      = 500 * time.Millisecond // envoy.yaml: 1 s
	unhealthyThreshold = 2                      // as envoy.yaml
	connectTimeout     = 250 * time.Millisecond // as envoy.yaml
)

func startBalancer(t testing.TB, urls []string) *balancer {
	b := &balancer{stop: make(chan struct{}), done: make(chan struct{})}
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		be := &backend{url: raw, proxy: httputil.NewSingleHostReverseProxy(u)}
		be.proxy.Transport = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: connectTimeout}).DialContext,
			MaxIdleConnsPerHost: 64,
			// Idle pooled connections close soon, so the sidecars' goroutine
			// and fd counts settle after a burst and a leak stands out.
			IdleConnTimeout: time.Second,
		}
		be.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) {
			w.WriteHeader(http.StatusServiceUnavailable) // Envoy: "upstream connect error"
			_, _ = w.Write([]byte("upstream connect error or disconnect/reset before headers"))
		}
		be.healthy.Store(true)
		b.backends = append(b.backends, be)
	}
	b.srv = httptest.NewServer(b)
	go b.check()
	t.Cleanup(b.close)
	return b
}

func (b *balancer) URL() string { return b.srv.URL }

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := uint64(len(b.backends))
	start := b.next.Add(1)
	for i := range n {
		if be := b.backends[(start+i)%n]; be.healthy.Load() {
			be.proxy.ServeHTTP(w, r)
			return
		}
	}
	b.backends[start%n].proxy.ServeHTTP(w, r) // panic routing: none healthy
}

// check runs the active health checks until close.
func (b *balancer) check() {
	defer close(b.done)
	client := &http.Client{Timeout: healthTimeout}
	tick := time.NewTicker(healthInterval)
	defer tick.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
		for _, be := range b.backends {
			ok := probe(client, be.url+"/ready")
			switch {
			case ok:
				be.fails = 0
				be.healthy.Store(true)
			case be.fails+1 >= unhealthyThreshold:
				be.fails++
				be.healthy.Store(false)
			default:
				be.fails++
			}
		}
	}
}

func probe(c *http.Client, u string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (b *balancer) close() {
	select {
	case <-b.stop:
		return
	default:
	}
	close(b.stop)
	<-b.done
	b.srv.CloseClientConnections()
	b.srv.Close()
}
