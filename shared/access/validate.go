package access

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// PatternError is an allowed_urls url or endpoints path that does not
// compile.
type PatternError struct {
	APIID   string // access_rights key
	Field   string // "allowed_urls" or "endpoints"
	Pattern string // as written
	Err     error  // from regexp.Compile
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("access_rights[%q].%s: invalid pattern %q: %v", e.APIID, e.Field, e.Pattern, e.Err)
}

func (e *PatternError) Unwrap() error { return e.Err }

// ValidateAccessRights checks that every allowed_urls url and endpoints
// path compiles once prepared (PreparePattern). The sidecar calls it when a
// key or policy is written, the filter when a snapshot is loaded. It
// returns all problems joined, in API-id order, each a *PatternError.
func ValidateAccessRights(rights map[string]model.AccessDefinition) error {
	var errs []error
	check := func(id, field, pattern string) {
		// Adding anchors never turns a valid pattern invalid, so the
		// unanchored form decides for every matching mode.
		if _, err := regexp.Compile(PreparePattern(pattern, false, false)); err != nil {
			errs = append(errs, &PatternError{APIID: id, Field: field, Pattern: pattern, Err: err})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(rights)) {
		ad := rights[id]
		for _, spec := range ad.AllowedURLs {
			check(id, "allowed_urls", spec.URL)
		}
		for _, ep := range ad.Endpoints {
			check(id, "endpoints", ep.Path)
		}
	}
	return errors.Join(errs...)
}

// ValidatePolicy is ValidateAccessRights for a policy, naming the policy.
func ValidatePolicy(p *model.Policy) error {
	if p == nil {
		return errors.New("access: nil policy")
	}
	if err := ValidateAccessRights(p.AccessRights); err != nil {
		return fmt.Errorf("policy %q: %w", p.ID, err)
	}
	return nil
}

// ValidateAPI reports the parts of an API definition that the access
// checks would silently turn into denials: version expiry dates that do not
// parse (every request to that version is denied, as in Tyk), a
// default_version that is not defined, and a mux listen path that does not
// compile. Tyk loads such APIs anyway, so the caller decides whether to
// reject the definition or only log the problem.
func ValidateAPI(api *model.APIDefinition) error {
	if api == nil {
		return errors.New("access: nil API definition")
	}
	vd := &api.VersionData
	var errs []error
	if !vd.NotVersioned {
		for _, name := range slices.Sorted(maps.Keys(vd.Versions)) {
			exp := vd.Versions[name].Expires
			if exp == "" || exp == "-1" {
				continue
			}
			if _, err := time.Parse(VersionExpiryLayout, exp); err != nil {
				errs = append(errs, fmt.Errorf("api %q: version %q: expires %q is not of the form %q", api.APIID, name, exp, VersionExpiryLayout))
			}
		}
		if vd.DefaultVersion != "" {
			if _, ok := vd.Versions[vd.DefaultVersion]; !ok {
				errs = append(errs, fmt.Errorf("api %q: default_version %q is not among the versions", api.APIID, vd.DefaultVersion))
			}
		}
	}
	if lp := listenPathPattern(api.Proxy.ListenPath); lp != "" {
		if _, err := regexp.Compile(lp); err != nil {
			errs = append(errs, fmt.Errorf("api %q: listen_path %q: %v", api.APIID, api.Proxy.ListenPath, err))
		}
	}
	return errors.Join(errs...)
}
