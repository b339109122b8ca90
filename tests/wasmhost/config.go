package wasmhost

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// WASIMode selects which Envoy WASI surface the host emulates.
type WASIMode int

const (
	// WASICppHost533 emulates proxy-wasm-cpp-host with PR #533 (2026): every WASI import
	// exists, poll_oneoff returns 0 events, and poll_oneoff is allowed during _initialize and
	// proxy_on_memory_allocate. This is the default.
	WASICppHost533 WASIMode = iota
	// WASIEnvoy133 emulates Envoy 1.33 (cpp-host PR #427 only): poll_oneoff returns ENOSYS
	// (52), WASI imports outside that version's list fail the load, and a WASI call other than
	// fd_write/clock_time_get/args/environ/random_get/fd_prestat/fd_fdstat during _initialize,
	// or anything but proxy_log/fd_write/clock_time_get during proxy_on_memory_allocate,
	// traps. Use it to catch Go filters that link package os.
	WASIEnvoy133
)

func (m WASIMode) String() string {
	switch m {
	case WASICppHost533:
		return "cpp-host>=#533"
	case WASIEnvoy133:
		return "envoy-1.33"
	}
	return fmt.Sprintf("WASIMode(%d)", int(m))
}

// Plugin is one more plugin in the host's VMs (Config.Plugins).
type Plugin struct {
	Name          string // plugin_name
	RootID        string // plugin_root_id
	Configuration []byte // what proxy_on_configure reads
}

// LogLevel is proxy_log_level_t.
type LogLevel uint32

// Log levels.
const (
	LogTrace LogLevel = iota
	LogDebug
	LogInfo
	LogWarn
	LogError
	LogCritical
)

func (l LogLevel) String() string {
	switch l {
	case LogTrace:
		return "trace"
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	case LogCritical:
		return "critical"
	}
	return fmt.Sprintf("level(%d)", uint32(l))
}

func (l LogLevel) slog() slog.Level {
	switch {
	case l <= LogDebug:
		return slog.LevelDebug
	case l == LogInfo:
		return slog.LevelInfo
	case l == LogWarn:
		return slog.LevelWarn
	}
	return slog.LevelError
}

// Config describes one plugin loaded into a host, the way Envoy's Wasm filter config does.
type Config struct {
	// Wasm is the module bytecode; WasmFile is read when Wasm is empty.
	Wasm     []byte
	WasmFile string

	// VMConfig is passed to proxy_on_vm_start (buffer VM_CONFIGURATION), PluginConfig to
	// proxy_on_configure (buffer PLUGIN_CONFIGURATION), both as raw bytes (Envoy passes a
	// StringValue/BytesValue unwrapped).
	VMConfig     []byte
	PluginConfig []byte

	// VMID partitions shared data and queues (Envoy vm_config.vm_id). PluginName and RootID are
	// the plugin_name and plugin_root_id properties. Defaults: "", "wasmhost", "".
	VMID       string
	PluginName string
	RootID     string

	// Workers is the number of VMs (Envoy worker threads). Default 1.
	Workers int

	// Clusters maps the cluster names proxy_http_call may target to base URLs ("http://host:port").
	// A call's :path is appended to the URL. An empty URL declares a cluster the test answers
	// itself with HTTPCall.Respond or HTTPCall.Fail. Calls to a name not listed fail with
	// BAD_ARGUMENT, as in Envoy.
	Clusters map[string]string
	// HTTPClient sends calls to clusters with URLs; default a dedicated http.Client.
	HTTPClient *http.Client

	// FailOpen lets requests through after the VM trapped, instead of Envoy's default
	// fail-closed 503.
	FailOpen bool
	// AllowOnHeadersStopIteration mirrors Envoy's allow_on_headers_stop_iteration: Pause from a
	// headers callback then stops only the headers and body callbacks keep coming. Without it
	// Pause means StopAllIteration: body is held until the stream resumes.
	AllowOnHeadersStopIteration bool

	// AutoTick runs proxy_on_tick on every VM on real timers (the gateway); without it ticks
	// happen only when the test calls Host.Tick or VM.Tick.
	AutoTick bool

	// WASIMode selects the emulated Envoy WASI surface; default WASICppHost533.
	WASIMode WASIMode

	// Logger receives guest logs (proxy_log, stdout as info, stderr as error) and host events
	// such as traps. Nil discards them; they are still recorded for Host.Logs.
	Logger *slog.Logger
	// LogLevel is what proxy_get_log_level reports; guest logs below it are dropped.
	LogLevel LogLevel
	// MaxLogEntries bounds the log history kept for Host.Logs (oldest dropped). Default 10000.
	MaxLogEntries int

	// Properties adds or overrides properties, keyed by their dotted path
	// (e.g. "route_metadata.filter_metadata.envoy.filters.http.wasm.api_id"; the guest's
	// NUL-separated path is matched after replacing NUL with '.').
	Properties map[string][]byte

	// Plugins are more plugins loaded into the same VMs, after the one PluginName, RootID and
	// PluginConfig describe: Envoy runs every plugin whose vm_config is the same in one VM, each
	// with a root context of its own (proxy_on_context_create, proxy_on_vm_start and
	// proxy_on_configure on it), told apart by root_id. Streams of a plugin are opened with
	// NewStreamFor(root_id). Root ids must differ.
	Plugins []Plugin

	// Shared is the shared data and shared queue space (proxy_get/set_shared_data,
	// proxy_register/resolve_shared_queue). Envoy keeps one per process, keyed by vm_id: plugins
	// loaded into several hosts of one process (a filter chain) pass the same NewSharedState()
	// and then see each other's data and queues under the same vm_id, and
	// proxy_resolve_shared_queue finds a queue another plugin registered. Nil: a space of this
	// host's own, so independent hosts (tests) do not see each other.
	Shared *SharedState

	// Env sets guest environment variables (Envoy vm_config.environment_variables), e.g. GOGC.
	Env map[string]string

	// CompilationCacheDir stores compiled machine code between processes; default
	// os.UserCacheDir()/turnpike-wazero. Set NoCompilationCache to disable it.
	CompilationCacheDir string
	NoCompilationCache  bool
	// Interpreter uses wazero's interpreter instead of the compiler: much faster to load, 5-40x
	// slower to run.
	Interpreter bool

	// Profile, when set, records every guest function and host call of every VM with its call
	// stack (profile.go). Profiling slows the module down several times.
	Profile *Profile

	// HTTPCallBodyLimit caps a cluster response body; beyond it the call fails like an Envoy
	// response-buffer-limit reset. Default 16 MiB.
	HTTPCallBodyLimit int64
}

// ErrNoModule reports a Config without Wasm or WasmFile.
var ErrNoModule = errors.New("wasmhost: Config needs Wasm or WasmFile")

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if len(cfg.Wasm) == 0 {
		if cfg.WasmFile == "" {
			return cfg, ErrNoModule
		}
		b, err := os.ReadFile(cfg.WasmFile)
		if err != nil {
			return cfg, fmt.Errorf("wasmhost: %w", err)
		}
		cfg.Wasm = b
	}
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	if cfg.Workers < 0 {
		return cfg, fmt.Errorf("wasmhost: Workers = %d", cfg.Workers)
	}
	if cfg.PluginName == "" {
		cfg.PluginName = "wasmhost"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxLogEntries == 0 {
		cfg.MaxLogEntries = 10000
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.HTTPCallBodyLimit == 0 {
		cfg.HTTPCallBodyLimit = 16 << 20
	}
	if cfg.LogLevel > LogCritical {
		return cfg, fmt.Errorf("wasmhost: LogLevel %d out of range", cfg.LogLevel)
	}
	seen := map[string]bool{cfg.RootID: true}
	for _, p := range cfg.Plugins {
		if seen[p.RootID] {
			return cfg, fmt.Errorf("wasmhost: two plugins with root_id %q in one VM", p.RootID)
		}
		seen[p.RootID] = true
	}
	if cfg.WASIMode != WASICppHost533 && cfg.WASIMode != WASIEnvoy133 {
		return cfg, fmt.Errorf("wasmhost: unknown %v", cfg.WASIMode)
	}
	if !cfg.NoCompilationCache && cfg.CompilationCacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		cfg.CompilationCacheDir = filepath.Join(base, "turnpike-wazero")
	}
	return cfg, nil
}

// tickFloor keeps a runaway tick period (1 ms) from starving request processing.
const tickFloor = time.Millisecond
