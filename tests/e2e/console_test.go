package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/turnpike-dev/turnpike/tests/testenv"
)

// screenshotDir is where the console test saves its screenshots:
// $TURNPIKE_TEST_OUTPUT/console, by default build/out/test-output/console.
func screenshotDir(t *testing.T) string {
	root := os.Getenv("TURNPIKE_TEST_OUTPUT")
	if root == "" {
		repo, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		root = filepath.Join(repo, "build", "out", "test-output")
	}
	dir := filepath.Join(root, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The console in a real headless browser: log in, create an API, a policy
// (after the Gateway API's validation message appears next to the field)
// and a key, send traffic through the gateway, see it on the chart, revoke
// the key and see the gateway refuse it.
func TestConsoleInBrowser(t *testing.T) {
	e := newEnv(t, options{plugin: `,"analytics":{"enabled":true}`})
	b := startBrowser(t)
	shots := screenshotDir(t)
	console := e.sidecarURLs[1] + "/console/"

	b.open(console)
	b.fill("#secret", secret)
	b.click("#login")
	b.find("#nav-apis")
	if v := b.eval(`return document.cookie + "|" + JSON.stringify(localStorage) + "|" + location.href`); strings.Contains(fmt.Sprint(v), secret) {
		t.Fatalf("the secret is visible to the page: %v", v)
	}

	// An API, through the form.
	b.open(console + "#/apis/new")
	b.fill(`input[name=api_id]`, "shop")
	b.fill(`input[name=name]`, "Shop")
	b.fill(`input[name=org_id]`, "org1")
	b.fill(`input[name=listen_path]`, "/shop/")
	b.fill(`input[name=target_url]`, e.upstream.URL) // the gateway routes the API there
	b.click(`form.doc-form button[type=submit]`)
	b.waitText("#main", "Shop")
	b.waitText("#main table", "/shop/")

	// A policy: first with a negative window, which the Gateway API refuses
	// with a message shown next to that field.
	b.open(console + "#/policies/new")
	b.fill(`input[name=id]`, "gold")
	b.fill(`input[name=name]`, "Gold")
	b.fill(`input[name=org_id]`, "org1")
	b.fill(`input[name=rate]`, "1000")
	b.fill(`input[name=per]`, "-1")
	b.eval(`for (const o of document.querySelector("select[name=apis]").options) o.selected = o.value === "shop";`)
	b.click(`form.doc-form button[type=submit]`)
	b.waitText(`[data-error-for=per]`, "must not be negative")
	b.screenshot(filepath.Join(shots, "1-validation.png"))
	b.fill(`input[name=per]`, "60")
	b.click(`form.doc-form button[type=submit]`)
	b.waitText("#main table", "gold")

	// A key with the policy, shown once.
	b.open(console + "#/keys/new")
	b.fill(`input[name=alias]`, "browser-test")
	b.fill(`input[name=org_id]`, "org1")
	b.eval(`for (const o of document.querySelector("select[name=apply_policies]").options) o.selected = o.value === "gold";`)
	b.click(`form.doc-form button[type=submit]`)
	key := b.text("#new-key-value")
	if !strings.HasPrefix(key, "tp_") {
		t.Fatalf("new key %q", key)
	}
	b.screenshot(filepath.Join(shots, "2-new-key.png"))

	// Traffic through the gateway, then the chart.
	e.within(propagation*5, "/shop/items", key, 200, "")
	for range 24 {
		e.expect("/shop/items", key, 200, "")
	}
	for range 4 {
		e.expect("/shop/items", "", 401, "Authorization field missing")
	}
	for range 3 {
		e.expect("/shop/items", "not-a-key-of-ours", 403, "Access to this API has been disallowed")
	}
	b.open(console + "#/usage")
	b.waitFor("allowed requests on the chart", func() error {
		n := b.eval(`return document.querySelectorAll('#usage-chart rect[data-series=allowed]').length`)
		if f, _ := n.(float64); f < 1 {
			return fmt.Errorf("%v bars", n)
		}
		return nil
	})
	b.waitText("#usage-top", "shop")
	b.screenshot(filepath.Join(shots, "3-usage.png"))

	// Revoke the key from its page; the gateway refuses it within a second.
	b.open(console + "#/keys")
	b.click("#main tbody tr")
	b.waitText("#quota", "Remaining")
	b.screenshot(filepath.Join(shots, "4-key.png"))
	b.eval(`window.confirm = () => true`)
	b.click("#revoke")
	b.waitText("#main", "No keys yet")
	e.within(propagation, "/shop/items", key, http.StatusForbidden, "Access to this API has been disallowed")

	b.open(console + "#/status")
	b.waitText("#redis", testenv.Topology()) // the mode of the Redis the suite runs on
	b.screenshot(filepath.Join(shots, "5-status.png"))
}
