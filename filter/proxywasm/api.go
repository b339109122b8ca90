package proxywasm

import (
	"fmt"
	"math"
)

// LogTrace, LogDebug, LogInfo, LogWarn, LogError and LogCritical write msg
// to the host log at their level.
func LogTrace(msg string)    { proxyLog(LogLevelTrace, msg) }
func LogDebug(msg string)    { proxyLog(LogLevelDebug, msg) }
func LogInfo(msg string)     { proxyLog(LogLevelInfo, msg) }
func LogWarn(msg string)     { proxyLog(LogLevelWarn, msg) }
func LogError(msg string)    { proxyLog(LogLevelError, msg) }
func LogCritical(msg string) { proxyLog(LogLevelCritical, msg) }

// LogTracef ... LogCriticalf format with fmt.Sprintf. They skip the formatting
// when the host would drop the message anyway.
func LogTracef(template string, args ...any)    { logf(LogLevelTrace, template, args) }
func LogDebugf(template string, args ...any)    { logf(LogLevelDebug, template, args) }
func LogInfof(template string, args ...any)     { logf(LogLevelInfo, template, args) }
func LogWarnf(template string, args ...any)     { logf(LogLevelWarn, template, args) }
func LogErrorf(template string, args ...any)    { logf(LogLevelError, template, args) }
func LogCriticalf(template string, args ...any) { logf(LogLevelCritical, template, args) }

func logf(level LogLevel, template string, args []any) {
	if hostLevel, err := GetLogLevel(); err == nil && level < hostLevel {
		return
	}
	proxyLog(level, fmt.Sprintf(template, args...))
}

// GetLogLevel returns the host's current log level.
func GetLogLevel() (LogLevel, error) {
	var level uint32
	if err := statusError(proxyGetLogLevel(&level)); err != nil {
		return 0, err
	}
	return LogLevel(level), nil
}

// GetVMConfiguration returns a copy of the VM configuration
// (vm_config.configuration in Envoy). Unlike the per-request getters it
// copies, because configuration is parsed once and often kept.
func GetVMConfiguration() ([]byte, error) {
	return getBufferCopy(BufferTypeVMConfiguration)
}

// GetPluginConfiguration returns a copy of the plugin configuration
// (config.configuration in Envoy); see GetVMConfiguration.
func GetPluginConfiguration() ([]byte, error) {
	return getBufferCopy(BufferTypePluginConfiguration)
}

func getBufferCopy(bt BufferType) ([]byte, error) {
	b, err := getBuffer(bt, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// SetTickPeriodMilliSeconds makes the host call OnTick every ms
// milliseconds on the current plugin context; 0 stops the ticks.
func SetTickPeriodMilliSeconds(ms uint32) error {
	return statusError(proxySetTickPeriodMilliseconds(ms))
}

// GetCurrentTimeNanoseconds returns the host's wall clock in nanoseconds
// since the Unix epoch.
func GetCurrentTimeNanoseconds() (int64, error) {
	var ns uint64
	if err := statusError(proxyGetCurrentTimeNanoseconds(&ns)); err != nil {
		return 0, err
	}
	return int64(ns), nil
}

// SendHttpResponse answers the current stream with a local reply instead of
// the upstream response. The host sends it after the current callback
// returns, which should return ActionPause. grpcStatus -1 means none.
func SendHttpResponse(statusCode uint32, headers [][2]string, body []byte, grpcStatus int32) error {
	h, err := encodeHeaders(headers)
	if err != nil {
		return err
	}
	return statusError(proxySendLocalResponse(statusCode, "", bytesView(body), h, grpcStatus))
}

// ResumeHttpRequest resumes a request paused by ActionPause (takes effect
// after the current callback returns).
func ResumeHttpRequest() error { return statusError(proxyContinueStream(StreamTypeHttpRequest)) }

// ResumeHttpResponse resumes a response paused by ActionPause.
func ResumeHttpResponse() error { return statusError(proxyContinueStream(StreamTypeHttpResponse)) }

// CloseHttpRequest resets the current stream (Envoy resets the whole
// stream for either direction).
func CloseHttpRequest() error { return statusError(proxyCloseStream(StreamTypeHttpRequest)) }

// CloseHttpResponse resets the current stream from the response side.
func CloseHttpResponse() error { return statusError(proxyCloseStream(StreamTypeHttpResponse)) }

// SetEffectiveContext makes later host calls in this callback act on
// contextID, e.g. to resume a postponed request from OnTick.
func SetEffectiveContext(contextID uint32) error {
	if err := statusError(proxySetEffectiveContext(contextID)); err != nil {
		return err
	}
	vm.current = contextID
	return nil
}

// Done tells the host that a plugin whose OnPluginDone returned false has
// finished.
func Done() error { return statusError(proxyDone()) }

// DispatchHttpCall sends an HTTP request to an upstream cluster of the host.
// headers must include :method, :path and :authority; timeoutMillisecond 0
// means no timeout. When the response arrives (numHeaders 0 means the call
// failed; see GetStatus), callback runs with the effective context set to
// the context that dispatched the call, and can read the response with
// GetHttpCallResponseHeaders/Body/Trailers. The callback is skipped if that
// context was deleted in the meantime.
func DispatchHttpCall(cluster string, headers [][2]string, body []byte, trailers [][2]string,
	timeoutMillisecond uint32, callback func(numHeaders, bodySize, numTrailers int)) (calloutID uint32, err error) {
	// Resolved before dispatching: a call whose response could not be routed
	// must not be sent at all.
	rootID, err := vm.rootOf(vm.current)
	if err != nil {
		return 0, err
	}
	h, err := encodeHeaders(headers)
	if err != nil {
		return 0, err
	}
	t, err := encodeHeaders(trailers)
	if err != nil {
		return 0, err
	}
	if err := statusError(proxyHttpCall(cluster, h, bytesView(body), t, timeoutMillisecond, &calloutID)); err != nil {
		return 0, err
	}
	vm.addCallout(rootID, calloutID, vm.current, callback)
	return calloutID, nil
}

// GetStatus returns the status of the last http call (inside its callback):
// Envoy reports a reset as code 11 with message "reset".
func GetStatus() (code uint32, message string, err error) {
	var addr, size uint32
	if err := statusError(proxyGetStatus(&code, &addr, &size)); err != nil {
		return 0, "", err
	}
	msg, err := hostBytes(addr, size)
	if err != nil {
		return 0, "", err
	}
	return code, string(msg), nil
}

// GetProperty reads a host property such as {"request", "path"}. The
// result is only valid until the current callback returns.
func GetProperty(path []string) ([]byte, error) {
	p, err := scratch(propertyPathSize(path))
	if err != nil {
		return nil, err
	}
	encodePropertyPath(p, path)
	var addr, size uint32
	if err := statusError(proxyGetProperty(bytesView(p), &addr, &size)); err != nil {
		return nil, err
	}
	return hostBytes(addr, size)
}

// SetProperty writes a host property.
func SetProperty(path []string, value []byte) error {
	p, err := scratch(propertyPathSize(path))
	if err != nil {
		return err
	}
	encodePropertyPath(p, path)
	return statusError(proxySetProperty(bytesView(p), bytesView(value)))
}
