package access

import (
	"time"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// VersionExpiryLayout is the layout of version_data.versions[].expires
// (UTC), as in Tyk. "" and "-1" mean never.
const VersionExpiryLayout = "2006-01-02 15:04"

// CheckVersion is Tyk's VersionCheck middleware: an API-level check that
// does not depend on the key. Tyk runs it before authentication, so a
// filter that wants Tyk's exact precedence calls it before looking the key
// up (a request for an unknown version fails with the version error even
// without a valid key).
//
// requested is the version name the request carries (header, query
// parameter or first path segment, per the API's definition; "" if none).
// It returns the name of the version whose rules apply ("" for an
// unversioned API) and the decision:
//
//   - no version and no default_version: 403 MsgVersionNotFound;
//   - a version the API does not define: the default version if
//     fallback_to_default is set and the default exists, else 403
//     MsgVersionDoesNotExist;
//   - the version's expiry has passed, or cannot be parsed: 403
//     MsgVersionExpired (Tyk fails closed on unparseable dates too).
//
// Tyk answers 404 for an unknown version only when routing to a child API
// of an OAS "base API"; for classic version_data (the model Turnpike
// implements) its VersionCheck answers 403, which is what this returns.
func CheckVersion(api *model.APIDefinition, requested string, now time.Time) (string, Decision) {
	if api == nil {
		return "", denyAPI
	}
	name, info, d := resolveVersion(api, requested)
	if !d.Allowed() || api.VersionData.NotVersioned {
		return name, d
	}
	if versionExpired(info.Expires, now) {
		return name, denyVersionExpired
	}
	return name, allow
}

// resolveVersion picks the version whose rules apply, without the expiry
// check. The key check uses the same resolution, so a key allowed on the
// default version may call an unknown version that falls back to it (as
// in Tyk's TestDefaultVersion "fallback to default").
func resolveVersion(api *model.APIDefinition, requested string) (string, model.VersionInfo, Decision) {
	vd := &api.VersionData
	if vd.NotVersioned {
		return "", model.VersionInfo{}, allow
	}
	name := requested
	if name == "" {
		if vd.DefaultVersion == "" {
			return "", model.VersionInfo{}, denyVersionNotFound
		}
		name = vd.DefaultVersion
	}
	if info, ok := vd.Versions[name]; ok {
		return name, info, allow
	}
	if vd.FallbackToDefault {
		if info, ok := vd.Versions[vd.DefaultVersion]; ok {
			return vd.DefaultVersion, info, allow
		}
	}
	return name, model.VersionInfo{}, denyVersionNotExist
}

// versionExpired reports whether a version with the given expiry is expired
// at now: at or after the expiry instant, like Tyk.
func versionExpired(expires string, now time.Time) bool {
	if expires == "" || expires == "-1" {
		return false
	}
	t, err := time.Parse(VersionExpiryLayout, expires)
	if err != nil {
		return true
	}
	return !now.Before(t)
}
