package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
)

// The demo configuration lives in files so the README can point at them
// and a reader can copy them; they are compiled in so the binary runs from
// anywhere.
var (
	//go:embed demo/api.json
	demoAPI []byte
	//go:embed demo/policy.json
	demoPolicy []byte
	//go:embed demo/key.json
	demoKey []byte
	//go:embed demo/plugin-config.json
	demoPluginConfig []byte
)

// demoPath is a path under the demo API's listen path.
const demoPath = "/demo/hello"

// scenario is one request the quickstart tells the user to try. The printed
// curl commands and the quickstart's own test are both generated from this
// table, so what the README promises is what the test checks.
type scenario struct {
	title  string
	key    string // Authorization header; "" sends none
	times  int    // the request is repeated; the last answer is the one shown
	status int    // what the last answer is on a fresh key
}

// scenarios returns the demo requests for the demo key. The 429 scenario
// repeats the request one more time than the policy's burst (rate 5), so on
// a fresh bucket the 6th answer is 429; its five 200s also show the
// X-RateLimit-* quota headers counting down.
func scenarios(key string) []scenario {
	return []scenario{
		{title: "a valid key: 200, forwarded to the echo upstream", key: key, times: 1, status: 200},
		{title: "no key: 401 Authorization field missing", times: 1, status: 401},
		{title: "an unknown key: 403 Access to this API has been disallowed", key: "not-a-real-key", times: 1, status: 403},
		{title: "over the rate (5 requests per 10 s): the 6th request gets 429 Rate Limit Exceeded", key: key, times: 6, status: 429},
	}
}

// curl renders a scenario as a shell command against the gateway at addr.
func (s scenario) curl(addr string) string {
	auth := ""
	if s.key != "" {
		auth = ` -H "Authorization: ` + s.key + `"` // double quotes: key may be $KEY
	}
	if s.times == 1 {
		return "curl -i" + auth + " http://" + addr + demoPath
	}
	return fmt.Sprintf("for i in $(seq %d); do curl -s -o /dev/null -w '%%{http_code}\\n'%s http://%s%s; done",
		s.times, auth, addr, demoPath)
}

// pluginConfig is the demo plugin configuration with the filter token the
// sidecar was started with.
func pluginConfig(token string) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(demoPluginConfig, &cfg); err != nil {
		return nil, fmt.Errorf("demo/plugin-config.json: %w", err)
	}
	sc, ok := cfg["sidecar"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("demo/plugin-config.json: no sidecar object")
	}
	sc["token"] = token
	return json.MarshalIndent(cfg, "", "  ")
}

// printGuide writes what the user needs: where things run, the secret, the
// demo key and the curl commands. The `export` lines come first so a script
// can eval them.
func printGuide(w io.Writer, gatewayAddr, apiAddr, upstreamAddr, secret string, secretGenerated bool, key string) {
	gw, api := displayAddr(gatewayAddr), displayAddr(apiAddr)
	var b strings.Builder
	fmt.Fprintf(&b, "\nTurnpike is running.\n\n")
	fmt.Fprintf(&b, "  gateway (filter.wasm)  http://%s   -> demo echo upstream http://%s\n", gw, displayAddr(upstreamAddr))
	fmt.Fprintf(&b, "  Gateway API            http://%s   (header X-Tyk-Authorization)\n", api)
	fmt.Fprintf(&b, "  web console            http://%s/console/   (log in with TURNPIKE_SECRET)\n", api)
	fmt.Fprintf(&b, "  demo API %q at /demo/, policy %q: 5 requests per 10 s, quota 100 per hour\n\n", "demo", "demo")
	if secretGenerated {
		fmt.Fprintf(&b, "TURNPIKE_SECRET was not set; generated one for this run.\n")
	}
	fmt.Fprintf(&b, "export TURNPIKE_SECRET=%s\n", secret)
	fmt.Fprintf(&b, "export KEY=%s\n\n", key)
	for _, s := range scenarios("$KEY") {
		fmt.Fprintf(&b, "# %s\n%s\n", s.title, s.curl(gw))
	}
	fmt.Fprintf(&b, "# create another key with the demo policy through the Gateway API\n")
	fmt.Fprintf(&b, "curl -s -H \"X-Tyk-Authorization: $TURNPIKE_SECRET\" http://%s/tyk/keys -d '%s'\n\n",
		api, strings.TrimSpace(string(demoKey)))
	fmt.Fprintf(&b, "Press Ctrl-C to stop.\n")
	_, _ = io.WriteString(w, b.String())
}

// displayAddr turns a listen address into one to type: 127.0.0.1 and an
// empty host become localhost.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "127.0.0.1" || host == "0.0.0.0" || host == "::" || host == "::1" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
