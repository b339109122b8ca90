package proxywasm

import "strconv"

// Action tells the host whether to continue processing the current HTTP
// stream or to pause it until ResumeHttpRequest/ResumeHttpResponse (or a local
// reply) is issued.
type Action uint32

const (
	ActionContinue Action = 0
	ActionPause    Action = 1
)

// LogLevel is proxy_log_level_t.
type LogLevel uint32

const (
	LogLevelTrace LogLevel = iota
	LogLevelDebug
	LogLevelInfo
	LogLevelWarn
	LogLevelError
	LogLevelCritical
)

// String returns the lower-case level name.
func (l LogLevel) String() string {
	switch l {
	case LogLevelTrace:
		return "trace"
	case LogLevelDebug:
		return "debug"
	case LogLevelInfo:
		return "info"
	case LogLevelWarn:
		return "warn"
	case LogLevelError:
		return "error"
	case LogLevelCritical:
		return "critical"
	}
	return "LogLevel(" + strconv.FormatUint(uint64(l), 10) + ")"
}

// MapType is proxy_map_type_t: which header map a header call addresses.
type MapType uint32

const (
	MapTypeHttpRequestHeaders       MapType = 0
	MapTypeHttpRequestTrailers      MapType = 1
	MapTypeHttpResponseHeaders      MapType = 2
	MapTypeHttpResponseTrailers     MapType = 3
	MapTypeGrpcInitialMetadata      MapType = 4
	MapTypeGrpcTrailingMetadata     MapType = 5
	MapTypeHttpCallResponseHeaders  MapType = 6
	MapTypeHttpCallResponseTrailers MapType = 7
)

// BufferType is proxy_buffer_type_t: which byte buffer a buffer call addresses.
type BufferType uint32

const (
	BufferTypeHttpRequestBody         BufferType = 0
	BufferTypeHttpResponseBody        BufferType = 1
	BufferTypeDownstreamData          BufferType = 2
	BufferTypeUpstreamData            BufferType = 3
	BufferTypeHttpCallResponseBody    BufferType = 4
	BufferTypeGrpcCallMessage         BufferType = 5
	BufferTypeVMConfiguration         BufferType = 6
	BufferTypePluginConfiguration     BufferType = 7
	BufferTypeForeignFunctionArgument BufferType = 8
)

// StreamType is proxy_stream_type_t.
type StreamType uint32

const (
	StreamTypeHttpRequest  StreamType = 0
	StreamTypeHttpResponse StreamType = 1
	StreamTypeDownstream   StreamType = 2
	StreamTypeUpstream     StreamType = 3
)

// metricType is proxy_metric_type_t; callers pick it through the
// Define*Metric function they call.
type metricType uint32

const (
	metricTypeCounter   metricType = 0
	metricTypeGauge     metricType = 1
	metricTypeHistogram metricType = 2
)

// status is proxy_status_t, the result of every host call.
type status uint32

const (
	statusOK            status = 0
	statusUnimplemented status = 12
)

// Error is a non-OK proxy_status_t returned by a host function. Compare with
// errors.Is against the Err* sentinels; codes without a sentinel still carry
// their number in Status.
type Error struct {
	Status uint32
	name   string
}

func (e *Error) Error() string {
	if e.name != "" {
		return "proxy-wasm: " + e.name
	}
	return "proxy-wasm: host returned status " + strconv.FormatUint(uint64(e.Status), 10)
}

// Is makes errors.Is match on the status code, so an *Error built for a code
// equals the sentinel of that code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status
}

// One sentinel per proxy_status_t value of ABI 0.2.1.
var (
	ErrNotFound             = &Error{1, "not found"}
	ErrBadArgument          = &Error{2, "bad argument"}
	ErrSerializationFailure = &Error{3, "serialization failure"}
	ErrParseFailure         = &Error{4, "parse failure"}
	ErrInvalidMemoryAccess  = &Error{6, "invalid memory access"}
	ErrEmpty                = &Error{7, "empty"}
	ErrCasMismatch          = &Error{8, "cas mismatch"}
	ErrInternalFailure      = &Error{10, "internal failure"}
	ErrUnimplemented        = &Error{12, "unimplemented"}
)

var sentinels = [...]*Error{ErrNotFound, ErrBadArgument, ErrSerializationFailure, ErrParseFailure,
	ErrInvalidMemoryAccess, ErrEmpty, ErrCasMismatch, ErrInternalFailure, ErrUnimplemented}

// statusError maps a host status to nil or an error. Known codes return the
// shared sentinel so the common failures (a missing header) do not allocate.
func statusError(s status) error {
	if s == statusOK {
		return nil
	}
	for _, e := range sentinels {
		if e.Status == uint32(s) {
			return e
		}
	}
	return &Error{Status: uint32(s)}
}
