# Turnpike. `make run` starts it, `make test` runs every test. See README.md.

GO      ?= go
OUT     := build/out
WASM    := $(OUT)/filter.wasm
# Go test flags; e.g. `make test TESTFLAGS=-race` or `TESTFLAGS='-run Quota -v'`.
TESTFLAGS ?=
# Redis URL for `make run`; empty: the sidecar's embedded in-memory store.
REDIS ?=

.PHONY: all build wasm bins deps test test-cluster test-sentinel fault lint bench bench-smoke run clean

all: build

build: wasm bins

# The filter: the standard Go toolchain, a WASI reactor (exports _initialize).
wasm:
	@mkdir -p $(OUT)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $(WASM) ./filter

bins:
	@mkdir -p $(OUT)/bin
	$(GO) build -trimpath -o $(OUT)/bin/turnpike-sidecar ./sidecar/cmd/turnpike-sidecar
	$(GO) build -trimpath -o $(OUT)/bin/turnpike-gateway ./tests/cmd/turnpike-gateway
	$(GO) build -trimpath -o $(OUT)/bin/turnpike-quickstart ./tests/cmd/turnpike-quickstart

# Tests use a real redis-server; install it when missing (Debian, as root).
deps:
	@command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"; \
	    exit 1; \
	  fi; }

test: deps lint build
	@echo "--- filter.wasm: imports, checked against proxy-wasm ABI 0.2.1 and WASI preview1"
	$(GO) test -count=1 -run '^TestWasmModuleMatchesABI$$' -v ./filter/
	$(GO) test -count=1 $(TESTFLAGS) $$($(GO) list ./... | grep -v '/tests/fault')
	@$(MAKE) --no-print-directory test-cluster
	@$(MAKE) --no-print-directory fault
	@echo "--- every benchmark once (-benchtime=1x), so none can rot"
	@$(MAKE) --no-print-directory bench-smoke

# The suites that use Redis, again against a Redis Cluster (3 masters, 3 replicas) or a Sentinel-managed
# Redis started by tests/testenv (TURNPIKE_TEST_REDIS). `make test` runs them against Cluster; the failover,
# crash and resharding tests of both topologies run once, in the standalone pass.
REDIS_SUITES := ./sidecar/... ./tests/e2e/
test-cluster: build
	@echo "--- the sidecar, filter-with-real-sidecar and e2e suites against Redis Cluster"
	TURNPIKE_TEST_REDIS=cluster $(GO) test -count=1 -timeout 20m $(TESTFLAGS) $(REDIS_SUITES)
	TURNPIKE_TEST_REDIS=cluster $(GO) test -count=1 $(TESTFLAGS) -run '^TestWithRealSidecarAndRedis$$' ./filter/

test-sentinel: build
	@echo "--- the sidecar, filter-with-real-sidecar and e2e suites against Redis Sentinel"
	TURNPIKE_TEST_REDIS=sentinel $(GO) test -count=1 -timeout 20m $(TESTFLAGS) $(REDIS_SUITES)
	TURNPIKE_TEST_REDIS=sentinel $(GO) test -count=1 $(TESTFLAGS) -run '^TestWithRealSidecarAndRedis$$' ./filter/

# The fault suite (tests/fault, about 2 minutes): real processes, real failures. Its numbers (requests
# sent, answers by status, longest wait, time to recover) are printed here; the full log is in
# build/out/fault-test.log. RELIABILITY.md collects them from one run.
FAULTLOG := $(OUT)/fault-test.log
fault: deps
	@mkdir -p $(OUT)
	@echo "--- fault suite (tests/fault): latency, resets, killed sidecars and Redis, AOF restart, WAIT"
	@$(GO) test -count=1 -v $(TESTFLAGS) ./tests/fault/... > $(FAULTLOG) 2>&1; rc=$$?; \
	  grep -E '^(=== RUN|--- |PASS|FAIL|ok )|^    [a-z_]+_test\.go:[0-9]+: ' $(FAULTLOG) | grep -v 'redis: '; \
	  if [ $$rc -ne 0 ]; then echo "fault suite failed; full log: $(FAULTLOG)"; tail -n 200 $(FAULTLOG); fi; \
	  exit $$rc

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./shared/... ./filter/...

# Benchmarks: the whole suite (Go benchmarks, gateway vs baselines, sidecar vs raw Redis, memory,
# accuracy) in a few minutes on 2 cores; writes BENCHMARKS.md from the numbers it measured.
# Longer runs: `make bench BENCHFLAGS='-duration 60s -benchtime 5s'`.
BENCHFLAGS ?=
bench: deps build
	$(GO) run ./tests/cmd/turnpike-bench -out BENCHMARKS.md $(BENCHFLAGS)

# Every Go benchmark once, so none can rot (make test / CI).
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime=1x ./...

# The quickstart (README.md): sidecar + demo upstream + gateway with filter.wasm on localhost:8080,
# Gateway API on localhost:8090. Ctrl-C stops it. `make run REDIS=redis://host:6379/0` uses a real Redis.
run: build
	@$(OUT)/bin/turnpike-quickstart $(if $(REDIS),--redis '$(REDIS)')

clean:
	rm -rf $(OUT)
