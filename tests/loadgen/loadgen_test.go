package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 500 * time.Microsecond},
		{0.9, 900 * time.Microsecond},
		{0.99, 990 * time.Microsecond},
		{1, 1000 * time.Microsecond},
		{0.0001, time.Microsecond},
	} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.01 || diff > 0.01 {
			t.Errorf("Quantile(%v) = %v, want %v within 1%%", tc.q, got, tc.want)
		}
	}
	if h.Count() != 1000 || h.Max() != time.Millisecond {
		t.Errorf("count %d max %v", h.Count(), h.Max())
	}
	if m := h.Mean(); m != 500500*time.Nanosecond {
		t.Errorf("mean %v", m)
	}
}

func TestHistogramBucketsCoverTheRange(t *testing.T) {
	// Every value maps into the array and its bucket's middle is within 1/128 of it.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 123456789, 1 << 40, 1<<63 - 1} {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		mid := bucketMid(i)
		if d := float64(mid) - float64(v); v > 0 && (d/float64(v) > 1.0/128 || d/float64(v) < -1.0/128) {
			t.Errorf("value %d: bucket %d middle %d", v, i, mid)
		}
	}
}

func TestHistogramMergeAndEmpty(t *testing.T) {
	var a, b, empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram reports values")
	}
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second) // clamped to 0
	a.Merge(&b)
	a.Merge(&empty)
	if a.Count() != 3 || a.Max() != 3*time.Millisecond || a.Quantile(0.01) != 0 {
		t.Fatalf("merged: count %d max %v min-quantile %v", a.Count(), a.Max(), a.Quantile(0.01))
	}
}

func TestRunCountsStatusesAcrossTemplates(t *testing.T) {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte("fine"))
		case "/chunked": // no Content-Length: net/http streams it chunked after a flush
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(strings.Repeat("x", 10000)))
		case "/post":
			if r.Method == "POST" && r.Header.Get("X-Test") == "1" && r.ContentLength == 5 {
				posts.Add(1)
			}
			w.WriteHeader(201)
		case "/close":
			w.Header().Set("Connection", "close")
			w.WriteHeader(429)
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		Addr: strings.TrimPrefix(srv.URL, "http://"),
		Requests: []Request{
			{Path: "/ok"}, {Path: "/chunked"},
			{Method: "POST", Path: "/post", Header: [][2]string{{"X-Test", "1"}}, Body: []byte("hello")},
			{Path: "/close"}, {Path: "/missing"},
		},
		Connections: 5,
		Warmup:      50 * time.Millisecond,
		Duration:    300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d errors, first %v", res.Errors, res.FirstError)
	}
	for _, code := range []int{200, 201, 404, 429} {
		if res.Status[code] == 0 {
			t.Errorf("no %d responses: %v", code, res.Status)
		}
	}
	var sum int64
	for _, n := range res.Status {
		sum += n
	}
	if sum != res.Requests || uint64(res.Requests) != res.Latency.Count() {
		t.Errorf("requests %d, statuses %d, latencies %d", res.Requests, sum, res.Latency.Count())
	}
	if posts.Load() == 0 {
		t.Error("POST requests arrived without their header or body")
	}
	if res.Elapsed != 300*time.Millisecond || res.RPS() <= 0 {
		t.Errorf("elapsed %v rps %v", res.Elapsed, res.RPS())
	}
}

func TestRunReportsConnectErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there now
	res, err := Run(context.Background(), Options{Addr: addr, Requests: []Request{{Path: "/"}}, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.FirstError == nil || res.Requests != 0 {
		t.Fatalf("errors %d (%v), requests %d", res.Errors, res.FirstError, res.Requests)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Requests: []Request{{Path: "/"}}, Duration: time.Second},
		{Addr: "127.0.0.1:1", Duration: time.Second},
		{Addr: "127.0.0.1:1", Requests: []Request{{Path: "/"}}},
		{Addr: "127.0.0.1:1", Requests: []Request{{Path: "no-slash"}}, Duration: time.Second},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) accepted", o)
		}
	}
}

func TestReadResponseRejectsMalformed(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\n\r\n", // no length
		"SPDY 200\r\n\r\n",
		"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
	} {
		if _, _, err := readResponse(bufio.NewReader(strings.NewReader(raw))); err == nil {
			t.Errorf("accepted %q", raw)
		}
	}
	status, keep, err := readResponse(bufio.NewReader(strings.NewReader(
		"HTTP/1.0 204 No Content\r\n\r\n")))
	if err != nil || status != 204 || keep {
		t.Errorf("HTTP/1.0 204: %d %v %v", status, keep, err)
	}
}

// Example shows a ten-connection, one-second run against a local server.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		Addr:        strings.TrimPrefix(srv.URL, "http://"),
		Requests:    []Request{{Path: "/", Header: [][2]string{{"Authorization", "my-key"}}}},
		Connections: 10,
		Duration:    100 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	// Throughput, tail latency and outcomes:
	fmt.Println(res.Errors == 0, res.Status[200] == res.Requests, res.RPS() > 0, res.Latency.Quantile(0.99) > 0)
	// Output: true true true true
}
