package route

import (
	"strings"

	"github.com/turnpike-dev/turnpike/shared/model"
)

// Version returns the API version a request names, per the API's
// definition.location (Tyk's VersionCheck): "header" (default; header
// definition.key, default x-api-version), "url-param" (query parameter
// definition.key, default version) or "url" (the first path segment after
// the listen path). Unversioned APIs return "".
func Version(api *model.APIDefinition, header func(name string) string, path string) string {
	if api == nil || api.VersionData.NotVersioned {
		return ""
	}
	def := api.VersionDefinition
	switch def.Location {
	case "url-param":
		key := def.Key
		if key == "" {
			key = "version"
		}
		return QueryParam(path, key)
	case "url":
		lp := strings.TrimRight(api.Proxy.ListenPath, "/")
		rest := strings.TrimPrefix(strings.TrimPrefix(PathOnly(path), lp), "/")
		seg, _, _ := strings.Cut(rest, "/")
		return seg
	default:
		key := def.Key
		if key == "" {
			key = "x-api-version"
		}
		return header(strings.ToLower(key))
	}
}
