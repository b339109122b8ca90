package snapshot

import (
	"maps"
	"slices"

	"github.com/turnpike-dev/turnpike/shared/jwt"
	"github.com/turnpike-dev/turnpike/shared/model"
	"github.com/turnpike-dev/turnpike/shared/oidc"
	"github.com/turnpike-dev/turnpike/sidecar/internal/jwks"
)

// jwtKeys returns the key sets the filters verify JWTs of RSA and ECDSA
// APIs with, by api_id: the key of a PEM jwt_source, or the keys fetched
// from a JWKS URL (none until the first fetch); and those of OpenID
// Connect APIs' providers, by oidc.KeySetID. It tells the fetcher which
// URLs are in use. Called with mu held.
func (k *Keeper) jwtKeys() map[string][]byte {
	out := map[string][]byte{}
	var urls []string
	for _, id := range slices.Sorted(maps.Keys(k.apis)) {
		api := k.apis[id]
		doc, url := apiKeys(api)
		if url != "" && k.opt.JWKS != nil {
			urls = append(urls, url)
			doc = k.opt.JWKS.Keys(url)
		}
		if doc != nil {
			out[id] = doc
		}
		// OpenID Connect: a key set per provider, from its issuer's
		// discovery document.
		for i, url := range oidcURLs(api) {
			if k.opt.JWKS == nil {
				break
			}
			urls = append(urls, url)
			if doc := k.opt.JWKS.Keys(url); doc != nil {
				out[oidc.KeySetID(id, i)] = doc
			}
		}
	}
	if k.opt.JWKS != nil {
		k.opt.JWKS.Use(urls)
	}
	return out
}

// apiKeys is the key set of a JWT API with a PEM source, or the JWKS URL
// of one with a URL source. APIs without either (HMAC, one-to-one, not
// JWT, an invalid source the Gateway API would have refused) get neither.
func apiKeys(api *model.APIDefinition) (doc []byte, url string) {
	if !api.EnableJWT || api.UseKeylessAccess || api.JWTSource == "" {
		return nil, ""
	}
	m, err := jwt.ParseMethod(api.JWTSigningMethod)
	if err != nil || m == jwt.HMAC {
		return nil, ""
	}
	src, err := jwt.ParseSource(api.JWTSource)
	switch {
	case err != nil:
		return nil, ""
	case src.URL != "":
		return nil, src.URL
	}
	key, err := jwks.ParsePEM(src.Data, m)
	if err != nil {
		return nil, ""
	}
	doc = jwt.AppendKeySet(nil, jwt.KeySet{{Key: key}})
	// A key set the filters cannot read would make them reject the whole
	// snapshot: checked with their decoder.
	if _, err := jwt.ParseKeySet(doc); err != nil {
		return nil, ""
	}
	return doc, ""
}

// JWKSURL is the JWKS URL of an API, "" when it has none.
func JWKSURL(api *model.APIDefinition) string {
	_, url := apiKeys(api)
	return url
}

// KeyURLs are the URLs the fetcher keeps an API's keys under: its JWKS
// URL, or the discovery documents of its OpenID Connect providers.
func KeyURLs(api *model.APIDefinition) []string {
	if url := JWKSURL(api); url != "" {
		return []string{url}
	}
	return oidcURLs(api)
}

// oidcURLs are the discovery URLs of an OpenID Connect API's providers,
// by provider index.
func oidcURLs(api *model.APIDefinition) []string {
	if !api.UseOpenID || api.UseKeylessAccess || api.OpenIDOptions == nil {
		return nil
	}
	urls := make([]string, len(api.OpenIDOptions.Providers))
	for i, p := range api.OpenIDOptions.Providers {
		urls[i] = oidc.DiscoveryURL(p.Issuer)
	}
	return urls
}
