# Turnpike. `make run` starts it, `make test` runs every test. See README.md.

GO      ?= go
OUT     := build/out
WASM    := $(OUT)/filter.wasm
BINS    := turnpike-sidecar turnpike-gateway
# Go test flags; e.g. `make test TESTFLAGS=-race` or `TESTFLAGS='-run Quota -v'`.
TESTFLAGS ?=

.PHONY: all build wasm bins deps test lint bench run clean

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
	@echo "--- filter.wasm imports and exports"
	$(GO) test -count=1 -run 'TestABI' -v ./filter/ | grep -E '^(\s+abi_test|--- |ok|FAIL)' || true
	$(GO) test -count=1 $(TESTFLAGS) ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./shared/... ./filter/...

# Benchmarks run in `make bench`; `make test` runs each once so they cannot rot.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

run:
	@echo "make run: the quickstart arrives with issue 6 (sidecar + local gateway + filter.wasm)."
	@echo "Today: make build, then run build/out/bin/turnpike-sidecar --help and build/out/bin/turnpike-gateway --help."

clean:
	rm -rf $(OUT)
