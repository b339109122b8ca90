package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// gatewayAPI calls the sidecar's Gateway API with plain HTTP, the way a
// user's script would.
type gatewayAPI struct {
	base   string // http://host:port
	secret string
	client *http.Client
}

// call sends body to path and returns the response body; a non-200 answer
// is an error carrying Turnpike's message.
func (g *gatewayAPI) call(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Tyk-Authorization", g.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(out))
	}
	return out, nil
}

// seed stores the demo API and policy (POST overwrites, so a rerun against
// a persistent Redis is fine) and creates a fresh demo key.
func (g *gatewayAPI) seed(ctx context.Context) (key string, err error) {
	if _, err := g.call(ctx, http.MethodPost, "/tyk/apis", demoAPI); err != nil {
		return "", fmt.Errorf("create the demo API: %w", err)
	}
	if _, err := g.call(ctx, http.MethodPost, "/tyk/policies", demoPolicy); err != nil {
		return "", fmt.Errorf("create the demo policy: %w", err)
	}
	out, err := g.call(ctx, http.MethodPost, "/tyk/keys", demoKey)
	if err != nil {
		return "", fmt.Errorf("create the demo key: %w", err)
	}
	var created struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal(out, &created); err != nil || created.Key == "" {
		return "", fmt.Errorf("create the demo key: unexpected answer %s", out)
	}
	return created.Key, nil
}

// waitFor polls probe every interval until it returns nil, ctx ends or
// limit passes, and returns the last probe error on failure.
func waitFor(ctx context.Context, limit time.Duration, what string, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready within %v: %w", what, limit, err)
		case <-tick.C:
		}
	}
}

// statusProbe returns a probe that succeeds when GET url answers want.
func statusProbe(client *http.Client, url string, want int) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			return fmt.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
		}
		return nil
	}
}
