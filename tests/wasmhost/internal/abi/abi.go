// Package abi holds the Proxy-Wasm ABI 0.2.x constants and the wire formats the host
// exchanges with a guest: serialized header maps and NUL-separated property paths.
package abi

// Status is proxy_status_t, the result of every host call.
type Status uint32

// Status values (spec v0.2.1 plus the codes Envoy and the SDKs also use).
const (
	OK                   Status = 0
	NotFound             Status = 1
	BadArgument          Status = 2
	SerializationFailure Status = 3
	ParseFailure         Status = 4
	InvalidMemoryAccess  Status = 6
	Empty                Status = 7
	CasMismatch          Status = 8
	InternalFailure      Status = 10
	BrokenConnection     Status = 11
	Unimplemented        Status = 12
)

// MapType is proxy_map_type_t.
type MapType uint32

// Header map types.
const (
	MapRequestHeaders          MapType = 0
	MapRequestTrailers         MapType = 1
	MapResponseHeaders         MapType = 2
	MapResponseTrailers        MapType = 3
	MapGrpcInitialMetadata     MapType = 4
	MapGrpcTrailingMetadata    MapType = 5
	MapHTTPCallResponseHeaders MapType = 6
	MapHTTPCallResponseTrailer MapType = 7
)

// BufferType is proxy_buffer_type_t.
type BufferType uint32

// Buffer types.
const (
	BufferRequestBody         BufferType = 0
	BufferResponseBody        BufferType = 1
	BufferDownstreamData      BufferType = 2
	BufferUpstreamData        BufferType = 3
	BufferHTTPCallResponse    BufferType = 4
	BufferGrpcCallMessage     BufferType = 5
	BufferVMConfiguration     BufferType = 6
	BufferPluginConfiguration BufferType = 7
	BufferForeignFunctionArgs BufferType = 8
)

// StreamType is proxy_stream_type_t.
type StreamType uint32

// Stream types.
const (
	StreamRequest    StreamType = 0
	StreamResponse   StreamType = 1
	StreamDownstream StreamType = 2
	StreamUpstream   StreamType = 3
)

// MetricType is proxy_metric_type_t.
type MetricType uint32

// Metric types.
const (
	MetricCounter   MetricType = 0
	MetricGauge     MetricType = 1
	MetricHistogram MetricType = 2
)

// Action values returned by the stream callbacks. cpp-host also accepts Envoy's
// FilterHeadersStatus numbers for header callbacks, so 2..4 are listed too.
const (
	ActionContinue                  = 0
	ActionPause                     = 1
	ActionContinueAndEndStream      = 2
	ActionStopAllIterationBuffer    = 3
	ActionStopAllIterationWatermark = 4
)
