package gatewayapi

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
)

// With --apps DIR the /tyk/apis write routes write, replace and delete
// {api-id}.json files in DIR, as Tyk does in its app_path, instead of
// Redis; the snapshot keeper reads the directory (snapshot/apps.go).

// CheckAPIDefinition checks an API definition document as POST /tyk/apis
// does: nil, or the 400 message. The keeper applies it to --apps files.
func CheckAPIDefinition(doc []byte) error {
	_, err := parseAPI(doc)
	return err
}

func (a *API) appsMode() bool { return a.d.Snapshots.AppsDir() != "" }

// writeAppFile writes the definition atomically (a temporary file renamed
// over the old one), so the keeper never reads half a document.
func (a *API) writeAppFile(w http.ResponseWriter, r *http.Request, id string, data []byte, action string) {
	path := a.d.Snapshots.AppFile(id)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.json")
	if err == nil {
		_, err = tmp.Write(append(data, '\n'))
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		a.d.Logger.Error("writing an API definition file failed", "file", path, "error", err)
		writeError(w, http.StatusInternalServerError, "Could not write API definition file: "+err.Error())
		return
	}
	a.d.Snapshots.ReloadApps()
	a.d.Logger.Info("api file written", "api_id", id, "file", path, "action", action)
	writeOK(w, id, action)
}

// deleteAppFile removes the definition's file; 404 when there is none.
func (a *API) deleteAppFile(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := a.d.Snapshots.Current().APIs[id]; !ok {
		writeError(w, http.StatusNotFound, msgAPINotFound)
		return
	}
	path := a.d.Snapshots.AppFile(id)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.d.Logger.Error("deleting an API definition file failed", "file", path, "error", err)
		writeError(w, http.StatusInternalServerError, msgDeleteFailed)
		return
	}
	a.d.Snapshots.ReloadApps()
	a.d.Logger.Info("api file deleted", "api_id", id, "file", path)
	writeOK(w, id, "deleted")
}
