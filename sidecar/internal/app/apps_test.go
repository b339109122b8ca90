package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/config"
)

// eventually retries check until it passes or 2 s have gone by.
func eventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !check(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 2s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// With --apps, API definitions are {api-id}.json files: loaded at start,
// re-read on change, written and deleted by the /tyk/apis routes; a file
// that does not parse or is refused keeps its previous definition.
func TestAppsDirectory(t *testing.T) {
	backends(t, func(t *testing.T, url string) {
		dir := t.TempDir()
		write := func(name, doc string) {
			t.Helper()
			// A new mtime even within the file system's timestamp granularity.
			tmp := filepath.Join(dir, ".w")
			if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		write("a1.json", `{"api_id":"a1","name":"One","proxy":{"listen_path":"/one/"},"use_keyless":true}`)
		write("noid.json", `{"name":"No id","proxy":{"listen_path":"/noid/"},"use_keyless":true}`)
		write("notes.txt", `not an API`)
		s := start(t, url, func(c *config.Config) { c.AppsDir = dir })
		body := func(path string) string { return string(s.tyk("GET", path, "").body) }

		expect(t, "loaded at start", s.tyk("GET", "/tyk/apis/a1", ""), 200, `"name":"One"`)
		expect(t, "id from the file name", s.tyk("GET", "/tyk/apis/noid", ""), 200, `{"api_id":"noid","name":"No id"`)

		expect(t, "create", s.tyk("POST", "/tyk/apis", `{"api_id":"a2","name":"Two","proxy":{"listen_path":"/two/"},"use_keyless":true}`),
			200, `{"key":"a2","status":"ok","action":"added"}`)
		if b, err := os.ReadFile(filepath.Join(dir, "a2.json")); err != nil || !strings.Contains(string(b), `"name":"Two"`) {
			t.Fatalf("a2.json: %v %s", err, b)
		}
		expect(t, "served at once", s.tyk("GET", "/tyk/apis/a2", ""), 200, `"name":"Two"`)
		expect(t, "in the filters' snapshot", s.filter("GET", "/turnpike/v1/sync?cursor=&version=", ""), 200, `"api_id":"a2"`)
		expect(t, "replace", s.tyk("PUT", "/tyk/apis/a2", `{"name":"Two bis","proxy":{"listen_path":"/two/"},"use_keyless":true}`),
			200, `"action":"modified"`)
		if b, _ := os.ReadFile(filepath.Join(dir, "a2.json")); !strings.Contains(string(b), `"Two bis"`) {
			t.Fatalf("a2.json not replaced: %s", b)
		}
		expect(t, "refused body", s.tyk("PUT", "/tyk/apis/a2", `{"use_go_plugin_auth":true}`), 400, "use_go_plugin_auth")
		expect(t, "update unknown", s.tyk("PUT", "/tyk/apis/zz", `{"name":"x"}`), 404, "API not found")
		expect(t, "delete", s.tyk("DELETE", "/tyk/apis/a2", ""), 200, `"action":"deleted"`)
		if _, err := os.Stat(filepath.Join(dir, "a2.json")); !os.IsNotExist(err) {
			t.Fatalf("a2.json still there: %v", err)
		}
		expect(t, "deleted", s.tyk("GET", "/tyk/apis/a2", ""), 404, "API not found")
		expect(t, "delete unknown", s.tyk("DELETE", "/tyk/apis/a2", ""), 404, "API not found")

		// Edited by hand (or by git): re-read within a poll.
		write("a1.json", `{"api_id":"a1","name":"One edited","proxy":{"listen_path":"/one/"},"use_keyless":true}`)
		eventually(t, "edit picked up", func() bool { return strings.Contains(body("/tyk/apis/a1"), "One edited") })
		// Broken, then refused: the previous definition stays.
		write("a1.json", `{"api_id":"a1",`)
		write("a3.json", `{"api_id":"a3","proxy":{"listen_path":"/three/"},"use_keyless":true}`)
		eventually(t, "a later file loaded", func() bool { return s.tyk("GET", "/tyk/apis/a3", "").code == 200 })
		expect(t, "broken file keeps the definition", s.tyk("GET", "/tyk/apis/a1", ""), 200, "One edited")
		write("a1.json", `{"api_id":"a1","proxy":{"listen_path":"/one/"},"use_go_plugin_auth":true}`)
		write("a4.json", `{"api_id":"a4","proxy":{"listen_path":"/four/"},"use_keyless":true}`)
		eventually(t, "a later file loaded", func() bool { return s.tyk("GET", "/tyk/apis/a4", "").code == 200 })
		expect(t, "refused file keeps the definition", s.tyk("GET", "/tyk/apis/a1", ""), 200, "One edited")
		// Removed by hand.
		if err := os.Remove(filepath.Join(dir, "a1.json")); err != nil {
			t.Fatal(err)
		}
		eventually(t, "removal picked up", func() bool { return s.tyk("GET", "/tyk/apis/a1", "").code == 404 })
	})
}

func TestAppsDirectoryMissing(t *testing.T) {
	cfg := config.Config{Listen: "unused", Secret: secret, FilterToken: token, MaxBodyBytes: 1 << 20,
		ShutdownTimeout: time.Second, RedisTimeout: time.Second, AppsDir: filepath.Join(t.TempDir(), "none")}
	if a, err := New(cfg, slog.New(slog.DiscardHandler)); err == nil {
		a.Close()
		t.Fatal("a missing --apps directory must stop the sidecar at start")
	}
}
