// Package proxywasm is Turnpike's own binding of the proxy-wasm ABI 0.2.1 for
// plugins built with the standard Go toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o filter.wasm ./filter
//
// The API is shaped like the public proxy-wasm Go SDKs, so plugin code reads
// like any proxy-wasm plugin: register a VMContext with SetVMContext from an
// init function, return PluginContexts and HttpContexts from it, and call the
// host through the package-level functions (GetHttpRequestHeader,
// DispatchHttpCall, SendHttpResponse, ...).
//
// # Rules a plugin must follow
//
//   - init() runs inside the reactor's _initialize, where hosts such as Envoy
//     allow no proxy_* call except proxy_log. Only call SetVMContext there;
//     define metrics and read configuration in OnVMStart/OnPluginStart.
//   - The VM is single-threaded and Go's scheduler does not run goroutines
//     between callbacks: do not start goroutines or block. Use
//     SetTickPeriodMilliSeconds and DispatchHttpCall for asynchronous work.
//   - Byte slices returned by getters (bodies, shared data, properties, queue
//     items) point into a per-callback arena that is reused as soon as the
//     current callback returns. Copy whatever you keep. Strings (headers, status
//     messages) and the configuration getters return copies, except
//     GetHttpRequestHeaderView, which is as short-lived as the byte slices.
//   - Request and response header reads are served from one
//     proxy_get_header_map_pairs snapshot per callback and context
//     (snapshot.go): a plugin may read many headers for the price of one
//     host call; headers it changed are read from the host again.
//   - A panic in a callback is recovered: it is logged at critical level and,
//     for HTTP stream callbacks, the stream is answered by the PanicHandler
//     (a 500 JSON error by default). An unrecovered panic would trap and make
//     Envoy fail every later request on this VM.
//
// The Log*f functions format with fmt, so the package links fmt and os.
// Linking them is harmless on Envoy 1.33 (cpp-host PR #427), whose
// poll_oneoff answers ENOSYS, fatal to Go's runtime: the runtime calls it
// only when its scheduler idles or, once any Go timer was armed, at every
// garbage collection. So a plugin must not sleep, arm timers (crypto/rand's
// first read arms one) or block. See envoy/README.md for the minimum Envoy
// version and the one runtime case only cpp-host PR #533 survives.
//
// On non-wasip1 builds the package compiles (so go vet and native unit tests
// work) but every host call returns ErrUnimplemented.
package proxywasm
