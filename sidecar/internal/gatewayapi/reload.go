package gatewayapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/sidecar/internal/store"
)

// Blocking reloads wait for the filters: each filter's sync poll reports the
// config version its VM holds (tracked in Redis by the Filter API, see
// store.Filters), and ?block=true returns once every filter that polled
// within store.FilterTTL holds this replica's version, or when the wait
// times out.
const (
	defaultReloadWait = 5 * time.Second
	// maxReloadWait stays under the server's 30 s write timeout.
	maxReloadWait = 20 * time.Second
	reloadCheck   = 50 * time.Millisecond
)

// reloadStatus is Tyk's {"status","message"} with what a blocking reload
// waited for.
type reloadStatus struct {
	Status         string `json:"status"`
	Message        string `json:"message"`
	TimedOut       bool   `json:"timed_out"`
	Filters        int    `json:"filters"`         // filters that polled recently
	FiltersCurrent int    `json:"filters_current"` // of those, with the current config
	ConfigVersion  string `json:"config_version"`
	WaitedMS       int64  `json:"waited_ms"`
}

// GET /tyk/reload[?block=true[&timeout=5s]]: reload this replica now.
func (a *API) reload(w http.ResponseWriter, r *http.Request) {
	a.reloadAndWait(w, r, false)
}

// GET /tyk/reload/group[?block=true[&timeout=5s]]: every replica reloads at
// its next version poll, this one at once.
func (a *API) reloadGroup(w http.ResponseWriter, r *http.Request) {
	a.reloadAndWait(w, r, true)
}

func (a *API) reloadAndWait(w http.ResponseWriter, r *http.Request, group bool) {
	block, timeout, err := reloadParams(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if group {
		if err := a.d.Store.BumpConfigVersion(r.Context()); err != nil {
			a.storageError(w, r, err)
			return
		}
	}
	if err := a.d.Snapshots.Reload(r.Context()); err != nil {
		a.storageError(w, r, err)
		return
	}
	if !block {
		writeValue(w, http.StatusOK, statusMessage{Status: "ok"})
		return
	}
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		// The version is read on every check: a write meanwhile moves the
		// target, and a filter holding the newer config is current too.
		version := a.d.Snapshots.Current().Version
		filters, err := a.d.Store.Filters(r.Context(), store.FilterTTL)
		if err != nil {
			a.storageError(w, r, err)
			return
		}
		st := reloadStatus{Status: "ok", Filters: len(filters), ConfigVersion: version}
		for _, v := range filters {
			if v == version {
				st.FiltersCurrent++
			}
		}
		now := time.Now()
		if st.FiltersCurrent == st.Filters || !now.Before(deadline) {
			st.WaitedMS = now.Sub(start).Milliseconds()
			if st.FiltersCurrent < st.Filters {
				st.TimedOut = true
				st.Message = fmt.Sprintf("reloaded, but after %s %d of %d filters still hold an older configuration",
					timeout, st.Filters-st.FiltersCurrent, st.Filters)
			}
			writeValue(w, http.StatusOK, st)
			return
		}
		select {
		case <-r.Context().Done():
			return // the caller went away
		case <-time.After(min(reloadCheck, deadline.Sub(now))):
		}
	}
}

// reloadParams reads block (Tyk's flag: true blocks; like Tyk, any value
// other than a true one does not) and timeout: a number of seconds or a Go
// duration ("500ms"), default 5 s, at most 20 s.
func reloadParams(r *http.Request) (block bool, timeout time.Duration, err error) {
	q := r.URL.Query()
	block, _ = strconv.ParseBool(q.Get("block"))
	t := q.Get("timeout")
	if t == "" {
		return block, defaultReloadWait, nil
	}
	if secs, e := strconv.ParseFloat(t, 64); e == nil && !math.IsNaN(secs) {
		timeout = time.Duration(max(-1, min(secs, maxReloadWait.Seconds())) * float64(time.Second))
	} else if timeout, err = time.ParseDuration(t); err != nil {
		return false, 0, fmt.Errorf("timeout must be a number of seconds or a duration (500ms, 5s), got %q", t)
	}
	if timeout < 0 {
		return false, 0, fmt.Errorf("timeout must not be negative, got %q", t)
	}
	return block, min(timeout, maxReloadWait), nil
}
