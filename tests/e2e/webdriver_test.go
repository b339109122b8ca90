package e2e

import (
	"github.com/turnpike-dev/turnpike/tests/internal/proc"

	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// A W3C WebDriver client, just what the console test needs, talking to
// Debian's chromedriver driving Debian's headless chromium. Hand-written:
// the protocol is a dozen JSON-over-HTTP calls, and a client library would
// bring more code than it saves.

const (
	chromiumBin     = "/usr/bin/chromium"
	chromedriverBin = "/usr/bin/chromedriver"
)

type browser struct {
	t       *testing.T
	base    string // http://127.0.0.1:port/session/id
	client  *http.Client
	timeout time.Duration
}

// elementKey is the W3C element reference's key.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// startBrowser starts chromedriver and a headless chromium session, or
// skips the test when they are not installed (.ci/run installs them).
func startBrowser(t *testing.T) *browser {
	t.Helper()
	for _, bin := range []string{chromiumBin, chromedriverBin} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s not found: the browser test needs Debian's chromium and chromium-driver "+
				"(apt-get install chromium chromium-driver; .ci/run installs them)", bin)
		}
	}
	port := testenv.FreePort(t)
	drv := proc.New(t, "chromedriver", chromedriverBin, "--port="+strconv.Itoa(port))
	drv.Start()
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	b := &browser{t: t, client: &http.Client{Timeout: 60 * time.Second}, timeout: 15 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := b.client.Get(url + "/status")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The flags keep chromium off the network (this machine has none) and
	// independent of any profile.
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromiumBin, "args": []string{
			"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
			"--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
			"--disable-sync", "--user-data-dir=" + t.TempDir()}},
	}}}
	var sess struct{ SessionID string }
	b.base = url
	b.do("POST", "/session", caps, &sess)
	if sess.SessionID == "" {
		t.Fatal("no WebDriver session")
	}
	b.base = url + "/session/" + sess.SessionID
	t.Cleanup(func() { b.try("DELETE", "", nil, nil) })
	return b
}

// try sends one WebDriver command and decodes its value into out.
func (b *browser) try(method, path string, body, out any) error {
	var rd *bytes.Reader
	if body == nil {
		body = map[string]any{}
	}
	buf, _ := json.Marshal(body)
	rd = bytes.NewReader(buf)
	if method == "GET" || method == "DELETE" {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct{ Value json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, env.Value)
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func (b *browser) do(method, path string, body, out any) {
	b.t.Helper()
	if err := b.try(method, path, body, out); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(url string) {
	b.t.Helper()
	b.do("POST", "/url", map[string]string{"url": url}, nil)
}

// find waits for the first element matching a CSS selector.
func (b *browser) find(css string) string {
	b.t.Helper()
	var id string
	b.waitFor("element "+css, func() error {
		var v map[string]string
		if err := b.try("POST", "/element", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
			return err
		}
		id = v[elementKey]
		return nil
	})
	return id
}

func (b *browser) click(css string) {
	b.t.Helper()
	id := b.find(css)
	b.do("POST", "/element/"+id+"/click", nil, nil)
}

// fill replaces an input's value.
func (b *browser) fill(css, text string) {
	b.t.Helper()
	id := b.find(css)
	b.do("POST", "/element/"+id+"/clear", nil, nil)
	b.do("POST", "/element/"+id+"/value", map[string]string{"text": text}, nil)
}

func (b *browser) text(css string) string {
	b.t.Helper()
	var s string
	b.do("GET", "/element/"+b.find(css)+"/text", nil, &s)
	return s
}

// eval runs JavaScript in the page and returns its result.
func (b *browser) eval(script string, args ...any) any {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	var v any
	b.do("POST", "/execute/sync", map[string]any{"script": script, "args": args}, &v)
	return v
}

// waitFor retries cond until it returns nil or the browser timeout passes.
func (b *browser) waitFor(what string, cond func() error) {
	b.t.Helper()
	deadline := time.Now().Add(b.timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the element's text contains want.
func (b *browser) waitText(css, want string) {
	b.t.Helper()
	b.waitFor(fmt.Sprintf("%q in %s", want, css), func() error {
		var v map[string]string
		if err := b.try("POST", "/element", map[string]string{"using": "css selector", "value": css}, &v); err != nil {
			return err
		}
		var s string
		if err := b.try("GET", "/element/"+v[elementKey]+"/text", nil, &s); err != nil {
			return err
		}
		if !bytes.Contains([]byte(s), []byte(want)) {
			return fmt.Errorf("text is %q", s)
		}
		return nil
	})
}

// screenshot saves the viewport as a PNG file.
func (b *browser) screenshot(path string) {
	b.t.Helper()
	var s string
	b.do("GET", "/screenshot", nil, &s)
	png, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
