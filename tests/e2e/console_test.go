package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	oa "github.com/turnpike-dev/turnpike/shared/oauth"
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
// the key and see the gateway refuse it; create an OAuth client (after a
// validation message), get a token with the secret shown once, delete the
// client and see the gateway refuse the token; use the session on the
// other sidecar replica and log out there.
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

	// An OAuth client: first on every OAuth API of policy gold, which grants
	// none (the Gateway API's message appears next to the API field), then
	// on the OAuth API; its secret, shown once, gets a token at the gateway.
	e.mustAPI(http.MethodPost, "/tyk/policies", oauthPolicy)
	e.mustAPI(http.MethodPost, "/tyk/apis", apiDef("oa", `,"use_oauth2":true,"oauth_meta":{"allowed_access_types":["client_credentials"]}`))
	e.within(5*time.Second, "/oa/", "", 400, "Authorization field missing") // an OAuth API's answer without a token
	b.open(console + "#/oauth/new")
	b.find(`select[name=policy_id] option[value=oauth-pol]`)
	b.eval(`document.querySelector("select[name=policy_id]").value = "gold"`)
	b.click(`form.doc-form button[type=submit]`)
	b.waitText(`[data-error-for=api_id]`, "API is not OAuth2")
	b.screenshot(filepath.Join(shots, "5-oauth-validation.png"))
	b.eval(`document.querySelector("select[name=api_id]").value = "oa"`)
	b.eval(`document.querySelector("select[name=policy_id]").value = "oauth-pol"`)
	b.fill(`input[name=redirect_uri]`, "https://app.example.com/cb")
	b.fill(`input[name=description]`, "browser-test client")
	b.click(`form.doc-form button[type=submit]`)
	clientSecret := b.text("#new-client-secret")
	clientID := b.text("#new-client-id")
	b.find("#copy-secret")
	b.screenshot(filepath.Join(shots, "6-oauth-client.png"))
	tok := e.token(string(oa.AppendBasic(nil, clientID, clientSecret)), "grant_type=client_credentials", 200)
	e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, 200, "")

	// Found by the list's search; its page never shows the secret again;
	// deleting it revokes its token.
	b.open(console + "#/oauth")
	b.waitText("#main h2", "OAuth clients")
	b.fill("#search", "browser-test")
	b.waitText("#main tbody", clientID)
	b.click("#main tbody tr")
	b.waitText("#client-info", "Live access tokens")
	if page := b.eval(`return document.getElementById("main").innerHTML + document.querySelector("textarea[name=json]").value`); strings.Contains(fmt.Sprint(page), clientSecret) {
		t.Fatal("the client's page shows its secret")
	}
	b.screenshot(filepath.Join(shots, "7-oauth-client-page.png"))
	b.eval(`window.confirm = () => true`)
	b.click("#delete-client")
	b.waitText("#main", "No OAuth clients yet")
	if r := e.api(http.MethodGet, "/tyk/oauth/clients/oa/"+clientID, ""); r.status != http.StatusNotFound {
		t.Fatalf("client after delete: %s", r)
	}
	e.within(propagation, "/oa/items", "Bearer "+tok.AccessToken, http.StatusForbidden, "")

	// The other replica knows the session (they share it through Redis; a
	// cookie is not bound to a port), as behind a load balancer; logging
	// out there ends it on this one too.
	other := e.sidecarURLs[0] + "/console/"
	b.open(other + "#/status")
	b.waitText("#redis", testenv.Topology()) // the mode of the Redis the suite runs on
	b.screenshot(filepath.Join(shots, "8-status.png"))
	b.click("#logout")
	b.find("#secret")
	b.open(console + "#/status")
	b.find("#secret")
	if r := b.eval(`return fetch("/console/api/status").then(r => r.status)`); r != float64(401) {
		t.Fatalf("status after logging out on the other replica: %v", r)
	}
}
