package analytics

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/turnpike-dev/turnpike/shared/keys"
)

// The usage API, authenticated with the Gateway API secret
// (X-Tyk-Authorization) like /tyk/: an operator's API, beside the filters'
// /turnpike/v1/ routes but not under their token.
const (
	PathUsage    = "/turnpike/v1/usage"
	PathUsageTop = "/turnpike/v1/usage/top"
)

// UsageAPI serves PathUsage and PathUsageTop.
type UsageAPI struct {
	Reader *Reader
	Secret string
	Now    func() time.Time
}

// Register adds the usage routes to mux. They are more specific than the
// Filter API's /turnpike/v1/ prefix, so they take precedence over it.
func (u *UsageAPI) Register(mux *http.ServeMux) {
	mux.Handle(PathUsage, u.auth(http.HandlerFunc(u.series)))
	mux.Handle(PathUsageTop, u.auth(http.HandlerFunc(u.top)))
}

func (u *UsageAPI) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !keys.Equal(r.Header.Get("X-Tyk-Authorization"), u.Secret) {
			writeJSON(w, http.StatusForbidden, map[string]string{"status": "error", "message": "Attempted administrative access with invalid or missing key!"})
			return
		}
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"status": "error", "message": "Method not supported"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// query reads the common parameters: res (minute or hour; default minute
// for ranges up to six hours), from and to (unix seconds or RFC 3339;
// default the last hour), by (a dimension; default all).
func (u *UsageAPI) query(r *http.Request) (Range, string, string) {
	q := r.URL.Query()
	now := u.Now()
	to, err := parseTime(q.Get("to"), now)
	if err != nil {
		return Range{}, "", "to: " + err.Error()
	}
	from, err := parseTime(q.Get("from"), to.Add(-time.Hour))
	if err != nil {
		return Range{}, "", "from: " + err.Error()
	}
	res := Minute
	switch q.Get("res") {
	case "minute", "m":
	case "hour", "h":
		res = Hour
	case "":
		if to.Sub(from) > 6*time.Hour {
			res = Hour
		}
	default:
		return Range{}, "", "res must be minute or hour"
	}
	by := q.Get("by")
	if by == "" {
		by = "all"
	}
	if !slices.Contains(Dimensions, by) {
		return Range{}, "", "by must be one of all, api, key, org, policy"
	}
	return Range{Res: res, From: from.Unix(), To: to.Unix()}, by, ""
}

func parseTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Parse(time.RFC3339, s)
}

// GET /turnpike/v1/usage?by=api&id=api1&from=…&to=…&res=minute: one
// series, a point per bucket.
func (u *UsageAPI) series(w http.ResponseWriter, r *http.Request) {
	rng, by, msg := u.query(r)
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "message": msg})
		return
	}
	id := r.URL.Query().Get("id")
	if by == "all" {
		id = ""
	}
	pts, err := u.Reader.Series(r.Context(), rng, by, id)
	if err != nil {
		u.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"res": resName(rng.Res), "from": rng.From, "to": rng.To,
		"by": by, "id": id, "series": pts})
}

// GET /turnpike/v1/usage/top?by=key&sort=429&n=10&from=…&to=…: the values
// of a dimension with the most of one counter over the range.
func (u *UsageAPI) top(w http.ResponseWriter, r *http.Request) {
	rng, by, msg := u.query(r)
	q := r.URL.Query()
	sort := q.Get("sort")
	if sort == "" {
		sort = "requests"
	}
	n, err := strconv.Atoi(q.Get("n"))
	if q.Get("n") == "" {
		n, err = 10, nil
	}
	switch {
	case msg != "":
	case by == "all":
		msg = "by must be one of api, key, org, policy"
	case !slices.Contains(Fields, sort):
		msg = "sort must be a counter: requests, allowed, quota, 401, 403, 429, 5xx, ..."
	case err != nil || n < 1 || n > 1000:
		msg = "n must be between 1 and 1000"
	}
	if msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "error", "message": msg})
		return
	}
	top, err := u.Reader.Top(r.Context(), rng, by, sort, n)
	if err != nil {
		u.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"res": resName(rng.Res), "from": rng.From, "to": rng.To,
		"by": by, "sort": sort, "top": top})
}

func (u *UsageAPI) fail(w http.ResponseWriter, err error) {
	code := http.StatusServiceUnavailable
	var re RangeError
	if errors.As(err, &re) {
		code = http.StatusBadRequest
	}
	writeJSON(w, code, map[string]string{"status": "error", "message": err.Error()})
}

func resName(res string) string {
	if res == Hour {
		return "hour"
	}
	return "minute"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
