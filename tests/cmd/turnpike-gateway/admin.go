package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"sync/atomic"

	"github.com/turnpike-dev/turnpike/tests/wasmhost"
)

// admin is the admin listener (--admin-listen), a small part of Envoy's admin interface:
//
//	/ready              200 "LIVE" while serving, 503 "DRAINING" once shutdown began (Envoy's
//	                    /ready answers the server state the same way)
//	/stats/prometheus   the filters' proxy-wasm metrics in Prometheus text format
//	/debug/pprof/...    with --pprof, Go's profiles of the gateway process (net/http/pprof), e.g.
//	                    /debug/pprof/profile?seconds=10; the guest's wasm code shows as one block,
//	                    runtime._ExternalCode (guest functions: wasmhost.Config.Profile)
type admin struct {
	hosts    []*wasmhost.Host
	pprof    bool
	draining atomic.Bool
}

func (a *admin) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		if a.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "DRAINING")
			return
		}
		fmt.Fprintln(w, "LIVE")
	})
	mux.HandleFunc("GET /stats/prometheus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=UTF-8")
		_, _ = w.Write(prometheusText(a.hosts))
	})
	if a.pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}
