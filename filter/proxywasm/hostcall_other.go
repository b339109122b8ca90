//go:build !wasip1

package proxywasm

// Outside the wasm VM there is no proxy-wasm host: every host function
// reports UNIMPLEMENTED, so plugin code and this package still build and vet
// natively, and native unit tests of the pure-Go parts can run.

func proxyLog(LogLevel, string) status              { return statusUnimplemented }
func proxyGetLogLevel(*uint32) status               { return statusUnimplemented }
func proxyGetCurrentTimeNanoseconds(*uint64) status { return statusUnimplemented }
func proxySetTickPeriodMilliseconds(uint32) status  { return statusUnimplemented }
func proxyGetBufferBytes(BufferType, int32, int32, *uint32, *uint32) status {
	return statusUnimplemented
}
func proxySetBufferBytes(BufferType, int32, int32, string) status     { return statusUnimplemented }
func proxyGetBufferStatus(BufferType, *uint32, *uint32) status        { return statusUnimplemented }
func proxyGetHeaderMapSize(MapType, *uint32) status                   { return statusUnimplemented }
func proxyGetHeaderMapPairs(MapType, *uint32, *uint32) status         { return statusUnimplemented }
func proxySetHeaderMapPairs(MapType, string) status                   { return statusUnimplemented }
func proxyGetHeaderMapValue(MapType, string, *uint32, *uint32) status { return statusUnimplemented }
func proxyAddHeaderMapValue(MapType, string, string) status           { return statusUnimplemented }
func proxyReplaceHeaderMapValue(MapType, string, string) status       { return statusUnimplemented }
func proxyRemoveHeaderMapValue(MapType, string) status                { return statusUnimplemented }
func proxyContinueStream(StreamType) status                           { return statusUnimplemented }
func proxyCloseStream(StreamType) status                              { return statusUnimplemented }
func proxyGetStatus(*uint32, *uint32, *uint32) status                 { return statusUnimplemented }
func proxySendLocalResponse(uint32, string, string, string, int32) status {
	return statusUnimplemented
}
func proxyHttpCall(string, string, string, string, uint32, *uint32) status {
	return statusUnimplemented
}
func proxyGetSharedData(string, *uint32, *uint32, *uint32) status { return statusUnimplemented }
func proxySetSharedData(string, string, uint32) status            { return statusUnimplemented }
func proxyRegisterSharedQueue(string, *uint32) status             { return statusUnimplemented }
func proxyResolveSharedQueue(string, string, *uint32) status      { return statusUnimplemented }
func proxyEnqueueSharedQueue(uint32, string) status               { return statusUnimplemented }
func proxyDequeueSharedQueue(uint32, *uint32, *uint32) status     { return statusUnimplemented }
func proxyDefineMetric(metricType, string, *uint32) status        { return statusUnimplemented }
func proxyIncrementMetric(uint32, int64) status                   { return statusUnimplemented }
func proxyRecordMetric(uint32, uint64) status                     { return statusUnimplemented }
func proxyGetMetric(uint32, *uint64) status                       { return statusUnimplemented }
func proxyGetProperty(string, *uint32, *uint32) status            { return statusUnimplemented }
func proxySetProperty(string, string) status                      { return statusUnimplemented }
func proxySetEffectiveContext(uint32) status                      { return statusUnimplemented }
func proxyDone() status                                           { return statusUnimplemented }
