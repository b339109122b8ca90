package auth

// Refused stands for an API whose auth method Turnpike does not enforce
// (yet, or ever: Go plugins, coprocess, custom middleware bundles). The
// Gateway API refuses such definitions; one can still reach the filter as
// a static API of the plugin configuration or as data written before the
// refusal existed. Every request to it is refused.
type Refused struct {
	Field string // the API definition field that enables the method
	// Why replaces the reason when the method is enforced but this API's
	// configuration of it cannot be (say, an unparsable jwt_source).
	Why string
}

// Identify refuses the request.
func (r Refused) Identify(Request, string) (Identity, *Denial) { return Identity{}, DenyRefused }

// Reason says why, for the log.
func (r Refused) Reason() string {
	if r.Why != "" {
		return r.Field + ": " + r.Why + ": every request is refused"
	}
	return r.Field + " is set, and Turnpike does not enforce that authentication method: every request is refused"
}
