package plugin

import (
	"github.com/turnpike-dev/turnpike/filter/internal/host"
	"github.com/turnpike-dev/turnpike/shared/wire"
)

// Sidecar calls. Envoy requires :method, :path and :authority on every
// call; the filter token authenticates the filter to the sidecar.

func (r *Root) callHeaders(method, path string) [][2]string {
	h := [][2]string{
		{":method", method},
		{":path", path},
		{":authority", r.cfg.Authority},
		{wire.HeaderToken, r.cfg.Token},
	}
	if method == "POST" {
		h = append(h, [2]string{"content-type", "application/json"})
	}
	return h
}

// dispatchFromRoot sends a sidecar call whose answer is delivered to the
// root context rather than to the current stream: the answer must reach
// every waiting stream even if the one that triggered the call is gone.
// from is the context the caller runs as, restored afterwards.
func (r *Root) dispatchFromRoot(from uint32, path string, timeoutMS uint32, done func(*host.CallResponse)) error {
	return r.callFromRoot(from, "GET", path, nil, timeoutMS, done)
}

// postFromRoot is dispatchFromRoot for a POST with a body (copied by the
// host before it returns).
func (r *Root) postFromRoot(from uint32, path string, body []byte, timeoutMS uint32, done func(*host.CallResponse)) error {
	return r.callFromRoot(from, "POST", path, body, timeoutMS, done)
}

func (r *Root) callFromRoot(from uint32, method, path string, body []byte, timeoutMS uint32, done func(*host.CallResponse)) error {
	from = r.contextOf(from) // a batch sub-request runs in its batch's context
	if from != r.id {
		if err := r.host.SetContext(r.id); err != nil {
			return err
		}
		defer func() { _ = r.host.SetContext(from) }()
	}
	return r.host.Call(r.cfg.Cluster, r.callHeaders(method, path), body, timeoutMS, done)
}

// refused logs a sidecar answer that rejected the filter's token: a
// misconfiguration that no retry fixes.
func (r *Root) refused(status int) {
	if status == wire.StatusForbidden {
		r.log(host.Error, "the sidecar refused the filter token (sidecar.token)")
	}
}
