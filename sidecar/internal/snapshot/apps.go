package snapshot

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// API definitions as files (--apps DIR, Tyk's app_path): every *.json file
// of the directory is one API definition, named {api-id}.json when the
// Gateway API writes it. The directory is checked every poll; a file is
// re-read when its identity, size or mtime changed. A file that cannot be
// read, parsed or checked keeps the definition it held before (if any) and
// is logged once per distinct problem: a half-written file must not take
// an API down.

// appFile is what was last loaded from one file.
type appFile struct {
	info os.FileInfo
	id   string
	api  *model.APIDefinition
	doc  []byte // compact JSON object, api_id set
	err  string // last problem logged for the file
}

// AppsDir is the API definitions directory; "" when APIs live in Redis.
func (k *Keeper) AppsDir() string { return k.opt.AppsDir }

// AppFile is the file the API definition with id was loaded from, or where
// it would be written: {dir}/{id}.json.
func (k *Keeper) AppFile(id string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	for path, f := range k.appFiles {
		if f.id == id && f.api != nil {
			return path
		}
	}
	return filepath.Join(k.opt.AppsDir, id+".json")
}

// ReloadApps re-reads the directory now (after a write through the Gateway
// API), so the writing request's replica serves the change at once.
func (k *Keeper) ReloadApps() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.checkApps() {
		k.publish()
	}
}

// checkApps re-reads changed files and rebuilds the API set; it reports
// whether the set changed. Called with mu held.
func (k *Keeper) checkApps() bool {
	entries, err := os.ReadDir(k.opt.AppsDir)
	if err != nil {
		if msg := err.Error(); msg != k.appsErr {
			k.appsErr = msg
			k.opt.Logger.Error("API definitions directory not readable; keeping the previous APIs",
				"dir", k.opt.AppsDir, "error", err)
			k.report("apps", err)
		}
		return false
	}
	k.appsErr = ""
	changed := false
	seen := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(k.opt.AppsDir, e.Name())
		seen[path] = true
		if k.loadAppFile(path) {
			changed = true
		}
	}
	for path := range k.appFiles {
		if !seen[path] {
			delete(k.appFiles, path)
			changed = true
		}
	}
	if !changed && k.apis != nil {
		return false
	}
	apis := map[string]*model.APIDefinition{}
	docs := map[string][]byte{}
	for _, path := range slices.Sorted(maps.Keys(k.appFiles)) {
		f := k.appFiles[path]
		if f.api == nil {
			continue
		}
		if _, dup := apis[f.id]; dup {
			k.opt.Logger.Error("API definition file repeats an api_id; ignoring it", "file", path, "api_id", f.id)
			continue
		}
		apis[f.id], docs[f.id] = f.api, f.doc
	}
	k.apis, k.apiDocs = apis, docs
	k.opt.Logger.Info("API definitions loaded", "dir", k.opt.AppsDir, "apis", len(apis))
	return true
}

// loadAppFile (re)reads one file if it changed; it reports whether the
// definition it holds changed.
func (k *Keeper) loadAppFile(path string) bool {
	fi, err := os.Stat(path)
	prev := k.appFiles[path]
	if err == nil && prev != nil && os.SameFile(fi, prev.info) && fi.Size() == prev.info.Size() &&
		fi.ModTime().Equal(prev.info.ModTime()) {
		return false
	}
	var api *model.APIDefinition
	var doc []byte
	if err == nil {
		api, doc, err = k.readApp(path)
	}
	if err != nil {
		f := prev
		if f == nil {
			f = &appFile{}
			k.appFiles[path] = f
		}
		f.info = fi // not re-parsed until it changes again
		if msg := err.Error(); msg != f.err {
			f.err = msg
			k.opt.Logger.Error("API definition file not loaded; keeping its previous definition", "file", path, "error", err)
			k.report("apps", err)
		}
		return false
	}
	id := api.APIID
	k.appFiles[path] = &appFile{info: fi, id: id, api: api, doc: doc}
	return prev == nil || prev.api == nil || prev.id != id || string(prev.doc) != string(doc)
}

// readApp reads and checks one definition; without an api_id the file name
// (less .json) is its id.
func (k *Keeper) readApp(path string) (*model.APIDefinition, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	if k.opt.CheckAPI != nil {
		if err := k.opt.CheckAPI(data); err != nil {
			return nil, nil, err
		}
	}
	api, err := model.DecodeAPIDefinition(data)
	if err != nil {
		return nil, nil, err
	}
	doc, ok := compactObject(data)
	if !ok {
		return nil, nil, errors.New("not a JSON object")
	}
	if api.APIID == "" {
		api.APIID = strings.TrimSuffix(filepath.Base(path), ".json")
		if doc, err = setAPIID(doc, api.APIID); err != nil {
			return nil, nil, err
		}
	}
	return api, doc, nil
}

// setAPIID adds "api_id" to a compact object that lacks it.
func setAPIID(doc []byte, id string) ([]byte, error) {
	if len(doc) < 2 || doc[0] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := append([]byte(`{"api_id":`), model.AppendString(nil, id)...)
	if len(doc) > 2 {
		out = append(out, ',')
	}
	return append(out, doc[1:]...), nil
}
