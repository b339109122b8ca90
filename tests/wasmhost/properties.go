package wasmhost

import (
	"encoding/binary"
	"net"
	"strconv"
	"strings"

	"github.com/turnpike-dev/turnpike/tests/wasmhost/internal/abi"
)

// Default addresses for streams that did not set "source.address"/"destination.address".
const (
	defaultSource      = "127.0.0.1:0"
	defaultDestination = "127.0.0.1:0"
)

// property resolves a dotted property path for the effective context s (nil for the root):
// stream overrides, root overrides, Config.Properties, then the Envoy attributes computed from
// the stream. Values use Envoy's encodings: strings raw, integers 8-byte little-endian, booleans
// one byte, maps as serialized pairs.
func (vm *VM) property(path string, s *Stream) ([]byte, bool) {
	if s != nil {
		if v, ok := s.props[path]; ok {
			return v, true
		}
	}
	if v, ok := vm.props[path]; ok {
		return v, true
	}
	cfg := &vm.h.cfg
	if v, ok := cfg.Properties[path]; ok {
		return v, true
	}
	switch path {
	case "plugin_name":
		return []byte(vm.currentRoot().p.name), true
	case "plugin_root_id":
		return []byte(vm.currentRoot().p.rootID), true
	case "plugin_vm_id":
		return []byte(cfg.VMID), true
	}
	if s == nil {
		return nil, false
	}
	req, resp := s.req.headers.pairs, s.resp.headers.pairs
	header := func(h Headers, k string) ([]byte, bool) {
		v, ok := h.Get(k)
		return []byte(v), ok
	}
	if k, ok := strings.CutPrefix(path, "request.headers."); ok {
		return header(req, k)
	}
	if k, ok := strings.CutPrefix(path, "response.headers."); ok {
		return header(resp, k)
	}
	switch path {
	case "request.path":
		return header(req, ":path")
	case "request.url_path":
		p, ok := req.Get(":path")
		p, _, _ = strings.Cut(p, "?")
		return []byte(p), ok
	case "request.query":
		p, _ := req.Get(":path")
		_, q, _ := strings.Cut(p, "?")
		return []byte(q), true
	case "request.host":
		return header(req, ":authority")
	case "request.scheme":
		return header(req, ":scheme")
	case "request.method":
		return header(req, ":method")
	case "request.headers":
		return abi.AppendPairs(nil, req), true
	case "request.referer":
		return header(req, "referer")
	case "request.useragent":
		return header(req, "user-agent")
	case "request.id":
		return header(req, "x-request-id")
	case "request.protocol":
		return []byte("HTTP/1.1"), true
	case "request.time":
		return i64(s.start.UnixNano()), true
	case "request.size":
		if cl, ok := req.Get("content-length"); ok {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
				return i64(n), true
			}
		}
		return i64(int64(len(s.req.out) + len(s.req.body))), true
	case "response.code":
		if s.reply != nil {
			return i64(int64(s.reply.Status)), true
		}
		st, ok := resp.Get(":status")
		n, err := strconv.ParseInt(st, 10, 64)
		return i64(n), ok && err == nil
	case "response.code_details":
		if s.reply != nil {
			return []byte(s.reply.Details), true
		}
		return []byte("via_upstream"), s.resp.hdrSeen
	case "response.headers":
		return abi.AppendPairs(nil, resp), s.resp.hdrSeen
	case "response.trailers":
		return abi.AppendPairs(nil, s.resp.trailers.pairs), s.resp.hdrSeen
	case "response.size":
		return i64(int64(len(s.resp.out) + len(s.resp.body))), s.resp.hdrSeen
	case "source.address":
		return []byte(s.address("source.address", defaultSource)), true
	case "source.port":
		return port(s.address("source.address", defaultSource))
	case "destination.address":
		return []byte(s.address("destination.address", defaultDestination)), true
	case "destination.port":
		return port(s.address("destination.address", defaultDestination))
	case "connection.mtls":
		return []byte{0}, true
	}
	return nil, false
}

func (s *Stream) address(key, def string) string {
	if v, ok := s.props[key]; ok {
		return string(v)
	}
	return def
}

func port(addr string) ([]byte, bool) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, false
	}
	n, err := strconv.ParseInt(p, 10, 64)
	return i64(n), err == nil
}

func i64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }
