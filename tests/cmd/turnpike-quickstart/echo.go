package main

import (
	"encoding/json"
	"io"
	"net/http"
)

// maxEchoBody bounds how much of a request body the echo upstream reads.
const maxEchoBody = 64 << 10

// echoReply is what the demo upstream answers: the request as it arrived,
// so the user sees what the filter forwarded (for example that the
// Authorization header was stripped).
type echoReply struct {
	Upstream string              `json:"upstream"`
	Method   string              `json:"method"`
	Path     string              `json:"path"`
	Query    string              `json:"query,omitempty"`
	Headers  map[string][]string `json:"headers"`
	Body     string              `json:"body,omitempty"`
}

// echoHandler is the built-in demo upstream.
func echoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxEchoBody))
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(echoReply{
			Upstream: "turnpike-quickstart echo",
			Method:   r.Method,
			Path:     r.URL.Path,
			Query:    r.URL.RawQuery,
			Headers:  r.Header, // encoding/json sorts the names
			Body:     string(body),
		})
	})
}
