package auth

import (
	"strings"

	"github.com/turnpike-dev/turnpike/filter/internal/route"
	"github.com/turnpike-dev/turnpike/shared/model"
)

// Location says where a request carried its key.
type Location uint8

const (
	// None means no key was found.
	None Location = iota
	Header
	Param
	Cookie
)

// Credential is the key a request presented and where it was found, so the
// filter can strip it before the request goes upstream.
type Credential struct {
	Key  string
	From Location
	Name string // header (lower case), query parameter or cookie name
}

// Extract finds the key of a request the way Tyk's getAuthToken does: the
// header (default Authorization) unless disable_header; a non-empty query
// parameter (use_param) overrides it; a non-empty cookie (use_cookie)
// overrides both; a leading "Bearer " (any case) is removed. header returns
// a request header by lower-case name ("" when absent); path is the
// request's :path with its query string.
func Extract(a *model.AuthConfig, header func(name string) string, path string) Credential {
	c := extractRaw(a, header, path)
	if len(c.Key) >= 7 && strings.EqualFold(c.Key[:7], "bearer ") {
		c.Key = c.Key[7:]
	}
	return c
}

// extractRaw is Extract without removing "Bearer ": OpenID Connect checks
// the scheme itself.
func extractRaw(a *model.AuthConfig, header func(name string) string, path string) Credential {
	var auth model.AuthConfig
	if a != nil {
		auth = *a
	}
	name := auth.AuthHeaderName
	if name == "" {
		name = "Authorization"
	}
	var c Credential
	if !auth.DisableHeader {
		h := "authorization"
		// The default name is spelt without an allocation: this runs on
		// every request.
		if !strings.EqualFold(name, h) {
			h = strings.ToLower(name)
		}
		if v := header(h); v != "" {
			c = Credential{v, Header, h}
		}
	}
	if auth.UseParam {
		p := auth.ParamName
		if p == "" {
			p = name
		}
		if v := route.QueryParam(path, p); v != "" {
			c = Credential{v, Param, p}
		}
	}
	if auth.UseCookie {
		n := auth.CookieName
		if n == "" {
			n = name
		}
		if v := route.CookieValue(header("cookie"), n); v != "" {
			c = Credential{v, Cookie, n}
		}
	}
	return c
}

// Strip removes the credential from the request before it goes upstream.
// path is the request's :path.
func (c Credential) Strip(req Rewriter, path string) {
	switch c.From {
	case Header:
		req.RemoveRequestHeader(c.Name)
	case Param:
		req.SetRequestHeader(":path", route.StripParam(path, c.Name))
	case Cookie:
		if rest := route.StripCookie(req.RequestHeader("cookie"), c.Name); rest != "" {
			req.SetRequestHeader("cookie", rest)
		} else {
			req.RemoveRequestHeader("cookie")
		}
	}
}

// Rewriter is the part of the host that edits request headers.
type Rewriter interface {
	RequestHeader(name string) string
	SetRequestHeader(name, value string)
	RemoveRequestHeader(name string)
}
